"""Prefix-cache-friendly prompts (issue 14): every fan-out prompt starts with what all calls of a
run share (instructions, the frozen skill, the merger's ledger) and ends with the part of one item;
the loopback server reports `cached_tokens` for a repeated start, as OpenAI does; and a run's
cache hit rate is shown by the CLI and under the cost meter on the run panel."""

from __future__ import annotations

import json
import os.path
import re
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TAU_BENCH
from streamlit.testing.v1 import AppTest

from tests.fakes import ScriptedClient, http_analyst_responder
from tests.helpers import merging_operator, proposer
from trace2skill import costs, runs
from trace2skill.analysis.analysts import ANALYSTS, PromptBudget, build_messages, shared_skill
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.cli import main
from trace2skill.consolidate.propose import propose_patch
from trace2skill.consolidate.tree import ledger_context, merge_group
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.ingest import import_paths
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.llm.prefix_cache import PromptCache
from trace2skill.models import Edit, Lesson, Patch, RunSpend, TokenUsage
from trace2skill.store import Workspace
from trace2skill.store.calls import list_calls, run_usage
from trace2skill.store.skills import folder_of, latest_version
from trace2skill.store.trajectories import get_trajectory

REPO = Path(__file__).resolve().parents[1]
SMALL_SKILL = "---\nname: airline\ndescription: Airline rules.\n---\n# Airline\n\n## Cancel flight\n\n- Ask first.\n"


def _shared_start(a: list[dict[str, str]], b: list[dict[str, str]]) -> str:
    """The start two requests share, read as one text (messages in order)."""
    def text(messages: list[dict[str, str]]) -> str:
        return "".join(f"\x1e{m['role']}\x1f{m['content']}" for m in messages)

    return os.path.commonprefix([text(a), text(b)])


def _failures(ws: Workspace, n: int = 2) -> list:
    return [get_trajectory(ws.db, i) for i in select_trajectories(ws, outcome="failure", limit=n)]


# --------------------------------------------------------------------------- the prompts


def test_two_analyst_prompts_of_a_run_share_a_start_holding_the_whole_skill(ws):
    load_demo(ws)
    first, second = _failures(ws)
    assert first.task != second.task
    demo_md = folder_of(latest_version(ws.db, DEMO_SKILL)).skill_md()
    for skill_md, budget in ((SMALL_SKILL, PromptBudget()), (demo_md, PromptBudget()), (demo_md, PromptBudget(4000))):
        a = build_messages(ANALYSTS["error"], first, skill_md, 3, budget)
        b = build_messages(ANALYSTS["error"], second, skill_md, 3, budget)
        assert a[0] == b[0]  # the system prompt: instructions
        shown = shared_skill(skill_md, budget)
        start = _shared_start(a, b)
        assert shown in start and start.index(shown) < start.index("# Task")  # the task comes after
        if len(skill_md) <= budget.skill:
            assert skill_md in start  # the whole SKILL.md, byte for byte
    assert len(demo_md) > PromptBudget().skill and "Section index" in shared_skill(demo_md)  # over budget: the index


def test_the_analyst_input_puts_the_skill_before_the_parts_of_one_run(ws):
    load_demo(ws)
    [t] = _failures(ws, 1)
    user = build_messages(ANALYSTS["error"], t, SMALL_SKILL, 3)[1]["content"]
    order = [user.index(h) for h in ("# Current skill", "# Task", "# Outcome", "# Deterministic signals",
                                     "# Ground truth", "<trajectory>")]
    assert order == sorted(order) and order[0] == 0


def _lesson(n: int, trajectory: str) -> Lesson:
    return Lesson(id=f"l{n}", trajectory_id=trajectory, kind="failure_lesson", title="Confirm details first",
                  content=f"When a user asks for change {n}, confirm it first, because it cannot be undone.")


