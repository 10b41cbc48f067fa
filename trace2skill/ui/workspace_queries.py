"""Small store queries the Home, Trajectories, Extract and Lessons screens need (no streamlit here).

Candidates for the library (`trace2skill.store`): the lesson filter for unchecked grounding, the
version-checked status change and the one-row save used by the lessons editor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError, StaleEditError
from trace2skill.store.lessons import EDITABLE, LessonFilter, edit_lesson, get_lesson, set_status
from trace2skill.store.workspace import write_transaction

LESSON_STATUSES = ("proposed", "approved", "rejected")
LESSON_KINDS = ("failure_cause", "failure_lesson", "success_lesson")

# Columns whose distinct values feed filter choices (fixed list: never interpolate user input).
_DISTINCT = {
    ("trajectories", "source_format"): "SELECT DISTINCT source_format FROM trajectories ORDER BY 1",
    ("trajectories", "model"): "SELECT DISTINCT model FROM trajectories WHERE model IS NOT NULL ORDER BY 1",
    ("signals", "kind"): "SELECT DISTINCT kind FROM signals ORDER BY 1",
}


def distinct_values(db: Database, table: str, column: str) -> list[str]:
    """Distinct non-null values of a known column, sorted (for filter choices)."""
    return [row[0] for row in db.execute(_DISTINCT[(table, column)])]


@dataclass
class LessonQuery(LessonFilter):
    """LessonFilter plus "grounding not checked yet" (grounded IS NULL)."""

    unchecked: bool = False

    def where(self) -> tuple[str, list[Any]]:
        where, params = super().where()
        if self.unchecked:
            where = (where + " AND" if where else " WHERE") + " l.grounded IS NULL"
        return where, params


def recent_runs(db: Database, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Run headers, newest first (no progress counts: cheap enough for a picker)."""
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    return list(db.query(f"SELECT id, kind, status, created, started, finished FROM runs {where} "
                         "ORDER BY created DESC, id DESC LIMIT ?", [*params, limit]))


def set_status_checked(db: Database, lesson_id: str, status: str, *, expected_version: int,
                       actor: str = "user") -> bool:
    """Change one lesson's status only if nobody saved it since `expected_version` was read
    (StaleEditError otherwise). Returns whether the status changed; the decision is recorded."""
    with write_transaction(db):
        row = db.execute("SELECT version, edited_by FROM lessons WHERE id = ?", [lesson_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no lesson with id {lesson_id!r}")
        if row[0] != expected_version:
            raise StaleEditError(
                f"lesson {lesson_id} was changed by {row[1] or 'someone'} since you opened it "
                f"(version {row[0]}, yours {expected_version}); reload it and apply your change again")
        return set_status(db, [lesson_id], status, actor=actor) == 1


def save_lesson_row(db: Database, lesson_id: str, changes: dict[str, Any], *, expected_version: int,
                    actor: str = "user") -> dict[str, Any]:
    """Save an edited table row (text fields and/or status) atomically, refusing a stale save."""
    status = changes.get("status")
    text = {k: v for k, v in changes.items() if k in EDITABLE}
    unknown = set(changes) - set(EDITABLE) - {"status"}
    if unknown:
        raise ValueError(f"fields not editable: {', '.join(sorted(unknown))}")
    if status is not None and status not in LESSON_STATUSES:
        raise ValueError(f"unknown lesson status {status!r}")
    for name in ("title", "content"):
        if name in text and not str(text[name] or "").strip():
            raise ValueError(f"a lesson's {name} cannot be empty")
    with write_transaction(db):
        version = expected_version
        if text:
            version = edit_lesson(db, lesson_id, text, expected_version=version, actor=actor)["version"]
        if status is not None:
            set_status_checked(db, lesson_id, status, expected_version=version, actor=actor)
    return get_lesson(db, lesson_id)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def elapsed_seconds(started: str | None, finished: str | None, now: datetime | None = None) -> float | None:
    """Seconds from start to finish (or to now while running); None before it started."""
    start = parse_time(started)
    if start is None:
        return None
    end = parse_time(finished) or now or datetime.now(timezone.utc)
    return max(0.0, (end - start).total_seconds())


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def steps_of(db: Database, trajectory_id: str, indices: list[int]) -> dict[int, dict[str, Any]]:
    """Only the cited steps of a trajectory (tool calls/results decoded), by index."""
    if not indices:
        return {}
    marks = ", ".join("?" * len(indices))
    out: dict[int, dict[str, Any]] = {}
    for row in db.query(f"SELECT * FROM steps WHERE trajectory_id = ? AND idx IN ({marks})",
                        [trajectory_id, *indices]):
        row["tool_calls"] = json.loads(row["tool_calls"])
        row["tool_results"] = json.loads(row["tool_results"])
        out[row["idx"]] = row
    return out


def page_lessons(db: Database, flt: LessonFilter | None = None, *, limit: int = 50,
                 offset: int = 0) -> list[dict[str, Any]]:
    """Like store.lessons.list_lessons (newest first), ordered by rowid so a page of 50,000
    lessons is read through the primary key instead of sorting the table (insertion order is
    creation order)."""
    where, params = (flt or LessonFilter()).where()
    rows = list(db.query(f"SELECT l.* FROM lessons l{where} ORDER BY l.rowid DESC LIMIT ? OFFSET ?",
                         [*params, limit, offset]))
    for row in rows:
        row["evidence"] = json.loads(row["evidence"])
        row["grounded"] = None if row["grounded"] is None else bool(row["grounded"])
    return rows
