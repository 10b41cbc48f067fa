"""Helpers for the tracing tools' importer tests: import a file, read back its trajectories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trace2skill.ingest import import_paths
from trace2skill.store.trajectories import get_trajectory, trajectory_ids


def imported(ws: Any, path: Path, **options: Any) -> tuple[Any, dict[str, Any]]:
    """Import `path` with no errors; the report and the stored trajectories by task."""
    report = import_paths(ws, [path], **options)
    assert report.errors == [], [str(e) for e in report.errors]
    return report, stored(ws)


def stored(ws: Any) -> dict[str, Any]:
    by_task = {}
    for tid in trajectory_ids(ws.db):
        t = get_trajectory(ws.db, tid)
        by_task[t.task or t.metadata.get("trace_id")] = t
    return by_task


def shape(t: Any) -> list:
    """Steps without times and references: what a run did, however it was exported."""
    return [(s.role, s.text, [(c.id, c.name, c.arguments) for c in s.tool_calls],
             [(r.call_id, r.content, r.is_error) for r in s.tool_results]) for s in t.steps]


def roles(t: Any) -> list[str]:
    return [s.role for s in t.steps]


def offered(path: Path) -> list[tuple[str, str, int, dict[str, int], bool]]:
    """What a trace file offers as the name of its outcome (`outcome_names`): name, what it is, in how
    many of the traces read, the outcomes it gives them, whether it is read without being named."""
    from trace2skill.ingest.outcome_names import outcome_names

    names = outcome_names(path)
    return [(o.name, o.what, o.traces, dict(o.labels), o.usual) for o in names.offered]
