"""The run engine against a real loopback endpoint with latency: Cancel stops every kind of run,
items already running included (no new request starts, running items end "cancelled" within
seconds, late answers are cached but not applied); counters, the run's state and the Home screen
agree; resume finishes each run with the same result as an uncancelled one; a cancel written by
another process is seen; retries show on their item; an executor that died is detected."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes import http_analyst_responder
from tests.helpers import WIKI, responder, table_with
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.consolidate.run import ConsolidationConfig, ConsolidationResult, create_consolidation_run
from trace2skill.demo import load_demo
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer, Fault
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.calls import count_calls
from trace2skill.store.lessons import LessonFilter, count_lessons, lesson_ids, list_lessons, set_status
from trace2skill.store.skills import get_version, import_skill

REPO = Path(__file__).resolve().parents[1]
LATENCY_S = 1.5


def _client(ws: Workspace, server: FakeLLMServer, **extra: float) -> LLMClient:
    return LLMClient(ws, LLMConfig(base_url=server.base_url, model="fake", **extra))


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _lesson_texts(ws: Workspace, run_id: str) -> list[tuple[str, str, str]]:
    return sorted((r.trajectory_id, r.title, r.content)
                  for r in list_lessons(ws.db, LessonFilter(run_id=run_id), limit=1000))


def test_cancel_an_extraction_with_items_in_flight_then_resume(ws, tmp_path):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=8)
    with FakeLLMServer(http_analyst_responder, latency_s=LATENCY_S) as server:
        client = _client(ws, server)
        run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=3))
        runs.start_background(ws, run_id, client)
        _wait_for(lambda: server.request_count >= 3 and run_store.run_progress(ws.db, run_id).running == 3)
        sent_at_cancel = server.request_count
        started = time.monotonic()
        runs.cancel(ws, run_id)
        runs.wait(run_id, timeout=10)
        assert time.monotonic() - started < 5  # the engine did not wait for the calls in flight
        time.sleep(LATENCY_S + 0.5)  # the abandoned calls answer meanwhile...
        assert server.request_count == sent_at_cancel  # ...and nothing new was sent
        state = runs.describe(ws, run_id)
        p = state.run.progress
        assert state.run.status == "cancelled" and not state.alive and state.can_resume and not state.can_cancel
        assert (p.running, p.queued, p.cancelled + p.done) == (0, 0, 8) and p.cancelled >= 3
        assert state.run.progress.fraction_done < 1.0  # never shown as 100 % done
        assert count_lessons(ws.db, LessonFilter(run_id=run_id)) == 2 * p.done  # late answers not applied
        # ...but they were logged, so resume does not pay for them again
        _wait_for(lambda: count_calls(ws.db, run_id=run_id)["sent"] == sent_at_cancel)

        resumed = runs.resume(ws, run_id, client)
        assert resumed.status == "done" and resumed.progress.done == 8
        assert server.request_count == 8  # each trajectory asked exactly once over both executions
        cancelled_then_resumed = _lesson_texts(ws, run_id)

        other = Workspace(tmp_path / "uncancelled.db")
        load_demo(other)
        straight = runs.execute(other, create_extraction_run(other, ids, ExtractionConfig(concurrency=3)),
                                _client(other, server))
    assert straight.status == "done"
    assert _lesson_texts(other, straight.id) == cancelled_then_resumed  # the same result as an uncancelled run


def test_home_and_the_extract_screen_agree_with_a_cancelled_run(ws_env):
    from streamlit.testing.v1 import AppTest

    ws = ws_env
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=4)
    run_id = create_extraction_run(ws, ids, ExtractionConfig())
    run_store.start_item(ws.db, run_id, ids[0])
    run_store.finish_item(ws.db, run_id, ids[0], "done")
    runs.cancel(ws, run_id)
    home = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    row = table_with(home, "progress")
    assert (row["status"][0], row["done"][0], row["cancelled"][0]) == ("cancelled", 1, 3)
    assert row["progress"][0] == pytest.approx(0.25)
    extract = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    extract.switch_page("views/extract.py")
    extract.run()
    metrics = {m.label: m.value for m in extract.metric}
    assert (metrics["Done"], metrics["Cancelled"]) == ("1", "3")
    assert any(f"Run {run_id}: cancelled — 1 of 4 trajectories done" in p.text for p in extract.get("progress"))
    assert extract.button(key="ext_cancel").disabled and not extract.button(key="ext_resume").disabled


@pytest.fixture
def ws_env() -> Workspace:
    ws = Workspace()  # the workspace the app opens (TRACE2SKILL_DB of this test)
    yield ws
    ws.close()


def _approved_workspace(ws: Workspace, server: FakeLLMServer, n: int) -> str:
    load_demo(ws)
    runs.execute(ws, create_extraction_run(ws, select_trajectories(ws, outcome="all", sample=n, seed=4),
                                           ExtractionConfig(concurrency=4)), _client(ws, server))
    set_status(ws.db, lesson_ids(ws.db), "approved")
    return import_skill(ws.db, SkillFolder.from_markdown("airline-policy", "How an airline agent must act.",
                                                         WIKI.read_text()))


def test_cancel_a_consolidation_mid_tree_then_resume(ws):
    with FakeLLMServer(responder) as server:
        base = _approved_workspace(ws, server, n=8)
        server.latency_s = LATENCY_S
        client = _client(ws, server)
        config = ConsolidationConfig(base_version=base, batch_size=2, embeddings=False, concurrency=2,
                                     skill_chars=20000)
        run_id = create_consolidation_run(ws, config)
        runs.start_background(ws, run_id, client)
        _wait_for(lambda: any(n["status"] == "running" for n in _nodes(ws, run_id)), timeout=60)
        time.sleep(0.5)  # the running merges' requests reach the server (each answers after LATENCY_S)
        sent_at_cancel = server.request_count
        runs.cancel(ws, run_id)
        runs.wait(run_id, timeout=10)
        time.sleep(LATENCY_S + 0.5)
        assert server.request_count == sent_at_cancel  # no merge started after the cancel
        run = run_store.get_run(ws.db, run_id)
        assert run.status == "cancelled" and not run.counters.get("version")
        statuses = {n["status"] for n in _nodes(ws, run_id)}
        assert "running" not in statuses and "cancelled" in statuses
        done_before = {(n["level"], n["idx"]) for n in _nodes(ws, run_id) if n["status"] == "done"}

        resumed = runs.resume(ws, run_id, client)
        assert resumed.status == "done", resumed.error
        after = {(n["level"], n["idx"]): n for n in _nodes(ws, run_id)}
        assert all(after[k]["status"] == "done" for k in done_before)  # finished merges were kept
        result = ConsolidationResult.from_counters(run_id, resumed.counters)

        straight = runs.execute(ws, create_consolidation_run(ws, ConsolidationConfig(
            base_version=base, batch_size=2, embeddings=False, concurrency=2, skill_chars=20000)), client)
    uncancelled = ConsolidationResult.from_counters(straight.id, straight.counters)
    assert get_version(ws.db, result.version).files == get_version(ws.db, uncancelled.version).files
    assert (result.levels, result.applied) == (uncancelled.levels, uncancelled.applied)


def _nodes(ws: Workspace, run_id: str) -> list[dict]:
    from trace2skill.store.patches import list_nodes

    return list_nodes(ws.db, run_id)


def test_a_cancel_from_another_process_stops_the_cli(tmp_path):
    db = tmp_path / "w.db"
    ws = Workspace(db)
    load_demo(ws)
    with FakeLLMServer(http_analyst_responder, latency_s=LATENCY_S) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cli = [sys.executable, "-m", "trace2skill"]
        proc = subprocess.Popen([*cli, "extract", "--outcome", "failure", "--limit", "12", "--concurrency", "2",
                                 "--base-url", server.base_url, "--model", "fake", "--db", str(db)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: server.request_count >= 2)
        [run] = run_store.list_runs(ws.db)
        assert runs.describe(ws, run.id).alive  # the other process's heartbeat is seen here
        cancel = subprocess.run([*cli, "cancel", run.id, "--db", str(db)], env=env, capture_output=True, text=True)
        assert cancel.returncode == 0 and "cancelled" in cancel.stdout and str(db) in cancel.stderr
        out, err = proc.communicate(timeout=15)  # the extraction ends within seconds, not after 12 calls
        assert server.request_count < 12
    run = run_store.get_run(ws.db, run.id)
    assert run.status == "cancelled" and run.progress.running == 0
    assert f"run {run.id}: cancelled" in out + err and f"trace2skill resume {run.id}" in err


def test_retries_show_attempts_last_error_and_when_the_item_retries(ws):
    load_demo(ws)
    [tid] = select_trajectories(ws, outcome="failure", limit=1)
    answers = iter([Fault(500, "upstream hiccup"), Fault(500, "upstream hiccup again")])

    def flaky(request):
        return next(answers, None) or http_analyst_responder(request)

    with FakeLLMServer(flaky) as server:
        client = _client(ws, server, backoff_base_s=2.0, backoff_cap_s=2.0, max_retries=3)
        run_id = create_extraction_run(ws, [tid], ExtractionConfig())
        runs.start_background(ws, run_id, client)
        _wait_for(lambda: (run_store.list_items(ws.db, run_id)[0].retry_at is not None))
        [item] = run_store.list_items(ws.db, run_id)
        assert item.status == "running" and item.attempts == 1 and "upstream hiccup" in (item.error or "")
        runs.wait(run_id, timeout=30)
    [item] = run_store.list_items(ws.db, run_id)
    assert (item.status, item.attempts, item.retry_at) == ("done", 3, None)
    state = runs.describe(ws, run_id)
    assert state.per_minute is not None and state.per_minute > 0


def test_pace_and_eta_while_a_run_goes(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=6)
    with FakeLLMServer(http_analyst_responder, latency_s=0.5) as server:
        run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=1))
        runs.start_background(ws, run_id, _client(ws, server))
        _wait_for(lambda: run_store.run_progress(ws.db, run_id).done >= 2)
        state = runs.describe(ws, run_id, running_here=runs.running_here(run_id))
        assert state.alive and state.per_minute and state.eta_s is not None and state.eta_s > 0
        runs.wait(run_id, timeout=30)


def test_an_executor_that_died_is_detected_and_the_run_resumable(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=2)
    run_id = create_extraction_run(ws, ids, ExtractionConfig())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_store.mark_running(ws.db, run_id, f"{os.uname().nodename}:{dead.pid}")
    state = runs.describe(ws, run_id)
    assert not state.alive and state.interrupted and state.can_resume and state.headline.startswith("interrupted")
    alive = f"{os.uname().nodename}:{os.getpid()}"
    run_store.mark_running(ws.db, run_id, alive)
    assert runs.describe(ws, run_id).alive
    with pytest.raises(Exception, match="running in another process|still running"):
        runs.resume(ws, run_id, None)


def test_consolidation_selects_lessons_by_id_in_one_query(ws):
    """Selecting lessons for a run is a set lookup in SQL, not a scan per lesson (bench has timings)."""
    from trace2skill.models import Lesson
    from trace2skill.store.lessons import approved_lessons, insert_lessons

    load_demo(ws)
    tid = ws.db.execute("SELECT id FROM trajectories LIMIT 1").fetchone()[0]
    insert_lessons(ws.db, [Lesson(id=f"L{k:05d}", trajectory_id=tid, kind="failure_lesson", title="t", content="c",
                                  status="approved" if k % 2 else "proposed") for k in range(2000)])
    chosen = [f"L{k:05d}" for k in range(0, 2000, 3)]
    found = [r.id for r in approved_lessons(ws.db, chosen)]
    assert found == [i for i in chosen if int(i[1:]) % 2]


def test_a_run_done_with_failed_items_says_so(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=2)
    run_id = create_extraction_run(ws, ids, ExtractionConfig())
    for item, status in zip(ids, ("done", "failed"), strict=True):
        run_store.start_item(ws.db, run_id, item)
        run_store.finish_item(ws.db, run_id, item, status, error="LLMResponseError: cut off" if status == "failed"
                              else None)
    run_store.finish_run(ws.db, run_id, "done")
    assert runs.describe(ws, run_id).headline == "done, 1 of 2 failed (Resume retries them)"
