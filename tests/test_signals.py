"""Deterministic signals: tool errors, repeats and loops, halts and truncation, gold-action diffs."""

from __future__ import annotations

from trace2skill.models import Step, Task, ToolCall, ToolResult, Trajectory
from trace2skill.signals import compute_signals
from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories, insert_trajectories


def _traj(steps, **kwargs) -> Trajectory:
    return Trajectory(source_format="test", task=Task(prompt="t"), steps=steps, **kwargs).with_id()


def _call(i, name, args, call_id=None):
    return Step(index=i, role="assistant", tool_calls=[ToolCall(id=call_id or f"c{i}", name=name, arguments=args)])


def _result(i, call_id, content, error=False):
    return Step(index=i, role="tool", tool_results=[ToolResult(call_id=call_id, content=content, is_error=error)])


def kinds(signals):
    return [(s.kind, s.step_idx) for s in signals]


def test_tool_errors_are_located():
    t = _traj([_call(0, "ls", {}), _result(1, "c0", "Permission denied", error=True)])
    [sig] = compute_signals(t)
    assert (sig.kind, sig.step_idx, sig.detail) == ("tool_error", 1, "Permission denied")


def test_repeats_and_loops():
    steps = []
    for k in range(3):
        steps += [_call(2 * k, "search", {"q": "x"}), _result(2 * k + 1, f"c{2 * k}", "nothing")]
    steps += [_call(6, "search", {"q": "y"}), _result(7, "c6", "found")]
    found = kinds(compute_signals(_traj(steps)))
    assert ("repeated_action", 2) in found and ("repeated_action", 4) in found
    assert ("loop", 0) in found
    assert ("repeated_action", 6) not in found  # different arguments


def test_halt_from_source_and_truncated_last_call():
    t = _traj([_call(0, "run", {"cmd": "make"})], metadata={"termination": "exit_cost"})
    found = kinds(compute_signals(t))
    assert ("halted", 0) in found
    assert ("truncated", 0) in found
    finished = _traj([_call(0, "run", {"cmd": "make"}), _result(1, "c0", "ok")])
    assert compute_signals(finished) == []


def test_gold_action_diff():
    gold = {"actions": [
        {"name": "get_user", "kwargs": {"id": "u1"}},
        {"name": "book", "kwargs": {"flight": "HAT1", "cabin": "economy"}},
        {"name": "refund", "kwargs": {"amount": 10}},
    ]}
    steps = [
        _call(0, "get_user", {"id": "u1"}), _result(1, "c0", "{}"),
        _call(2, "book", {"flight": "HAT1", "cabin": "business"}), _result(3, "c2", "{}"),
        _call(4, "get_user", {"id": "u1"}), _result(5, "c4", "{}"),
    ]
    signals = compute_signals(_traj(steps, ground_truth=gold))
    by_kind = {s.kind: s for s in signals}
    assert by_kind["gold_mismatch"].step_idx == 2
    assert 'cabin: expected "economy" got "business"' in by_kind["gold_mismatch"].detail
    assert by_kind["gold_missing"].detail.startswith("never called refund(")
    assert by_kind["gold_extra"].step_idx == 4


def test_signals_are_stored_and_queryable(ws):
    bad = _traj([_call(0, "ls", {}), _result(1, "c0", "boom", error=True)])
    good = _traj([_call(0, "ls", {"a": 1}), _result(1, "c0", "fine")])
    insert_trajectories(ws.db, [(bad, compute_signals(bad)), (good, compute_signals(good))])
    assert count_trajectories(ws.db, TrajectoryFilter(signal="tool_error")) == 1
    rows = ws.db.execute("SELECT trajectory_id, step_idx, kind FROM signals").fetchall()
    assert rows == [(bad.id, 1, "tool_error")]
