"""Lessons: insert (idempotent by content id), filtered SQL-paginated reads, reviewed edits with
optimistic concurrency (a stale save is refused, never silently overwritten), decisions recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from sqlite_utils import Database

from trace2skill.errors import NotFoundError, ReviewError, StaleEditError
from trace2skill.models import Lesson, utcnow
from trace2skill.store.trajectories import fts_query
from trace2skill.store.workspace import write_transaction

EDITABLE = ("title", "description", "content", "kind")


def _row(lesson: Lesson, now: str) -> tuple:
    evidence = json.dumps([e.model_dump() for e in lesson.evidence], ensure_ascii=False)
    grounded = None if lesson.grounded is None else int(lesson.grounded)
    return (lesson.id, lesson.run_id, lesson.trajectory_id, lesson.kind, lesson.title, lesson.description,
            lesson.content, evidence, grounded, lesson.status, now, now)


def insert_lessons(db: Database, lessons: Iterable[Lesson]) -> int:
    """Insert lessons whose id is not present yet; returns how many were new. Joins an open
    transaction when there is one (so a worker stores lessons and its item status atomically)."""
    now = utcnow()
    rows = [_row(lesson, now) for lesson in lessons]
    with write_transaction(db):
        before = db.conn.total_changes
        db.conn.executemany(
            "INSERT OR IGNORE INTO lessons (id, run_id, trajectory_id, kind, title, description, content, "
            "evidence, grounded, status, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return db.conn.total_changes - before


@dataclass
class LessonFilter:
    status: str | None = None
    kind: str | None = None
    run_id: str | None = None
    trajectory_id: str | None = None
    grounded: bool | None = None
    search: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column in ("status", "kind", "run_id", "trajectory_id"):
            value = getattr(self, column)
            if value:
                clauses.append(f"l.{column} = ?")
                params.append(value)
        if self.grounded is not None:
            clauses.append("l.grounded = ?")
            params.append(int(self.grounded))
        if self.search:
            clauses.append("l.rowid IN (SELECT rowid FROM lessons_fts WHERE lessons_fts MATCH ?)")
            params.append(fts_query(self.search))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["evidence"] = json.loads(row["evidence"])
    row["grounded"] = None if row["grounded"] is None else bool(row["grounded"])
    return row


def list_lessons(db: Database, flt: LessonFilter | None = None, *, limit: int = 50,
                 offset: int = 0) -> list[dict[str, Any]]:
    where, params = (flt or LessonFilter()).where()
    sql = f"SELECT l.* FROM lessons l{where} ORDER BY l.created DESC, l.rowid DESC LIMIT ? OFFSET ?"
    return [_decode(r) for r in db.query(sql, [*params, limit, offset])]


def count_lessons(db: Database, flt: LessonFilter | None = None) -> int:
    where, params = (flt or LessonFilter()).where()
    return db.execute(f"SELECT count(*) FROM lessons l{where}", params).fetchone()[0]


def lesson_ids(db: Database, flt: LessonFilter | None = None) -> list[str]:
    where, params = (flt or LessonFilter()).where()
    return [r[0] for r in db.execute(f"SELECT l.id FROM lessons l{where} ORDER BY l.rowid", params)]


def lessons_by_ids(db: Database, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The lessons with these ids (one query however many), in id order."""
    wanted = json.dumps(sorted(set(ids)))
    return [_decode(r) for r in db.query(
        "SELECT * FROM lessons WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id", [wanted])]


def approved_lessons(db: Database, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Approved lessons (only those among `ids` when given), in id order."""
    if ids is None:
        return [_decode(r) for r in db.query("SELECT * FROM lessons WHERE status = 'approved' ORDER BY id")]
    return [r for r in lessons_by_ids(db, ids) if r["status"] == "approved"]


def get_lesson(db: Database, lesson_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM lessons WHERE id = ?", [lesson_id]))
    if not rows:
        rows = list(db.query("SELECT * FROM lessons WHERE id LIKE ? LIMIT 2", [lesson_id + "%"]))
        if len(rows) != 1:
            raise NotFoundError(f"no lesson with id {lesson_id!r}")
    return _decode(rows[0])


def _decide(db: Database, lesson_id: str, action: str, actor: str, detail: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO decisions (subject_type, subject_id, action, actor, detail, created) VALUES ('lesson', ?, ?, ?, ?, ?)",
        [lesson_id, action, actor, json.dumps(detail, ensure_ascii=False), utcnow()],
    )


def set_status(db: Database, ids: list[str], status: str, *, actor: str = "user") -> int:
    """Approve/reject/re-propose lessons; every change is recorded as a decision."""
    if status not in ("proposed", "approved", "rejected"):
        raise ReviewError(f"unknown lesson status {status!r}; use proposed, approved or rejected")
    changed = 0
    with write_transaction(db):
        for lesson_id in ids:
            cur = db.execute(
                "UPDATE lessons SET status = ?, version = version + 1, edited_by = ?, updated = ? "
                "WHERE id = ? AND status != ?",
                [status, actor, utcnow(), lesson_id, status],
            )
            if cur.rowcount:
                changed += 1
                _decide(db, lesson_id, status, actor, {})
    return changed


def edit_lesson(db: Database, lesson_id: str, changes: dict[str, Any], *, expected_version: int,
                actor: str = "user") -> dict[str, Any]:
    """Save a reviewer's edit if nobody saved since `expected_version` was read; else StaleEditError."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ReviewError(f"fields not editable: {', '.join(sorted(unknown))} (editable: {', '.join(EDITABLE)})")
    sets = ", ".join(f"{k} = ?" for k in changes)
    with write_transaction(db):
        cur = db.execute(
            f"UPDATE lessons SET {sets}, version = version + 1, edited_by = ?, updated = ? "
            "WHERE id = ? AND version = ?",
            [*changes.values(), actor, utcnow(), lesson_id, expected_version],
        )
        if cur.rowcount == 0:
            current = get_lesson(db, lesson_id)  # raises NotFoundError if it is gone
            raise StaleEditError(
                f"lesson {lesson_id} was changed by {current['edited_by'] or 'someone'} since you opened it "
                f"(version {current['version']}, yours {expected_version}); reload it and apply your edit again"
            )
        _decide(db, lesson_id, "edit", actor, {"changes": changes, "from_version": expected_version})
    return get_lesson(db, lesson_id)
