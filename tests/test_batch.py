"""Batch mode against the loopback server's batch API (/v1/files, /v1/batches) and through batch
files in the `vllm run-batch` format: every stage that fans out (extraction, patch proposals, each
level of the merge tree) sends its requests as batches, nothing live; a resumed run sends nothing
twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from tests.fakes import http_analyst_responder
from tests.helpers import DEMO_SKILL, responder, seed_lessons
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.cli import main
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
from trace2skill.costs import set_price
from trace2skill.demo import load_demo
from trace2skill.ingest import import_paths
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.batch import BatchOptions
from trace2skill.llm.fake_server import FakeLLMServer, Fault
from trace2skill.runs.batch_mode import set_batch
from trace2skill.store import Workspace
from trace2skill.store import batches as batch_store
from trace2skill.store.lessons import lesson_ids, set_status
from trace2skill.store.runs import get_run
from trace2skill.store.skills import latest_version

FAST = {"gather_s": 0.5, "poll_s": 0.1}


def _chat_trajectories(path, n: int) -> None:
    """`n` small OpenAI-chat trajectories, half of them failures."""
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps({
                "id": f"chat-{i}", "outcome": "failure" if i % 2 else "success",
                "messages": [
                    {"role": "user", "content": f"Please change the seat on reservation R{i:04d} to an aisle seat."},
                    {"role": "assistant", "content": f"I changed reservation R{i:04d} without asking which flight."},
                ]}) + "\n")


def test_small_extraction_in_one_batch(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=6)
    with FakeLLMServer(http_analyst_responder) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        run_id = create_extraction_run(ws, ids, ExtractionConfig())
        set_batch(ws, run_id, BatchOptions(**FAST))
        run = runs.execute(ws, run_id, client)
        assert run.status == "done" and run.progress.done == 6, run
        assert srv.request_count == 0 and srv.batch_api.created == 1
        assert sorted(srv.batch_api.line_counts.values()) == [1] * 6
        [batch] = batch_store.list_batches(ws.db, run_id=run_id)
        assert batch.status == "completed" and batch.answered == 6 and batch.remote_id


def test_extraction_and_consolidation_of_500_trajectories_entirely_in_batches(ws, tmp_path):
    load_demo(ws)  # 200 τ-bench trajectories and the airline policy
    _chat_trajectories(tmp_path / "more.jsonl", 300)
    import_paths(ws, [tmp_path / "more.jsonl"])
    ids = select_trajectories(ws, outcome="all")
    assert len(ids) == 500
    with FakeLLMServer(responder) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        run_id = create_extraction_run(ws, ids, ExtractionConfig(max_lessons=2))
        set_batch(ws, run_id, BatchOptions(**FAST))
        run = runs.execute(ws, run_id, client)
        assert run.status == "done" and run.progress.done == 500, run
        assert srv.request_count == 0  # nothing live
        assert len(srv.batch_api.line_counts) == 500 and set(srv.batch_api.line_counts.values()) == {1}
        assert call_store_count(ws, run_id) == 500  # each batched answer is in the call log, as a live one would be

        set_status(ws.db, lesson_ids(ws.db), "approved")
        base = latest_version(ws.db, DEMO_SKILL).id
        consolidation = create_consolidation_run(ws, ConsolidationConfig(base_version=base, batch_size=8,
                                                                         embeddings=False, skill_chars=20000))
        set_batch(ws, consolidation, BatchOptions(**FAST))
        before = srv.batch_api.created
        done = runs.execute(ws, consolidation, client)
        assert done.status == "done", done.error
        assert srv.request_count == 0
        batches = batch_store.list_batches(ws.db, run_id=consolidation)[::-1]  # oldest first
        assert srv.batch_api.created - before == len(batches) == 1 + done.counters["levels"] == 4
        assert all(b.status == "completed" and b.failed == 0 for b in batches)
        sizes = [b.requests for b in batches]  # the proposals, then each level of the merge tree down to the root
        assert sizes[1] > sizes[2] > sizes[3] == 1, sizes
        assert set(srv.batch_api.line_counts.values()) == {1}  # no request in two batches
        assert call_store_count(ws, consolidation) == sum(sizes)  # identical requests were asked once


def call_store_count(ws, run_id: str) -> int:
    from trace2skill.store.calls import count_calls

    return count_calls(ws.db, run_id=run_id)["sent"]


def _wait_for(check, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def _orphaned_batch(ws: Workspace, srv: FakeLLMServer):
    """A batch an extraction in another process sent before that process was killed."""
    proc = subprocess.Popen([sys.executable, "-m", "trace2skill", "extract", "--outcome", "failure", "--limit", "3",
                             "--batch", "--batch-poll", "0.1", "--batch-gather", "0.3", "--base-url", srv.base_url,
                             "--model", "fake", "--json", "--db", str(ws.path)],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: any(b.remote_id for b in batch_store.list_batches(ws.db)))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    [batch] = batch_store.list_batches(ws.db)
    return batch


def test_killed_while_its_batch_is_pending_then_resumed_sends_nothing_twice(tmp_path):
    db = tmp_path / "kill.db"
    ws = Workspace(db)
    load_demo(ws)
    with FakeLLMServer(http_analyst_responder) as srv:
        srv.batch_api.hold()  # the batch stays "in progress"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, "-m", "trace2skill", "extract", "--outcome", "failure", "--limit", "12",
                                 "--batch", "--batch-poll", "0.1", "--batch-gather", "0.3", "--base-url", srv.base_url,
                                 "--model", "fake", "--json", "--db", str(db)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        _wait_for(lambda: any(b.remote_id for b in batch_store.list_batches(ws.db)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        [batch] = batch_store.list_batches(ws.db)
        assert batch.status == "in_progress" and batch.requests == 12
        listed = CliRunner().invoke(main, ["runs", "--db", str(db)], catch_exceptions=False)
        assert ("interrupted (its batch is still at the endpoint, nothing collects the answers: resume it)"
                in listed.output)  # not only "interrupted": the endpoint goes on answering, and billing
        asked = CliRunner().invoke(main, ["batch", "list", "--ask", "--db", str(db)], catch_exceptions=False)
        assert (f"the endpoint says now (not stored):\n  batch {batch.id} ({batch.remote_id}): being answered at the "
                "endpoint, 0 of 12 answered so far.") in asked.output, asked.output
        assert batch_store.get_batch(ws.db, batch.id).status == "in_progress"  # asking took nothing from the run
        srv.batch_api.release()
        result = CliRunner().invoke(main, ["resume", batch.run_id, "--json", "--db", str(db)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["status"] == "done" and out["progress"]["done"] == 12
        assert srv.batch_api.created == 1 and srv.request_count == 0  # the pending batch was waited for, not re-sent
        assert len(srv.batch_api.line_counts) == 12 and set(srv.batch_api.line_counts.values()) == {1}
        assert batch_store.get_batch(ws.db, batch.id).status == "completed"


def _run_like_vllm(requests: Path, results: Path, respond, *, fail: set[int] = frozenset()) -> int:
    """What `vllm run-batch -i requests -o results` writes: one line per request, in its output
    format (the OpenAI batch output format); the lines numbered in `fail` come back as HTTP 500."""
    lines = [json.loads(line) for line in requests.read_text().splitlines() if line.strip()]
    with results.open("w") as out:
        for n, line in enumerate(lines):
            assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
            body = line["body"]
            if n in fail:
                response = {"status_code": 500, "request_id": f"vllm-batch-{n}",
                            "body": {"object": "error", "message": "engine overloaded", "code": 500}}
            else:
                content = json.dumps(respond(body))
                response = {"status_code": 200, "request_id": f"vllm-batch-{n}", "body": {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}}
            out.write(json.dumps({"id": f"vllm-{n}", "custom_id": line["custom_id"], "response": response,
                                  "error": None}) + "\n")
    return len(lines)


def test_batch_file_for_vllm_then_ingest_finishes_the_run(tmp_path):
    db, requests, results = str(tmp_path / "f.db"), tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    runner = CliRunner()
    ws = Workspace(tmp_path / "f.db")
    load_demo(ws)
    args = ["extract", "--outcome", "failure", "--limit", "5", "--batch-file", str(requests),
            "--batch-gather", "0.3", "--model", "Qwen/Qwen2.5-7B-Instruct", "--db", db]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output  # it did what was asked: wrote the file
    assert "batch ingest" in result.output and "stopped" in result.output
    assert _run_like_vllm(requests, results, http_analyst_responder, fail={1}) == 5
    result = runner.invoke(main, ["batch", "ingest", str(results), "--db", db], catch_exceptions=False)
    assert "5 answers stored (1 the engine could not run)" in result.output
    assert "stopped" in result.output  # the failed request was written again, alone
    assert len(requests.read_text().splitlines()) == 1
    _run_like_vllm(requests, results, http_analyst_responder)
    result = runner.invoke(main, ["batch", "ingest", str(results), "--json", "--db", db], catch_exceptions=False)
    out = json.loads(result.output)
    assert out["status"] == "done" and out["progress"]["done"] == 5 and out["answers"] == 1
    assert call_store_count(ws, out["run"]) == 5  # each answer in the call log, as a live one would be
    failed = [b for b in batch_store.list_batches(ws.db, run_id=out["run"]) if b.failed]
    assert len(failed) == 1 and failed[0].failed == 1  # the engine's failure is kept with its batch
    # the same file again: nothing waits for it
    result = runner.invoke(main, ["batch", "ingest", str(results), "--db", db], catch_exceptions=False)
    assert "0 answers stored; 1 no batch was waiting for" in result.output


def _failing_first(times: int):
    """Answers like the analyst, except that each request fails (HTTP 500) its first `times` times."""
    seen: dict[str, int] = {}

    def respond(request):
        key = json.dumps(request["messages"])
        seen[key] = seen.get(key, 0) + 1
        return Fault(500, "overloaded") if seen[key] <= times else http_analyst_responder(request)
    return respond


def test_requests_the_batch_could_not_run_go_into_a_smaller_batch(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=4)
    with FakeLLMServer(_failing_first(1)) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        run_id = create_extraction_run(ws, ids, ExtractionConfig())
        set_batch(ws, run_id, BatchOptions(**FAST))
        run = runs.execute(ws, run_id, client)
        assert run.status == "done" and run.progress.done == 4
        assert srv.batch_api.created == 2 and srv.request_count == 0
        assert set(srv.batch_api.line_counts.values()) == {2}  # each failed once, then answered in the retry batch


def test_requests_the_batch_could_not_run_go_live_when_chosen(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=4)
    with FakeLLMServer(_failing_first(1)) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake", backoff_base_s=0.01))
        run_id = create_extraction_run(ws, ids, ExtractionConfig())
        set_batch(ws, run_id, BatchOptions(retry="live", **FAST))
        run = runs.execute(ws, run_id, client)
        assert run.status == "done" and run.progress.done == 4
        assert srv.batch_api.created == 1 and srv.request_count == 4  # one batch, then each once live


def test_batch_mode_needs_an_endpoint_or_a_model(tmp_path):
    db = str(tmp_path / "e.db")
    runner = CliRunner()
    result = runner.invoke(main, ["extract", "--batch", "--db", db])
    assert result.exit_code != 0 and "answers live only" in result.output
    result = runner.invoke(main, ["extract", "--batch", "--batch-file", "x.jsonl", "--base-url", "http://h/v1",
                                  "--model", "m", "--db", db])
    assert result.exit_code != 0 and "cannot be used together" in result.output


def test_a_consolidation_goes_through_batch_files_one_round_trip_per_stage(tmp_path):
    db, requests, results = str(tmp_path / "c.db"), tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    ws = Workspace(db)
    seed_lessons(ws, 8)  # the demo with the lessons of 8 trajectories approved
    runner = CliRunner()
    args = ["consolidate", "--base-skill", DEMO_SKILL, "--batch-size", "2", "--no-embeddings", "--batch-file",
            str(requests), "--batch-gather", "0.3", "--model", "m", "--json", "--db", db]
    out = json.loads(runner.invoke(main, args, catch_exceptions=False).output)
    rounds = [len(requests.read_text().splitlines())]
    while out["status"] == "stopped":
        assert out["batches"][0]["status"] == "written", out
        _run_like_vllm(requests, results, responder)
        out = json.loads(runner.invoke(main, ["batch", "ingest", str(results), "--json", "--db", db],
                                       catch_exceptions=False).output)
        if out["status"] == "stopped":
            rounds.append(len(requests.read_text().splitlines()))
    assert out["status"] == "done" and out["version"], out
    assert out["levels"] >= 2 and len(rounds) == 1 + out["levels"]  # the proposals, then each level of the tree
    assert rounds[0] > rounds[1] and rounds[-1] == 1  # the root merge alone


def test_cancelling_a_run_cancels_its_batch_at_the_endpoint(ws):
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=4)
    with FakeLLMServer(http_analyst_responder) as srv:
        srv.batch_api.hold()  # the batch stays "in progress" until cancelled
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        run_id = create_extraction_run(ws, ids, ExtractionConfig())
        set_batch(ws, run_id, BatchOptions(**FAST))
        runs.start_background(ws, run_id, client)
        _wait_for(lambda: any(b.remote_id for b in batch_store.list_batches(ws.db, run_id=run_id)))
        runs.cancel(ws, run_id)
        runs.wait(run_id, timeout=60)
        run = get_run(ws.db, run_id)
        assert run.status == "cancelled" and run.progress.done == 0
        [batch] = batch_store.list_batches(ws.db, run_id=run_id)
        remote = srv.batch_api.batches[batch.remote_id]
        _wait_for(lambda: remote["status"] == "cancelled", timeout=10)  # the endpoint ends it: nothing ran
        assert batch.status in ("cancelling", "cancelled") and not srv.batch_api.line_counts
        assert srv.request_count == 0


def test_the_estimate_of_a_batch_run_is_at_the_batch_price(tmp_path):
    db = str(tmp_path / "e.db")
    ws = Workspace(db)
    load_demo(ws)
    set_price(ws.db, "fake", prompt=2.0, completion=8.0)

    def estimate(*extra: str) -> float:
        result = CliRunner().invoke(main, ["extract", "--outcome", "failure", "--limit", "4", "--estimate", "--json",
                                           "--base-url", "http://127.0.0.1:9/v1", "--model", "fake", *extra,
                                           "--db", db], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["estimated_cost_usd"]

    live = estimate()
    assert live > 0 and estimate("--batch") == pytest.approx(live / 2)
    assert CliRunner().invoke(main, ["settings", "set", "batch_price", "25%", "--db", db]).exit_code == 0
    assert estimate("--batch") == pytest.approx(live / 4)


def test_cancelling_a_run_whose_process_died_cancels_its_batch_at_the_endpoint(tmp_path):
    db = tmp_path / "orphan.db"
    ws = Workspace(db)
    load_demo(ws)
    with FakeLLMServer(http_analyst_responder) as srv:
        srv.batch_api.hold()
        batch = _orphaned_batch(ws, srv)
        result = CliRunner().invoke(main, ["cancel", batch.run_id, "--db", str(db)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        remote = srv.batch_api.batches[batch.remote_id]
        _wait_for(lambda: remote["status"] == "cancelled", timeout=10)
        assert batch_store.get_batch(ws.db, batch.id).status == "cancelling"  # as the cancel's answer said
        assert not srv.batch_api.line_counts and srv.request_count == 0
        assert "still open at the endpoint" not in result.output  # it took the cancel
        # Nobody polls it now; asked, the endpoint says it ended (the table keeps what the run last saw).
        asked = CliRunner().invoke(main, ["batch", "list", "--ask", "--db", str(db)], catch_exceptions=False)
        assert (f"  batch {batch.id} ({batch.remote_id}): cancelled at the endpoint (0 of 3 answered before it "
                "ended).") in asked.output, asked.output
        assert batch_store.get_batch(ws.db, batch.id).status == "cancelling"


def test_the_extract_screen_says_a_dead_runs_batch_is_still_at_the_endpoint():
    import pandas as pd
    from streamlit.testing.v1 import AppTest

    ws = Workspace()  # the app's workspace in this test
    load_demo(ws)
    with FakeLLMServer(http_analyst_responder) as srv:
        srv.batch_api.hold()
        batch = _orphaned_batch(ws, srv)
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        at.switch_page("views/extract.py")
        at.run()
        assert not at.exception
        assert any("1 batch of its requests is still at the endpoint, which goes on answering (and billing) them. "
                   "Nothing here collects the answers until you Resume" in i.value for i in at.info)
        assert not any(i.value.startswith("Nothing is executing this run now") for i in at.info)
        [table] = [d for d in at.dataframe if "batch" in d.value.columns]
        row = table.value.iloc[0]  # its state, and when the service last said so (nobody asks again now)
        assert row["state"] == "being answered"
        assert row["state as of"] == pd.Timestamp(batch_store.get_batch(ws.db, batch.id).updated)
        assert batch_store.get_batch(ws.db, batch.id).status == "in_progress"  # showing it changed nothing

        # How far it is can be asked of the endpoint: said, never stored (Resume collects the answers).
        ask = next(b for b in at.button if b.label == "Ask the endpoint now")
        ask.click().run()
        said = [c.value for c in at.code if batch.remote_id in c.value]
        assert said == [f"batch {batch.id} ({batch.remote_id}): being answered at the endpoint, 0 of 3 answered "
                        "so far."]
        srv.batch_api.release()
        _wait_for(lambda: srv.batch_api.batches[batch.remote_id]["status"] == "completed", timeout=10)
        next(b for b in at.button if b.label == "Ask the endpoint now").click().run()
        said = [c.value for c in at.code if batch.remote_id in c.value]
        assert said == [f"batch {batch.id} ({batch.remote_id}): answered at the endpoint (3 of 3 answered). Resume "
                        "collects the answers without sending anything again."]
        assert batch_store.get_batch(ws.db, batch.id).status == "in_progress"  # nothing taken from the run
        progress = runs.resume(ws, batch.run_id, LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))).progress
        assert progress.done == 3 and srv.request_count == 0  # collected from the batch, nothing sent again


def test_an_endpoint_that_does_not_answer_the_cancel_of_a_dead_runs_batch_is_left_and_said(tmp_path, monkeypatch):
    monkeypatch.setattr("trace2skill.llm.batch.CANCEL_TIMEOUT_S", 0.3)
    db = tmp_path / "orphan.db"
    ws = Workspace(db)
    load_demo(ws)
    with FakeLLMServer(http_analyst_responder) as srv:
        srv.batch_api.hold()
        srv.batch_api.cancel_delay_s = 3.0  # answers long after the cancel gave up waiting
        batch = _orphaned_batch(ws, srv)
        result = CliRunner().invoke(main, ["cancel", batch.run_id, "--db", str(db)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert get_run(ws.db, batch.run_id).status == "cancelled"
        left = batch_store.get_batch(ws.db, batch.id)  # not taken: left as it was, and said
        assert left.is_open and left.status not in ("cancelling", "cancelled")
        assert (f"warning: 1 batch of this cancelled run is still open at the endpoint (it did not take the cancel): "
                f"it may still run and be billed. Cancel it there ({batch.remote_id}).") in result.output
        srv.batch_api.release()
