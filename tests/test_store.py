"""The SQLite workspace: migrations once, WAL, foreign keys, thread safety, pagination, prefix ids."""

from __future__ import annotations

import threading

import pytest

from trace2skill.errors import NotFoundError, WorkspaceError
from trace2skill.models import Step, Task, Trajectory
from trace2skill.store import Workspace, default_db_path
from trace2skill.store.decisions import list_decisions, record_decision
from trace2skill.store.migrations import MIGRATIONS
from trace2skill.store.trajectories import (
    TrajectoryFilter,
    count_trajectories,
    get_trajectory,
    insert_trajectories,
    list_trajectories,
    set_outcome,
)


def _traj(n: int, outcome: str = "failure") -> Trajectory:
    return Trajectory(source_format="test", task=Task(id=str(n), prompt=f"task number {n}"),
                      steps=[Step(index=0, role="user", text=f"hello {n}")],
                      outcome={"label": outcome}).with_id()


def test_migrations_run_once_and_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "w.db"
    ws = Workspace(path)
    applied = [m.name for m in MIGRATIONS.applied(ws.db)]
    assert applied[0] == "m001_trajectories" and len(applied) == len(MIGRATIONS._migrations)
    Workspace(path)  # a second handle neither fails nor re-applies
    assert [m.name for m in MIGRATIONS.applied(ws.db)] == applied
    assert ws.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ws.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for table in ("trajectories", "steps", "signals", "runs", "run_items", "llm_calls", "lessons",
                  "patches", "merge_nodes", "skills", "skill_versions", "decisions", "lessons_fts"):
        assert ws.db[table].exists(), table


def test_location_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACE2SKILL_DB", str(tmp_path / "env.db"))
    assert default_db_path() == tmp_path / "env.db"
    monkeypatch.delenv("TRACE2SKILL_DB")
    monkeypatch.setenv("TRACE2SKILL_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "workspace.db"


def test_not_a_database_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="not a usable Trace2Skill workspace"):
        Workspace(junk)


def test_deleting_a_trajectory_cascades(ws):
    t = _traj(1)
    insert_trajectories(ws.db, [(t, [])])
    with ws.db.atomic():
        ws.db.execute("DELETE FROM trajectories WHERE id = ?", [t.id])
    assert ws.db.execute("SELECT count(*) FROM steps").fetchone()[0] == 0
    assert ws.db.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'hello'").fetchone()[0] == 0


def test_concurrent_writers_and_readers_from_threads(ws):
    errors: list[BaseException] = []

    def writer(start: int) -> None:
        try:
            for k in range(start, start + 50):
                insert_trajectories(ws.db, [(_traj(k), [])])
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                count_trajectories(ws.db)
                list_trajectories(ws.db, limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i * 1000,)) for i in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert count_trajectories(ws.db) == 200


def test_pagination_filters_prefix_ids_and_outcome_edits(ws):
    items = [(_traj(k, "success" if k % 3 == 0 else "failure"), []) for k in range(30)]
    insert_trajectories(ws.db, items)
    assert count_trajectories(ws.db, TrajectoryFilter(outcome="success")) == 10
    page1 = list_trajectories(ws.db, limit=10, offset=0)
    page2 = list_trajectories(ws.db, limit=10, offset=10)
    assert len(page1) == len(page2) == 10 and not {r.id for r in page1} & {r.id for r in page2}
    target = items[4][0].id
    assert get_trajectory(ws.db, target[:8]).id == target
    with pytest.raises(NotFoundError):
        get_trajectory(ws.db, "zzzz")
    set_outcome(ws.db, target, "success")
    row = get_trajectory(ws.db, target, with_steps=False)
    assert (row.outcome, row.outcome_source) == ("success", "user")
    [decision] = list_decisions(ws.db)
    assert (decision.subject_type, decision.subject_id, decision.action) == ("trajectory", target, "set_outcome")
    assert decision.detail == {"outcome": "success"} and decision.actor == "user" and decision.id
    assert count_trajectories(ws.db, TrajectoryFilter(task_contains="number 4")) == 1


def test_decisions_are_listed_newest_first_by_subject(ws):
    record_decision(ws.db, "lesson", "L1", "approved", actor="ann")
    record_decision(ws.db, "lesson", "L2", "edit", detail={"changes": {"title": "Ünïcode"}, "from_version": 1})
    record_decision(ws.db, "skill", "airline", "lock_sections", detail={"before": [], "after": ["Refund"]})
    assert [(d.subject_id, d.action) for d in list_decisions(ws.db)] == [
        ("airline", "lock_sections"), ("L2", "edit"), ("L1", "approved")]
    assert [d.subject_id for d in list_decisions(ws.db, "lesson")] == ["L2", "L1"]
    [edit] = list_decisions(ws.db, "lesson", "L2")
    assert edit.detail == {"changes": {"title": "Ünïcode"}, "from_version": 1} and edit.actor == "user"
    assert [d.action for d in list_decisions(ws.db, limit=1)] == ["lock_sections"]
    assert list_decisions(ws.db, "lesson", "nobody") == [] and list_decisions(ws.db, subject_id="L1")[0].actor == "ann"
    assert ws.db.execute("SELECT detail FROM decisions WHERE subject_id = 'L2'").fetchone()[0] == \
        '{"changes": {"title": "Ünïcode"}, "from_version": 1}'  # stored as before: JSON, not ASCII-escaped


def test_one_import_lists_in_the_files_order_whatever_second_each_batch_was_stored_in(ws, tmp_path, monkeypatch):
    """The list shows the newest import first and each import in its file's order: all trajectories
    of one import carry its start time, not the second their batch happened to be stored in."""
    import json
    from itertools import count

    from trace2skill.ingest import import_stream
    from trace2skill.store import imports, trajectories

    ticks = count()  # every reading of the clock a second later
    for module in (imports, trajectories):
        monkeypatch.setattr(module, "utcnow", lambda: f"2026-01-01T00:00:{next(ticks):02d}+00:00")
    lines = [json.dumps({"task_id": str(i), "messages": [{"role": "user", "content": f"request {i}"},
                                                         {"role": "assistant", "content": "done"}]})
             for i in range(5)]
    for name in ("first.jsonl", "second.jsonl"):
        path = tmp_path / name
        path.write_text("\n".join(lines if name == "first.jsonl" else [line.replace("request", "ask")
                                                                      for line in lines]) + "\n")
        import_stream(ws, path, batch_size=2)  # three batches
    listed = [r.task for r in list_trajectories(ws.db, TrajectoryFilter())]
    assert listed == [f"ask {i}" for i in range(5)] + [f"request {i}" for i in range(5)]
