"""Extract screen (AppTest): the selection and its estimate before starting, a run started in the
background against a real HTTP fake endpoint and its progress read back from the database,
cancel and resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fakes import http_analyst_responder
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.demo import load_demo
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import ModelPrice
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store import batches as batch_store
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import count_lessons
from trace2skill.ui.estimate import scaled_estimate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo() -> Workspace:
    ws = Workspace()
    load_demo(ws)
    return ws


@pytest.fixture
def endpoint(demo: Workspace):
    with FakeLLMServer(http_analyst_responder, model="fake") as server:
        set_setting(demo.db, "base_url", server.base_url)
        set_setting(demo.db, "model", "fake")
        yield server


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/extract.py")
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_selection_and_estimate_before_starting(demo: Workspace):
    at = _page()
    assert not at.exception
    m = _metrics(at)
    assert (m["Trajectories"], m["Analyst calls"]) == ("4", "4")  # 4 failures by default on the embedded model
    assert any(c.value.startswith("Time: about 2 minutes on this machine (52 s a call") for c in at.caption)
    assert int(m["Prompt tokens (est.)"].replace(",", "")) > 4 * 500
    assert m["Cost (est.)"] == "$0.0000"  # the embedded model is free (the price table prices the others)
    assert any("embedded SmolLM2-135M" in w.value for w in at.warning)  # no endpoint configured

    at.segmented_control(key="ext_outcome").set_value("success").run()
    at.number_input(key="ext_limit").set_value(0).run()
    assert _metrics(at)["Trajectories"] == "84"
    at.segmented_control(key="ext_analysts").set_value("error").run()
    assert (_metrics(at)["Trajectories"], _metrics(at)["Analyst calls"]) == ("84", "0")
    assert at.button(key="ext_start").disabled  # nothing would be analysed

    at.segmented_control(key="ext_analysts").set_value("both").run()
    at.segmented_control(key="ext_outcome").set_value("all").run()
    at.number_input(key="ext_sample").set_value(10).run()
    at.checkbox(key="ext_balance").check().run()
    assert _metrics(at)["Trajectories"] == "10"
    ids = select_trajectories(demo, outcome="all", sample=10, balance=True)
    outcomes = [r[0] for r in demo.db.execute(
        f"SELECT outcome FROM trajectories WHERE id IN ({', '.join('?' * len(ids))})", ids)]
    assert sorted(outcomes) == ["failure"] * 5 + ["success"] * 5

    at.number_input(key="ext_sample").set_value(0).run()
    at.selectbox(key="ext_signal").select("loop").run()
    assert _metrics(at)["Trajectories"] == "4"


def test_large_selections_are_estimated_from_a_sample(demo: Workspace):
    ids = select_trajectories(demo, outcome="all")
    config = ExtractionConfig()
    price = ModelPrice(prompt=1.0, completion=2.0)
    exact = scaled_estimate(demo, ids, config, price, exact_up_to=1000)
    sampled = scaled_estimate(demo, ids, config, price, exact_up_to=50)
    assert (exact["sampled"], sampled["sampled"]) == (0, 50)
    assert sampled["trajectories"] == exact["trajectories"] == 200
    assert sampled["calls"] == exact["calls"] == 200
    assert abs(sampled["prompt_tokens"] - exact["prompt_tokens"]) < 0.25 * exact["prompt_tokens"]
    assert sampled["estimated_cost_usd"] > 0


def test_start_a_run_and_see_its_progress(demo: Workspace, endpoint: FakeLLMServer):
    at = _page()
    at.number_input(key="ext_limit").set_value(3).run()
    at.number_input(key="ext_concurrency").set_value(2).run()
    assert _metrics(at)["Trajectories"] == "3"
    at.button(key="ext_start").click().run()
    assert not at.exception
    run_id = at.session_state["ext_run"]
    runs.wait(run_id, timeout=60)
    assert run_store.run_status(demo.db, run_id) == "done"
    run = run_store.get_run(demo.db, run_id)
    assert (run.config["base_url"], run.config["model"], run.config["concurrency"]) == (endpoint.base_url, "fake", 2)
    assert run.config["skill_version"]  # the demo's airline policy is the frozen starting skill
    assert len(endpoint.requests) == 3

    at.run()  # the panel reads the finished run from the database
    m = _metrics(at)
    assert (m["Done"], m["Failed"], m["Queued"]) == ("3", "0", "0")
    items = next(d.value for d in at.dataframe if "item" in d.value.columns)  # the run's items
    assert list(items["status"]) == ["done"] * 3
    assert all(items["prompt tokens"] > 0)
    assert any(f"Run {run_id}: done — 3 of 3 trajectories done" in p.text for p in at.get("progress"))
    assert items["attempts"].tolist() == [1, 1, 1]
    assert any("6 lessons so far" in c.value for c in at.caption)  # two per trajectory from the fake analyst
    assert at.button(key="ext_resume").disabled and at.button(key="ext_cancel").disabled

    fresh = _page()  # a new session (a reload) picks the latest run from the database
    assert fresh.selectbox(key="ext_run").value == run_id
    assert _metrics(fresh)["Done"] == "3"


def test_cancel_then_resume_finishes_without_redoing_work(demo: Workspace, endpoint: FakeLLMServer):
    ids = select_trajectories(demo, outcome="failure", limit=3)
    run_id = create_extraction_run(demo, ids, ExtractionConfig(base_url=endpoint.base_url, model="fake"))
    run_store.start_item(demo.db, run_id, ids[0])
    run_store.finish_item(demo.db, run_id, ids[0], "done", prompt_tokens=7)
    run_store.start_item(demo.db, run_id, ids[1])
    run_store.finish_item(demo.db, run_id, ids[1], "failed", error="LLMUnavailableError: HTTP 500 (test)")

    at = _page()
    assert at.selectbox(key="ext_run").value == run_id
    items = next(d.value for d in at.dataframe if "item" in d.value.columns)  # the run's items
    assert list(items["status"]) == ["done", "failed", "queued"]
    assert items["last error"][1] == "LLMUnavailableError: HTTP 500 (test)"
    at.button(key="ext_cancel").click().run()
    assert run_store.run_status(demo.db, run_id) == "cancelled"

    assert not at.button(key="ext_resume").disabled and at.button(key="ext_cancel").disabled
    at = _page()  # after a reload the buttons still say what can be done
    assert not at.button(key="ext_resume").disabled and at.button(key="ext_cancel").disabled
    at.button(key="ext_resume").click().run()
    runs.wait(run_id, timeout=60)
    p = run_store.run_progress(demo.db, run_id)
    assert (p.done, p.failed, p.total) == (3, 0, 3)
    assert len(endpoint.requests) == 2  # the finished item was not sent again
    assert count_lessons(demo.db) == 4
    at.run()
    assert _metrics(at)["Done"] == "3"


def test_retries_pace_and_eta_show_on_the_screen(demo: Workspace):
    """A run executing now (its heartbeat fresh, its process this one): an item retrying shows its
    attempts, last error and when it tries again; the run shows its pace and an ETA."""
    from trace2skill.runs.state import this_process

    ids = select_trajectories(demo, outcome="failure", limit=5)
    run_id = create_extraction_run(demo, ids, ExtractionConfig())
    run_store.mark_running(demo.db, run_id, this_process())
    for tid in ids[:2]:
        run_store.start_item(demo.db, run_id, tid)
        run_store.finish_item(demo.db, run_id, tid, "done")
    run_store.start_item(demo.db, run_id, ids[2])
    run_store.item_retrying(demo.db, run_id, ids[2], attempts=2, error="LLMUnavailableError: HTTP 429 (slow down)",
                            delay_s=40)
    at = _page()
    items = next(d.value for d in at.dataframe if "item" in d.value.columns)  # the run's items
    retrying = items[items["item"] == ids[2]].iloc[0]
    assert (retrying["status"], retrying["attempts"]) == ("running", 2)
    assert "HTTP 429" in retrying["last error"] and retrying["retry in"] in ("0m 40s", "0m 39s", "0m 38s")
    metrics = _metrics(at)
    assert metrics["Pace"].endswith(("/min", "/h")) and metrics["ETA"] != "-"
    assert not at.button(key="ext_cancel").disabled and at.button(key="ext_resume").disabled
    runs.cancel(demo, run_id)


def test_a_cancelled_runs_batch_the_endpoint_did_not_cancel_is_said(demo: Workspace):
    ids = select_trajectories(demo, outcome="failure", limit=2)
    run_id = create_extraction_run(demo, ids, ExtractionConfig(base_url="http://127.0.0.1:9/v1", model="fake"))
    left = batch_store.create_batch(demo.db, run_id=run_id, mode="api", custom_ids=["c1"], status="validating")
    batch_store.set_status(demo.db, left.id, "in_progress", remote_id="batch_left_1")
    taken = batch_store.create_batch(demo.db, run_id=run_id, mode="api", custom_ids=["c2"], status="validating")
    batch_store.set_status(demo.db, taken.id, "cancelling", remote_id="batch_taken_2")
    assert run_store.cancel_run(demo.db, run_id)  # cancelled while nothing executes it
    at = _page()
    assert at.selectbox(key="ext_run").value == run_id
    assert [w.value for w in at.warning if "still open at the endpoint" in w.value] == [
        "1 batch of this cancelled run is still open at the endpoint (it did not take the cancel): it may still "
        "run and be billed. Cancel it there (batch_left_1)."]
