"""Cost limits: the price table (prompt / cached prompt / completion per 1M tokens), cached prompt
tokens recorded from the endpoint and priced, the estimate priced from the same table, and a run's
budget — it stops ("stopped") before the next call would exceed it, with nothing lost, and resumes
once raised — against the loopback OpenAI-compatible server, from the library and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TAU_BENCH
from streamlit.testing.v1 import AppTest

from tests.fakes import http_analyst_responder
from tests.helpers import http_responder, seed_lessons
from trace2skill import costs, runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, estimate, select_trajectories
from trace2skill.cli import main
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
from trace2skill.demo import DEMO_SKILL
from trace2skill.errors import SettingsError
from trace2skill.ingest import import_paths
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import ModelPrice, RunBudget, TokenUsage
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.calls import run_usage
from trace2skill.store.skills import latest_version, list_proposals

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tau(ws: Workspace) -> Workspace:
    import_paths(ws, [TAU_BENCH])
    return ws


def _client(ws: Workspace, srv: FakeLLMServer) -> LLMClient:
    return LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))


def _run(ws: Workspace, srv: FakeLLMServer, n: int, *, concurrency: int = 2, **budget) -> str:
    ids = select_trajectories(ws, outcome="failure", limit=n)
    run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=concurrency, max_tokens=300,
                                                             base_url=srv.base_url, model="fake"))
    if budget:
        runs.set_budget(ws, run_id, **budget)
    return run_id


def _lessons_per_item(ws: Workspace) -> dict[str, int]:
    return dict(ws.db.execute("SELECT trajectory_id, count(*) FROM lessons GROUP BY trajectory_id").fetchall())


# --------------------------------------------------------------------------- prices


def test_pricing_arithmetic_with_cached_tokens(monkeypatch):
    price = ModelPrice(prompt=2.0, cached_prompt=0.5, completion=8.0)
    usage = {"prompt_tokens": 1_000_000, "cached_tokens": 400_000, "completion_tokens": 500_000}
    assert costs.usage_cost(usage, price) == pytest.approx(0.6 * 2.0 + 0.4 * 0.5 + 0.5 * 8.0)  # 5.4
    assert costs.usage_cost({"prompt_tokens": 100, "cached_tokens": 500}, price) == pytest.approx(100 * 0.5 / 1e6)
    table = {"gpt-x": price}
    assert costs.price_usage(usage, "gpt-x", table) == pytest.approx(5.4)
    assert costs.price_usage(usage, "unknown", table) is None
    monkeypatch.setattr(costs, "embedded_model_name", lambda: "SmolLM2-135M-Instruct.Q4_1")
    assert costs.price_usage(usage, "SmolLM2-135M-Instruct.Q4_1", table) == 0.0  # the embedded model is free
    spend = costs.spend_of([TokenUsage(model="gpt-x", **usage), TokenUsage(model="other", prompt_tokens=10)], table,
                           RunBudget(tokens=3_000_000))
    assert spend.tokens == 1_500_010 and spend.cached_tokens == 400_000 and spend.unpriced == ["other"]
    assert spend.usd == pytest.approx(5.4)
    assert costs.spend_line(spend).startswith("1,500,010 tokens (1,000,010 prompt, 400,000 cached, 500,000 "
                                              "completion) of 3,000,000 · $5.4000")


def test_price_table_is_stored_checked_and_removed(ws: Workspace, monkeypatch):
    monkeypatch.setattr(costs, "embedded_model_name", lambda: "SmolLM2-135M-Instruct.Q4_1")
    costs.set_price(ws.db, "gpt-x", prompt="2.5", completion=10)
    costs.set_price(ws.db, "gpt-y", prompt=1, completion=4, cached_prompt="$0.25")
    assert costs.get_prices(ws.db) == {"gpt-x": ModelPrice(prompt=2.5, cached_prompt=2.5, completion=10.0),
                                       "gpt-y": ModelPrice(prompt=1.0, cached_prompt=0.25, completion=4.0)}
    for bad, fragment in (("abc", "must be a number"), ("-1", "zero or more"), ("nan", "zero or more")):
        with pytest.raises(SettingsError, match=fragment):
            costs.set_price(ws.db, "gpt-z", prompt=bad, completion=1)
    with pytest.raises(SettingsError, match="always free"):
        costs.set_price(ws.db, "SmolLM2-135M-Instruct.Q4_1", prompt=1, completion=1)
    with pytest.raises(SettingsError, match="listed twice"):
        costs.replace_prices(ws.db, [{"model": "a", "prompt": 1}, {"model": "a", "prompt": 2}])
    with pytest.raises(SettingsError, match="a prompt price must be zero or more"):
        costs.replace_prices(ws.db, [{"model": "a", "prompt": -3}])
    assert set(costs.get_prices(ws.db)) == {"gpt-x", "gpt-y"}  # nothing stored by the failed saves
    costs.remove_price(ws.db, "gpt-x")
    assert set(costs.get_prices(ws.db)) == {"gpt-y"}
    table = costs.replace_prices(ws.db, [{"model": "m", "prompt": 3.0, "cached_prompt": float("nan"),
                                          "completion": None}, {"model": None}])
    assert table == {"m": ModelPrice(prompt=3.0, cached_prompt=3.0, completion=0.0)}


def test_cached_prompt_tokens_are_recorded_and_priced(ws: Workspace):
    with FakeLLMServer(prompt_cache=True) as srv:  # answers an example of the schema; reports cached prefixes
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        run_id = runs.create(ws, "extraction", {}, [])
        system = {"role": "system", "content": "You are a careful analyst. " * 40}
        for question in ("first question", "second question"):
            client.structured([system, {"role": "user", "content": question}], ModelPrice,
                              schema_name="price", run_id=run_id)
        assert srv.request_count == 2
    first, second = [u for (u,) in ws.db.execute("SELECT usage FROM llm_calls ORDER BY rowid")]
    assert "cached_tokens" not in json.loads(first)
    assert json.loads(second)["cached_tokens"] == len(system["content"]) // 4  # the repeated system prompt
    [usage] = run_usage(ws.db, run_id)
    assert usage.calls == 2 and usage.cached_tokens == len(system["content"]) // 4
    costs.set_price(ws.db, "fake", prompt=10, cached_prompt=1, completion=30)
    spend = costs.run_spend(ws.db, run_id)
    expected = costs.usage_cost(usage, ModelPrice(prompt=10, cached_prompt=1, completion=30))
    assert spend.usd == pytest.approx(expected) and spend.cached_tokens == usage.cached_tokens
    assert spend.usd < costs.usage_cost(usage.model_copy(update={"cached_tokens": 0}),
                                        ModelPrice(prompt=10, cached_prompt=1, completion=30))


def test_estimate_is_priced_from_the_table(tau: Workspace):
    ids = select_trajectories(tau, outcome="failure", limit=5)
    config = ExtractionConfig(max_tokens=400, base_url="http://127.0.0.1:9/v1", model="gpt-x")
    llm = LLMConfig(base_url="http://127.0.0.1:9/v1", model="gpt-x")
    assert costs.config_price(tau.db, llm) is None
    unpriced = estimate(tau, ids, config, costs.config_price(tau.db, llm))
    assert (unpriced["priced"], unpriced["estimated_cost_usd"]) == (False, 0.0)
    costs.set_price(tau.db, "gpt-x", prompt=3, completion=15)
    plan = estimate(tau, ids, config, costs.config_price(tau.db, llm))
    usage = {"prompt_tokens": plan["prompt_tokens"], "completion_tokens": plan["max_completion_tokens"]}
    assert plan["priced"] and plan["estimated_cost_usd"] == pytest.approx(
        costs.usage_cost(usage, ModelPrice(prompt=3, completion=15)), abs=1e-6)
    assert costs.config_price(tau.db, LLMConfig()) == costs.FREE  # the embedded model


# --------------------------------------------------------------------------- budgets


def test_token_budget_stops_the_run_cleanly_then_raising_it_resumes(tau: Workspace):
    with FakeLLMServer(http_analyst_responder, prompt_cache=True) as srv:
        client = _client(tau, srv)
        run_id = _run(tau, srv, 8, concurrency=3, tokens=12_000)
        run = runs.execute(tau, run_id, client)
        assert run.status == "stopped"
        assert run.error.startswith("stopped: budget — spent ") and run.error.endswith(
            " of 12,000 tokens; raise the budget and resume")
        p = run.progress
        assert 0 < p.done < 8 and p.queued == 8 - p.done and p.running == p.failed == p.cancelled == 0
        spend = runs.spend(tau, run)
        assert 0 < spend.tokens <= 12_000  # the calls never went past the budget
        assert srv.request_count == p.done  # no request was started for an item left queued
        done = {i.item_id for i in run_store.list_items(tau.db, run_id, status="done")}
        assert _lessons_per_item(tau) == dict.fromkeys(done, 2)  # done items keep theirs; nothing half-written
        assert runs.describe(tau, run_id).can_resume

        again = runs.resume(tau, run_id, client)  # not raised: stops again at once, sends nothing
        assert again.status == "stopped" and srv.request_count == p.done and again.progress.done == p.done

        run = runs.set_budget(tau, run_id, tokens=1_000_000)
        assert runs.budget_of(run.config) == RunBudget(tokens=1_000_000)
        run = runs.resume(tau, run_id, client)
        assert (run.status, run.progress.done, run.error) == ("done", 8, None)
        assert srv.request_count == 8  # each item's call sent once: no finished call repeated
        ok = tau.db.execute("SELECT count(*), count(DISTINCT request_hash) FROM llm_calls WHERE error IS NULL").fetchone()
        assert ok == (8, 8)
        assert set(_lessons_per_item(tau).values()) == {2} and len(_lessons_per_item(tau)) == 8
        assert runs.spend(tau, run).cached_tokens > 0  # the repeated system prompt came from the prompt cache


def test_money_budget_stops_at_its_price_and_an_unpriced_model_stops_at_once(tau: Workspace):
    with FakeLLMServer(http_analyst_responder) as srv:
        client = _client(tau, srv)
        costs.set_price(tau.db, "fake", prompt=100, completion=400)  # per 1M tokens
        run = runs.execute(tau, _run(tau, srv, 6, usd=1.0), client)
        assert run.status == "stopped" and " of $1.0000; raise the budget and resume" in run.error
        spend = runs.spend(tau, run)
        assert 0 < spend.usd <= 1.0 and 0 < run.progress.done < 6

        costs.remove_price(tau.db, "fake")
        sent = srv.request_count
        run = runs.resume(tau, run.id, client)
        assert run.status == "stopped" and "no price for model fake" in run.error
        assert srv.request_count == sent


def test_a_budget_lower_than_one_call_sends_nothing(tau: Workspace):
    with FakeLLMServer(http_analyst_responder) as srv:
        run = runs.execute(tau, _run(tau, srv, 3, tokens=50), _client(tau, srv))
        assert run.status == "stopped" and run.progress.queued == 3 and srv.request_count == 0
        assert run.error == "stopped: budget — spent 0 of 50 tokens; raise the budget and resume"


def test_consolidation_stops_mid_tree_with_no_fallback_and_resumes(ws: Workspace):
    seed_lessons(ws, 6)
    with FakeLLMServer(http_responder) as srv:
        config = ConsolidationConfig(base_version=latest_version(ws.db, DEMO_SKILL).id, batch_size=2, embeddings=False,
                                     skill_chars=20000, base_url=srv.base_url, model="fake", concurrency=2)
        run_id = create_consolidation_run(ws, config)
        runs.set_budget(ws, run_id, tokens=14_000)  # the proposals and some of the merges (~2,300 tokens a call)
        client = _client(ws, srv)
        run = runs.execute(ws, run_id, client)
        assert run.status == "stopped" and runs.spend(ws, run).tokens <= 14_000
        nodes = [status for (status,) in ws.db.execute("SELECT status FROM merge_nodes WHERE run_id = ?", [run_id])]
        assert set(nodes) == {"done", "queued"}  # no fallback or failed merge stored for a refused call
        assert list_proposals(ws.db, run_id=run_id) == []
        sent = srv.request_count
        runs.set_budget(ws, run_id, tokens=1_000_000)
        run = runs.resume(ws, run_id, client)
        assert run.status == "done" and list_proposals(ws.db, run_id=run_id)
        assert srv.request_count > sent
        ok = ws.db.execute("SELECT count(*), count(DISTINCT request_hash) FROM llm_calls WHERE error IS NULL").fetchone()
        assert ok[0] == ok[1] == srv.request_count  # no finished call repeated


# --------------------------------------------------------------------------- the CLI


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_budget_tokens_stop_then_runs_budget_and_resume_finish(tmp_path):
    db = str(tmp_path / "cli.db")
    assert _cli("import", str(TAU_BENCH), "--db", db).exit_code == 0
    with FakeLLMServer(http_analyst_responder) as srv:
        common = ["--base-url", srv.base_url, "--model", "fake", "--db", db]
        result = _cli("extract", "--outcome", "failure", "--limit", "6", "--max-tokens", "300", "--concurrency", "2",
                      "--budget-tokens", "9000", *common)
        assert result.exit_code == 1, result.output
        assert "error: stopped: budget — spent " in result.stderr and "of 9,000 tokens" in result.stderr
        assert "trace2skill resume" in result.stderr and "spent: " in result.stdout
        run = run_store.list_runs(Workspace(db).db)[0]
        assert run.status == "stopped" and run.progress.done < 6
        listed = _cli("runs", "--db", db)
        assert "stopped: budget" in listed.output

        raised = _cli("runs", "budget", run.id[:10], "--tokens", "1000000", "--db", db)
        assert raised.exit_code == 0 and "budget 1,000,000 tokens" in raised.stdout
        resumed = _cli("resume", run.id, "--json", "--db", db)
        assert resumed.exit_code == 0, resumed.output
        out = json.loads(resumed.stdout)
        assert out["status"] == "done" and out["progress"]["done"] == 6
        assert out["spend"]["budget"] == {"tokens": 1_000_000, "usd": None} and out["spend"]["tokens"] > 9000
        assert srv.request_count == 6


def test_cli_resume_raises_the_budget_and_money_budgets_need_a_price(tmp_path):
    db = str(tmp_path / "cli.db")
    assert _cli("import", str(TAU_BENCH), "--db", db).exit_code == 0
    with FakeLLMServer(http_analyst_responder) as srv:
        common = ["--base-url", srv.base_url, "--model", "fake", "--db", db]
        refused = _cli("extract", "--limit", "2", "--budget-usd", "0.5", *common)
        assert refused.exit_code == 2 and "a money budget needs a price for model fake" in refused.stderr
        assert run_store.list_runs(Workspace(db).db) == []  # refused before any run was created
        assert _cli("settings", "price", "fake", "--prompt", "1", "--completion", "2", "--db", db).exit_code == 0
        estimate_out = _cli("extract", "--limit", "2", "--estimate", *common)
        assert "about $0.00" in estimate_out.stdout
        stopped = _cli("extract", "--outcome", "failure", "--limit", "3", "--budget-usd", "0.000001", *common)
        assert stopped.exit_code == 1 and "stopped: budget — spent $0.0000 of $0.000001" in stopped.stderr
        run_id = run_store.list_runs(Workspace(db).db)[0].id
        resumed = _cli("resume", run_id, "--budget-usd", "5", "--db", db)
        assert resumed.exit_code == 0, resumed.output
        assert "spent: " in resumed.stdout and "of $5.0000" in resumed.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["settings", "price", "m", "--prompt", "abc", "--completion", "1"], "the prompt price must be a number"),
    (["settings", "price", "m", "--prompt", "-1", "--completion", "1"], "must be zero or more"),
    (["settings", "price", "m", "--prompt", "1", "--completion", "1", "--cached", "x"], "cached prompt price"),
    (["settings", "price", "m", "--prompt", "1"], "give --prompt and --completion"),
    (["settings", "price", "nope", "--remove"], "no price for model 'nope'"),
    (["runs", "budget", "nope", "--tokens", "5"], "no run with id 'nope'"),
    (["extract", "--budget-tokens", "0"], "0 is not in the range x>=1"),
])
def test_cli_price_and_budget_errors_are_one_line(tmp_path, args, fragment):
    result = _cli(*args, "--db", str(tmp_path / "e.db"))
    assert result.exit_code == 2 and fragment in result.stderr, result.output
    assert "Traceback" not in result.output


def test_cli_settings_shows_the_price_table(tmp_path):
    db = str(tmp_path / "p.db")
    assert _cli("settings", "price", "gpt-x", "--prompt", "2.5", "--cached", "1.25", "--completion", "10",
                "--db", db).exit_code == 0
    shown = _cli("settings", "--db", db)
    assert "gpt-x" in shown.stdout and "1.25" in shown.stdout
    data = json.loads(_cli("settings", "--json", "--db", db).stdout)
    assert data["prices"] == {"gpt-x": {"prompt": 2.5, "cached_prompt": 1.25, "completion": 10.0}}
    assert _cli("settings", "price", "gpt-x", "--remove", "--db", db).exit_code == 0
    assert json.loads(_cli("settings", "--json", "--db", db).stdout)["prices"] == {}


# --------------------------------------------------------------------------- the app


def test_home_shows_prices_and_a_stopped_run_with_its_spend():
    ws = Workspace()
    import_paths(ws, [TAU_BENCH])
    costs.set_price(ws.db, "fake", prompt=1, completion=2)
    with FakeLLMServer(http_analyst_responder) as srv:
        run = runs.execute(ws, _run(ws, srv, 3, tokens=50), _client(ws, srv))
    assert run.status == "stopped"
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    recent = at.dataframe[0].value  # the recent runs
    assert recent.loc[0, "status"] == "stopped: budget (raise it and resume)"
    assert recent.loc[0, "spent"] == "0 tok · $0.0000"
    assert list(at.dataframe(key="home_prices").value["model"]) == ["fake"]


def test_run_panel_shows_the_cost_meter_and_the_budget_form():
    ws = Workspace()
    import_paths(ws, [TAU_BENCH])
    with FakeLLMServer(http_analyst_responder) as srv:
        run = runs.execute(ws, _run(ws, srv, 4, tokens=12_000), _client(ws, srv))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/extract.py")
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Prompt tokens"].replace(",", "")) > 0 and metrics["Budget"] == "12,000 tokens"
    assert any("stopped: budget — spent" in w.value for w in at.warning)
    at.number_input(key="ext_run_budget_tokens").set_value(1_000_000)
    at.button(key="ext_run_budget_save").click().run()
    assert runs.budget_of(run_store.get_run(ws.db, run.id).config) == RunBudget(tokens=1_000_000)
