"""tau-bench result files: the real 200-run airline file, outcomes, gold actions, idempotence."""

from __future__ import annotations

import json

from conftest import TAU_BENCH

from trace2skill.ingest import import_paths
from trace2skill.store.stats import workspace_stats
from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories, get_trajectory, list_trajectories


def test_real_file_imports_200_runs_with_outcomes_and_gold(ws):
    report = import_paths(ws, [TAU_BENCH])
    assert report.errors == []
    assert report.files[0].format == "tau_bench"
    assert report.imported == 200
    stats = workspace_stats(ws.db)
    assert stats["trajectories"] == 200
    assert stats["outcomes"] == {"success": 84, "failure": 116, "unknown": 0}
    assert stats["formats"] == {"tau_bench": 200}

    first = json.loads(TAU_BENCH.read_text())[0]
    rows = list_trajectories(ws.db, TrajectoryFilter(task_id="0"), limit=10)
    assert len(rows) == 4  # four trials of task 0
    t = get_trajectory(ws.db, rows[0].id)
    assert t.ground_truth["actions"] == first["info"]["task"]["actions"]
    assert t.model == "gpt-4o"
    assert t.metadata["domain"] == "airline"
    assert t.task.startswith("You are mia_li_3668.")


def test_reimport_adds_nothing(ws):
    import_paths(ws, [TAU_BENCH])
    again = import_paths(ws, [TAU_BENCH])
    assert again.imported == 0
    assert again.duplicates == 200
    assert count_trajectories(ws.db) == 200


def test_steps_keep_order_tool_calls_and_results(ws, tmp_path):
    record = json.loads(TAU_BENCH.read_text())[0]
    single = tmp_path / "gpt-4o-airline.json"
    single.write_text(json.dumps([record]))
    report = import_paths(ws, [single])
    t = get_trajectory(ws.db, report.files[0].trajectory_ids[0])
    raw = record["traj"]
    assert [s.role for s in t.steps] == [m["role"] for m in raw]
    assert [s.raw_ref for s in t.steps][:2] == ["traj[0]", "traj[1]"]
    call_msg = next(i for i, m in enumerate(raw) if m.get("tool_calls"))
    call = raw[call_msg]["tool_calls"][0]
    stored = t.steps[call_msg].tool_calls[0]
    assert stored.name == call["function"]["name"]
    assert stored.arguments == json.loads(call["function"]["arguments"])
    assert t.steps[call_msg + 1].tool_results[0].call_id == call["id"]
    assert t.steps[call_msg + 1].tool_results[0].content == raw[call_msg + 1]["content"]


def test_missing_reward_info_is_a_failure_with_detail(ws):
    import_paths(ws, [TAU_BENCH])
    rows = ws.db.execute(
        "SELECT outcome, outcome_detail FROM trajectories WHERE outcome_detail LIKE 'reward_info missing%'"
    ).fetchall()
    assert len(rows) == 5
    assert {r[0] for r in rows} == {"failure"}


def test_gold_action_signals_are_mined(ws):
    import_paths(ws, [TAU_BENCH])
    failures_with_gold_diff = ws.db.execute(
        "SELECT count(DISTINCT t.id) FROM trajectories t JOIN signals s ON s.trajectory_id = t.id "
        "WHERE t.outcome = 'failure' AND s.kind IN ('gold_missing', 'gold_mismatch')"
    ).fetchone()[0]
    assert failures_with_gold_diff > 50
    errors = ws.db.execute("SELECT detail FROM signals WHERE kind = 'tool_error'").fetchall()
    assert any(d[0].startswith("Error:") for d in errors)
