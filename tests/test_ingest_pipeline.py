"""The import pipeline: detection of every sample, clear per-record errors, nothing half-written."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import TAU_BENCH

from trace2skill.ingest import import_paths, import_stream
from trace2skill.ingest.pipeline import expand_paths
from trace2skill.store.stats import workspace_stats
from trace2skill.store.trajectories import count_trajectories, get_trajectory

CHAT = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]


def _db_snapshot(ws) -> tuple:
    db = ws.db
    return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                 for t in ("trajectories", "steps", "signals", "steps_fts", "trajectories_fts"))


@pytest.mark.parametrize("relative, fmt, n", [
    ("tau-bench/historical_trajectories/gpt-4o-airline.json", "tau_bench", 200),
    ("swe-agent/tests/test_data/trajectories/gpt4__swe-bench-dev-easy_first_only__default__t-0.00__p-0.95__c-3.00__install-1/pydicom__pydicom-1458.traj", "swe_agent", 1),
    ("swe-agent/trajectories/demonstrations/replay__marshmallow-code__marshmallow-1867__function_calling_replace__install-1/marshmallow-code__marshmallow-1867.traj", "swe_agent", 1),
    ("openhands/tests/runtime/trajs/basic.json", "openhands", 1),
    ("openhands/tests/runtime/trajs/basic_gui_mode.json", "openhands", 1),
    ("openhands/tests/runtime/trajs/basic_interactions.json", "openhands", 1),
    ("openhands/tests/runtime/trajs/wrong_initial_state.json", "openhands", 1),
    ("claude-code-transcripts-fixture/tests/sample_session.jsonl", "claude_code", 1),
])
def test_every_real_sample_is_detected_and_imported(ws, shared_data, relative, fmt, n):
    report = import_paths(ws, [shared_data / relative])
    assert report.errors == []
    assert report.files[0].format == fmt
    assert report.imported == n
    t = get_trajectory(ws.db, report.files[0].trajectory_ids[0])
    assert t.steps, "steps were stored"
    assert [s.idx for s in t.steps] == list(range(len(t.steps)))
    assert t.task, "a task prompt was found"


def test_swe_agent_steps_have_calls_and_observations_in_order(ws, shared_data):
    path = next((shared_data / "swe-agent").rglob("pydicom__pydicom-1458.traj"))
    report = import_paths(ws, [path])
    t = get_trajectory(ws.db, report.files[0].trajectory_ids[0])
    raw = json.loads(path.read_text())["trajectory"]
    acting = [s for s in t.steps if s.tool_calls]
    assert len(acting) == len(raw)
    assert acting[0].tool_results[0].content == raw[0]["observation"]
    assert raw[0]["action"].startswith(acting[0].tool_calls[0].name)


def test_folder_import_finds_all_formats(ws, shared_data):
    report = import_paths(ws, [shared_data / "openhands", shared_data / "swe-agent",
                               shared_data / "claude-code-transcripts-fixture"])
    # all_preds.jsonl beside the SWE-agent run holds patches, not trajectories: reported, not imported
    [issue] = report.errors
    assert issue.file.endswith("all_preds.jsonl") and "unrecognised trajectory format" in issue.problem
    assert workspace_stats(ws.db)["formats"] == {"claude_code": 1, "openhands": 4, "swe_agent": 2}
    assert len(expand_paths([shared_data / "openhands"])) == 4


@pytest.mark.parametrize("content, problem", [
    (b"", "file is empty"),
    (b"   \n\n", "file is empty"),
    (b"\x00\x01\x02binary\xff\xfe", "binary"),
    (b"\x89PNG\r\n\x1a\n", "not JSON"),
    (b"hello world", "not JSON"),
    (b'[{"task_id": 0, "traj": [{"role": "user", "content": "hi"}], "info": {}, "rew', "invalid JSON"),
    (b'{"trajectory": [', "invalid JSON"),
    (b"[]", "empty"),
    (b'[1, 2, 3]', "unrecognised"),
    (b'{"just": "an object"}', "unrecognised"),
])
def test_hostile_files_give_a_clear_error_and_change_nothing(ws, tmp_path, content, problem):
    import_paths(ws, [TAU_BENCH])
    before = _db_snapshot(ws)
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    report = import_paths(ws, [bad])
    assert report.imported == 0
    assert len(report.errors) == 1
    message = str(report.errors[0])
    assert message.startswith(str(bad)) and problem in message
    assert _db_snapshot(ws) == before


def test_truncated_array_keeps_the_good_records_and_names_the_break(ws, tmp_path):
    records = json.loads(TAU_BENCH.read_text())[:3]
    text = json.dumps(records)
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) - 200])  # third record is cut short
    report = import_paths(ws, [cut])
    assert report.imported == 2
    [issue] = report.errors
    assert issue.record == 2 and "invalid JSON after 2 good records" in issue.problem
    assert count_trajectories(ws.db) == 2


def test_bad_records_in_jsonl_are_reported_by_index_and_others_import(ws, tmp_path):
    lines = [
        json.dumps(CHAT),
        '{"messages": [{"role": "user", "content": "x"}',  # truncated line
        json.dumps({"messages": [{"role": "alien", "content": "x"}]}),  # wrong role
        json.dumps({"messages": "not a list"}),  # wrong type
        json.dumps(CHAT + [{"role": "assistant", "content": "more"}]),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = import_paths(ws, [path])
    assert report.imported == 2
    assert [(e.record, e.line) for e in report.errors] == [(1, 2), (2, 3), (3, 4)]
    assert "invalid JSON" in report.errors[0].problem
    assert "unknown role 'alien'" in report.errors[1].problem
    assert "should be list" in report.errors[2].problem
    # every stored trajectory is complete: its step count matches its steps
    for tid in report.files[0].trajectory_ids:
        t = get_trajectory(ws.db, tid)
        assert t.n_steps == len(t.steps)


def test_a_failing_write_leaves_no_half_written_trajectory(ws, tmp_path, monkeypatch):
    import trace2skill.store.trajectories as store

    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(json.dumps(CHAT + [{"role": "assistant", "content": f"n{i}"}]) for i in range(20)))
    real = store._STEP_SQL
    monkeypatch.setattr(store, "_STEP_SQL", real.replace("INSERT INTO steps", "INSERT INTO no_such_table"))
    with pytest.raises(sqlite3.OperationalError):
        import_paths(ws, [path])
    assert _db_snapshot(ws) == (0, 0, 0, 0, 0)
    monkeypatch.setattr(store, "_STEP_SQL", real)
    assert import_paths(ws, [path]).imported == 20


def test_upload_stream_import(ws):
    import io
    report = import_stream(ws, io.BytesIO(json.dumps(CHAT).encode()), "upload.json")
    assert (report.format, report.imported, report.errors) == ("openai_chat", 1, [])


def test_missing_file_is_an_error_not_a_crash(ws, tmp_path):
    report = import_paths(ws, [tmp_path / "nope.json"])
    assert "cannot open file" in str(report.errors[0])


def test_full_text_search_over_steps(ws):
    from trace2skill.store.trajectories import TrajectoryFilter

    import_paths(ws, [TAU_BENCH])
    raw = json.loads(TAU_BENCH.read_text())
    expected = sum(1 for r in raw if "IFOYYZ" in json.dumps(r["traj"]))  # a reservation id
    assert 0 < expected < 200
    assert count_trajectories(ws.db, TrajectoryFilter(search="IFOYYZ")) == expected
    assert count_trajectories(ws.db, TrajectoryFilter(search='"quote" OR ) bad (')) == 0  # no FTS syntax error


def test_blank_and_whitespace_lines_between_records_are_skipped_and_lines_keep_their_numbers(ws, tmp_path):
    record = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    data = tmp_path / "spaced.jsonl"
    data.write_bytes(b"\n".join([record.encode(), b"", b" \t\r", b"\x0b\x0c", b"{broken", record.replace(
        "hello", "hey").encode()]) + b"\n")
    report = import_paths(ws, [data]).files[0]
    assert (report.records, report.imported) == (2, 2)
    [issue] = report.errors
    assert (issue.record, issue.line) == (1, 5)  # blank lines are no records, but lines are counted
