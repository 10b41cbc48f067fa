"""Workspace-wide counts, as printed by `trace2skill stats --json` and shown on the home screen."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from trace2skill.store.trajectories import signal_counts


def _grouped(db: Database, sql: str) -> dict[str, int]:
    return {row[0]: row[1] for row in db.execute(sql)}


def _count(db: Database, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def workspace_stats(db: Database) -> dict[str, Any]:
    outcomes = {"success": 0, "failure": 0, "unknown": 0}
    outcomes.update(_grouped(db, "SELECT outcome, count(*) FROM trajectories GROUP BY outcome"))
    lessons = {"proposed": 0, "approved": 0, "rejected": 0}
    lessons.update(_grouped(db, "SELECT status, count(*) FROM lessons GROUP BY status"))
    return {
        "trajectories": _count(db, "trajectories"),
        "outcomes": outcomes,
        "formats": _grouped(
            db, "SELECT source_format, count(*) FROM trajectories GROUP BY source_format ORDER BY 1"
        ),
        "signals": signal_counts(db),
        "lessons": lessons,
        "runs": _count(db, "runs"),
        "llm_calls": _count(db, "llm_calls"),
        "skills": _count(db, "skills"),
        "skill_versions": _count(db, "skill_versions"),
    }


def lesson_breakdown(db: Database) -> list[tuple[str, str, str, int]]:
    """(kind, outcome of its trajectory, status, count) for every lesson: what the Lessons screen
    charts."""
    return [tuple(row) for row in db.execute(
        "SELECT l.kind, coalesce(t.outcome, 'unknown'), l.status, count(*) FROM lessons l "
        "LEFT JOIN trajectories t ON t.id = l.trajectory_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")]
