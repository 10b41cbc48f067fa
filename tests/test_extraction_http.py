"""Extraction through the real HTTP client against a loopback OpenAI-compatible server: the CLI,
20% injected faults, and killing the process mid-run then resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner
from conftest import REPO, TAU_BENCH

from tests.fakes import http_analyst_responder
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.cli import main
from trace2skill.ingest import import_paths
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store


def test_cli_extract_stores_grounded_lessons_and_counts_calls(tmp_path):
    db = str(tmp_path / "x.db")
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(TAU_BENCH), "--db", db]).exit_code == 0
    with FakeLLMServer(http_analyst_responder) as srv:
        args = ["extract", "--sample", "6", "--balance", "--base-url", srv.base_url, "--model", "fake",
                "--concurrency", "3", "--json", "--db", db]
        result = runner.invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["status"] == "done" and out["progress"]["done"] == 6 and out["estimate"]["calls"] == 6
        # each answer holds one lesson whose quote is nowhere in the run: flagged, and the report says so
        assert (out["lessons"], out["grounded_lessons"], out["flagged_lessons"]) == (12, 6, 6)
        assert srv.request_count == 6
        stats = json.loads(runner.invoke(main, ["stats", "--json", "--db", db]).output)
        assert stats["llm_calls"] == 6 and stats["lessons"]["proposed"] == 12 and stats["runs"] == 1
        grounded = json.loads(runner.invoke(main, ["lessons", "--json", "--db", db, "--limit", "100"]).output)
        assert sum(1 for lesson in grounded["lessons"] if lesson["grounded"]) == 6
        # the same extraction again is answered from the cache: no new request
        result = runner.invoke(main, args, catch_exceptions=False)
        assert json.loads(result.output)["progress"]["done"] == 6 and srv.request_count == 6
        result = runner.invoke(main, ["extract", "--sample", "1", "--seed", "7", "--base-url", srv.base_url,
                                      "--model", "fake", "--db", db], catch_exceptions=False)
        run_id = result.output.split("extraction run ", 1)[1].split(":", 1)[0]
        assert (f"2 lessons from this run (1 with evidence found in the trajectory; 1 with quality flags: "
                f"`trace2skill lessons --run {run_id}` says why)") in result.output, result.output


def test_twenty_percent_faults_end_done_or_failed_then_resume_completes(ws):
    import_paths(ws, [TAU_BENCH])
    ids = select_trajectories(ws, sample=40, seed=1)
    with FakeLLMServer(http_analyst_responder, fault_rate=0.2, seed=5, slow_s=3.0) as srv:
        config = LLMConfig(base_url=srv.base_url, model="fake", timeout_s=1.0, max_retries=1,
                           validation_retries=0, backoff_base_s=0.01, backoff_cap_s=0.05)
        client = LLMClient(ws, config)
        run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=8))
        progress = runs.execute(ws, run_id, client).progress
        assert progress.done + progress.failed == 40 and progress.queued == progress.running == 0
        assert srv.faults_injected > 0 and progress.failed > 0
        failed = run_store.list_items(ws.db, run_id, status="failed")
        assert all(item.error and item.attempts >= 1 for item in failed)
        lessons_per = dict(ws.db.execute("SELECT trajectory_id, count(*) FROM lessons GROUP BY trajectory_id").fetchall())
        assert all(lessons_per.get(i.item_id, 0) == 0 for i in failed)
        assert set(lessons_per.values()) == {2}
        srv.fault_rate = 0.0
        progress = runs.resume(ws, run_id, client).progress
        assert (progress.done, progress.failed) == (40, 0)
        assert ws.db.execute("SELECT count(*) FROM lessons").fetchone()[0] == 80  # no duplicates
        ok_calls = ws.db.execute("SELECT count(*), count(DISTINCT request_hash) FROM llm_calls WHERE error IS NULL").fetchone()
        assert ok_calls[0] == ok_calls[1] == 40  # each successful request exactly once


def test_an_item_whose_answers_are_unusable_fails_in_words_with_the_tokens_its_calls_used(ws):
    from trace2skill.llm.fake_server import MALFORMED_CONTENT

    import_paths(ws, [TAU_BENCH])
    ids = select_trajectories(ws, outcome="failure", limit=1)
    with FakeLLMServer(lambda request: MALFORMED_CONTENT) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake", validation_retries=1))
        run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=1))
        assert runs.execute(ws, run_id, client).progress.failed == 1
    [item] = run_store.list_items(ws.db, run_id, status="failed")
    assert item.error.startswith("error_analysis: no valid answer from fake after 2 attempts; last problem: ")
    assert "LLMResponseError" not in item.error  # the message says what happened; no class name in front
    used = ws.db.execute("SELECT sum(json_extract(usage, '$.prompt_tokens')), "
                         "sum(json_extract(usage, '$.completion_tokens')) FROM llm_calls WHERE item_id = ?",
                         [item.item_id]).fetchone()
    assert used[0] > 0 and (item.prompt_tokens, item.completion_tokens) == tuple(used)  # not 0: the calls were paid


def _done(db_path) -> int:
    ws = Workspace(db_path)
    try:
        return ws.db.execute("SELECT count(*) FROM run_items WHERE status = 'done'").fetchone()[0]
    finally:
        ws.close()


def test_kill_mid_run_then_resume_loses_nothing_and_repeats_no_finished_call(tmp_path):
    db = tmp_path / "kill.db"
    ws = Workspace(db)
    import_paths(ws, [TAU_BENCH])
    with FakeLLMServer(http_analyst_responder, latency_s=0.4) as srv:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, "-m", "trace2skill", "extract", "--outcome", "failure", "--limit",
                                 "16", "--concurrency", "2", "--base-url", srv.base_url, "--model", "fake", "--json",
                                 "--db", str(db)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while _done(db) < 4 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        [run] = run_store.list_runs(ws.db)
        done_before = {i.item_id for i in run_store.list_items(ws.db, run.id, status="done")}
        logged_before = {h for (h,) in ws.db.execute("SELECT request_hash FROM llm_calls WHERE error IS NULL")}
        lessons_before = {r[0] for r in ws.db.execute("SELECT id FROM lessons")}
        assert 4 <= len(done_before) < 16
        requests_before = srv.request_count

        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        progress = runs.resume(ws, run.id, client).progress
        assert progress.done == 16
        assert done_before <= {i.item_id for i in run_store.list_items(ws.db, run.id, status="done")}
        assert lessons_before <= {r[0] for r in ws.db.execute("SELECT id FROM lessons")}
        per_hash = ws.db.execute("SELECT request_hash, count(*) FROM llm_calls WHERE error IS NULL GROUP BY 1").fetchall()
        assert all(n == 1 for _, n in per_hash) and len(per_hash) == 16
        sent_after = [json.dumps(r["messages"]) for r in srv.requests[requests_before:]]
        assert len(sent_after) == 16 - len(logged_before)  # finished calls were not sent again