def test_proposals_and_merges_of_a_run_share_a_start_holding_the_skill_and_the_ledger(ws):
    load_demo(ws)
    files = folder_of(latest_version(ws.db, DEMO_SKILL)).as_files()
    skill_block = f'<file path="SKILL.md">\n{files["SKILL.md"]}\n</file>'
    client = ScriptedClient(proposer)
    propose_patch(client, "run", "t1", [_lesson(1, "t1")], files)
    propose_patch(client, "run", "t2", [_lesson(2, "t2")], files)
    a, b = client.calls
    start = _shared_start(a, b)
    assert a[0] == b[0] and skill_block in start and "change 1" not in start  # the lessons come after

    merges = ScriptedClient(merging_operator)
    rejected = ["Refund every cancelled ticket at once.", "Skip the confirmation for regular customers."]
    for idx in range(2):
        patches = [Patch(id=f"p{idx}{k}", edits=[Edit(id=f"e{idx}{k}", op="append_to_section", section="Cancel flight",
                                                      content=f"- Rule {idx}.{k}.", support=[f"l{k}"])])
                   for k in range(2)]
        merge_group(merges, "run", 1, idx, patches, files, lambda e: 1, rejected=rejected)
    a, b = merges.calls
    start = _shared_start(a, b)
    ledger = ledger_context(rejected).strip()
    assert skill_block in start and ledger in start and start.index(skill_block) < start.index(ledger)
    assert "Rule 0.0" not in start and a[1]["content"].index(ledger) < a[1]["content"].index("<edits>\n")


# --------------------------------------------------------------------------- the loopback server's prompt cache


def _messages(system: str, user: str, role: str = "user") -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": role, "content": user}]


def test_the_prompt_cache_counts_a_shared_start_across_message_boundaries():
    cache = PromptCache()
    system, shared = "Instructions. " * 100, "The frozen skill text. " * 100
    assert cache.lookup_and_add(_messages(system, shared + "Task one: refund.")) == 0  # nothing seen yet
    got = cache.lookup_and_add(_messages(system, shared + "Task two: rebook."))
    assert got == (len(system) + len(shared) + len("Task ")) // 4  # to the character, inside the user message
    repeat = _messages(system, shared + "Task two: rebook.")
    assert cache.lookup_and_add(repeat) == (len(system) + len(shared) + len("Task two: rebook.")) // 4
    assert cache.lookup_and_add(_messages(system, shared, role="assistant")) == len(system) // 4  # another role
    assert cache.lookup_and_add(_messages(system, shared), model="other-model") == 0  # another model's cache
    assert cache.lookup_and_add([{"role": "system", "content": "Different. " + system}]) == 0


def test_the_prompt_cache_rounds_like_openai():
    cache = PromptCache(block_tokens=128, min_tokens=1024)
    short, long = "a" * 3000, "b" * 6000  # 750 and 1,500 tokens
    cache.lookup_and_add(_messages(short, "one"))
    assert cache.lookup_and_add(_messages(short, "two")) == 0  # under 1,024 tokens nothing is cached
    cache.lookup_and_add(_messages(long, "one"))
    assert cache.lookup_and_add(_messages(long, "two")) == 1408  # 1,500 tokens rounded down to 11 × 128
    with pytest.raises(ValueError):
        PromptCache(block_tokens=0)


def _post(srv: FakeLLMServer, messages: list[dict[str, str]]) -> dict:
    request = urllib.request.Request(f"{srv.base_url}/chat/completions", method="POST",
                                     data=json.dumps({"model": "fake", "messages": messages}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["usage"]


def test_the_loopback_server_reports_cached_tokens_as_openai_does():
    system = "You are a careful analyst. " * 200  # 5,400 characters: 1,350 tokens
    with FakeLLMServer(prompt_cache=True, cache_block_tokens=128, cache_min_tokens=1024) as srv:
        first = _post(srv, _messages(system, "first"))
        second = _post(srv, _messages(system, "second"))
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["prompt_tokens_details"]["cached_tokens"] == 1280 <= second["prompt_tokens"]
    with FakeLLMServer() as srv:  # no prompt cache: no details, as before
        _post(srv, _messages(system, "first"))
        assert "prompt_tokens_details" not in _post(srv, _messages(system, "second"))


# --------------------------------------------------------------------------- the hit rate of a run


def test_cache_hit_rate_and_its_plain_words():
    assert costs.cache_hit_rate(RunSpend()) is None and costs.cache_line(RunSpend()) == ""
    spend = RunSpend(prompt_tokens=12_900, cached_tokens=8_000, completion_tokens=100)
    assert costs.cache_hit_rate(spend) == pytest.approx(8_000 / 12_900)
    assert costs.cache_line(spend) == "62% of prompt tokens came from the endpoint's cache (8,000 of 12,900)"
    assert costs.cache_line(TokenUsage(prompt_tokens=10)).startswith("no prompt tokens came from the endpoint's cache")
    assert costs.cache_hit_rate(TokenUsage(prompt_tokens=10, cached_tokens=50)) == 1.0


def test_an_extraction_with_a_skill_takes_its_shared_start_from_the_cache(ws):
    load_demo(ws)
    skill_md = folder_of(latest_version(ws.db, DEMO_SKILL)).skill_md()
    ids = select_trajectories(ws, outcome="failure", limit=4)
    with FakeLLMServer(http_analyst_responder, prompt_cache=True) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        config = ExtractionConfig(concurrency=1, max_tokens=300, base_url=srv.base_url, model="fake",
                                  skill_text=skill_md)
        run = runs.execute(ws, create_extraction_run(ws, ids, config), client)
        sent = list(srv.requests)
    assert run.status == "done" and len(sent) == 4
    shared = len(sent[0]["messages"][0]["content"]) + len(shared_skill(skill_md))  # system prompt + skill
    cached = sorted(int(c.usage.get("cached_tokens") or 0) for c in list_calls(ws.db, run_id=run.id))
    assert cached[0] == 0 and all(c >= shared // 4 for c in cached[1:])  # all but the first call
    [usage] = run_usage(ws.db, run.id)
    assert usage.cached_tokens == sum(cached)
    rate = costs.cache_hit_rate(costs.run_spend(ws.db, run.id))
    assert rate == pytest.approx(usage.cached_tokens / usage.prompt_tokens)
    assert rate >= 3 * (shared // 4) / usage.prompt_tokens > 0.2


def test_the_cli_prints_a_runs_cache_hit_rate(tmp_path):
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(TAU_BENCH), "--db", db]).exit_code == 0
    with FakeLLMServer(http_analyst_responder, prompt_cache=True) as srv:
        common = ["--base-url", srv.base_url, "--model", "fake", "--db", db]
        text = runner.invoke(main, ["extract", "--outcome", "failure", "--limit", "3", "--max-tokens", "300",
                                    "--concurrency", "1", *common], catch_exceptions=False)
        as_json = runner.invoke(main, ["extract", "--outcome", "success", "--limit", "2", "--max-tokens", "300",
                                       "--concurrency", "1", "--json", *common], catch_exceptions=False)
    assert text.exit_code == 0, text.output
    assert re.search(r"^prompt cache: \d+% of prompt tokens came from the endpoint's cache \([\d,]+ of [\d,]+\)$",
                     text.stdout, re.MULTILINE)
    rate = json.loads(as_json.stdout)["cache_hit_rate"]
    assert 0 < rate < 1
    logged = runner.invoke(main, ["logs", "--db", db, "--limit", "20"])
    assert re.search(r"\d+\+\d+ tokens \(\d+ cached\)", logged.output)


def test_the_run_panel_says_how_much_came_from_the_cache():
    ws = Workspace()  # the app's workspace (TRACE2SKILL_DB of this test)
    import_paths(ws, [TAU_BENCH])
    with FakeLLMServer(http_analyst_responder, prompt_cache=True) as srv:
        ids = select_trajectories(ws, outcome="failure", limit=3)
        config = ExtractionConfig(concurrency=1, max_tokens=300, base_url=srv.base_url, model="fake")
        run = runs.execute(ws, create_extraction_run(ws, ids, config),
                           LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake")))
    expected = costs.cache_line(costs.run_spend(ws.db, run.id))
    assert expected and "came from the endpoint's cache" in expected
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/extract.py")
    at.run()
    assert not at.exception
    assert any(c.value == expected[:1].upper() + expected[1:] + "." for c in at.caption)
