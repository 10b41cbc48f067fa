"""Lessons: insert (idempotent by content id), filtered SQL-paginated reads (as `Lesson` records),
reviewed edits with optimistic concurrency (a stale save is refused, never silently overwritten),
decisions recorded."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError, ReviewError, StaleEditError
from trace2skill.models import LESSON_KINDS, LESSON_STATUSES, Lesson, LessonFlag, utcnow
from trace2skill.store.decisions import record_decision
from trace2skill.store.runs import run_config
from trace2skill.store.trajectories import fts_query
from trace2skill.store.workspace import write_transaction

EDITABLE = ("title", "description", "content", "kind")


def _row(lesson: Lesson, now: str) -> tuple[Any, ...]:
    evidence = json.dumps([e.model_dump() for e in lesson.evidence], ensure_ascii=False)
    grounded = None if lesson.grounded is None else int(lesson.grounded)
    flags = json.dumps([f.model_dump() for f in lesson.flags], ensure_ascii=False)
    return (lesson.id, lesson.run_id, lesson.trajectory_id, lesson.kind, lesson.title, lesson.description,
            lesson.content, evidence, grounded, lesson.status, flags, lesson.round, json.dumps(lesson.revises),
            now, now)


def insert_lessons(db: Database, lessons: Iterable[Lesson]) -> int:
    """Insert lessons whose id is not present yet; returns how many were new. Joins an open
    transaction when there is one (so a worker stores lessons and its item status atomically)."""
    now = utcnow()
    rows = [_row(lesson, now) for lesson in lessons]
    with write_transaction(db):
        before = db.conn.total_changes
        db.conn.executemany(
            "INSERT OR IGNORE INTO lessons (id, run_id, trajectory_id, kind, title, description, content, "
            "evidence, grounded, status, flags, round, revises, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return db.conn.total_changes - before


VERIFICATION_SQL = {
    "verified": "l.verdict IN ('fixed', 'kept')",
    "not_verified": "l.verdict IN ('not_fixed', 'broken')",
    "not_verifiable": "l.verdict = 'not_verifiable'",
    "unchecked": "l.verdict IS NULL",
}


@dataclass
class LessonFilter:
    status: str | None = None
    kind: str | None = None
    run_id: str | None = None
    trajectory_id: str | None = None
    grounded: bool | None = None
    unchecked: bool = False  # only lessons whose grounding was never checked
    search: str | None = None
    flagged: bool | None = None  # True: only lessons with quality flags; False: only those without
    verification: str | None = None  # "verified" | "not_verified" | "not_verifiable" | "unchecked"
    assigned_to: str | None = None  # only lessons in this reviewer's queue

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
        if self.unchecked:
            clauses.append("l.grounded IS NULL")
        if self.flagged is not None:
            clauses.append("l.flags != '[]'" if self.flagged else "l.flags = '[]'")
        if self.verification:
            clauses.append(VERIFICATION_SQL[self.verification])
        if self.assigned_to:
            clauses.append("l.id IN (SELECT lesson_id FROM lesson_assignments WHERE reviewer = ?)")
            params.append(self.assigned_to)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _lesson(row: dict[str, Any]) -> Lesson:
    grounded = None if row["grounded"] is None else bool(row["grounded"])
    decoded = {k: json.loads(row[k]) for k in ("evidence", "flags", "revises")}
    return Lesson(**{**row, **decoded, "grounded": grounded})


def list_lessons(db: Database, flt: LessonFilter | None = None, *, limit: int = 50,
                 offset: int = 0) -> list[Lesson]:
    where, params = (flt or LessonFilter()).where()
    sql = f"SELECT l.* FROM lessons l{where} ORDER BY l.created DESC, l.rowid DESC LIMIT ? OFFSET ?"
    return [_lesson(r) for r in db.query(sql, [*params, limit, offset])]


def page_lessons(db: Database, flt: LessonFilter | None = None, *, limit: int = 50,
                 offset: int = 0) -> list[Lesson]:
    """Like `list_lessons` (newest first), ordered by rowid so a page of 50,000 lessons is read
    through the primary key instead of sorting the table (insertion order is creation order)."""
    where, params = (flt or LessonFilter()).where()
    sql = f"SELECT l.* FROM lessons l{where} ORDER BY l.rowid DESC LIMIT ? OFFSET ?"
    return [_lesson(r) for r in db.query(sql, [*params, limit, offset])]


def count_lessons(db: Database, flt: LessonFilter | None = None) -> int:
    """How many lessons match. Those without flags are all but the flagged ones, which a partial
    index holds (a scan of 500,000 lessons' flags took 0.15 s)."""
    flt = flt or LessonFilter()
    if flt.flagged is False:
        return count_lessons(db, replace(flt, flagged=None)) - count_lessons(db, replace(flt, flagged=True))
    where, params = flt.where()
    return int(db.execute(f"SELECT count(*) FROM lessons l{where}", params).fetchone()[0])


def lesson_ids(db: Database, flt: LessonFilter | None = None) -> list[str]:
    where, params = (flt or LessonFilter()).where()
    return [r[0] for r in db.execute(f"SELECT l.id FROM lessons l{where} ORDER BY l.rowid", params)]


def lessons_by_ids(db: Database, ids: Iterable[str]) -> list[Lesson]:
    """The lessons with these ids (one query however many), in id order."""
    wanted = json.dumps(sorted(set(ids)))
    return [_lesson(r) for r in db.query(
        "SELECT * FROM lessons WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id", [wanted])]


def approved_lessons(db: Database, ids: Iterable[str] | None = None) -> list[Lesson]:
    """Approved lessons (only those among `ids` when given), in id order."""
    if ids is None:
        return [_lesson(r) for r in db.query("SELECT * FROM lessons WHERE status = 'approved' ORDER BY id")]
    return [r for r in lessons_by_ids(db, ids) if r.status == "approved"]


def get_lesson(db: Database, lesson_id: str) -> Lesson:
    """A lesson by id or unambiguous id prefix."""
    rows = list(db.query("SELECT * FROM lessons WHERE id = ?", [lesson_id]))
    if not rows:
        rows = list(db.query("SELECT * FROM lessons WHERE id LIKE ? LIMIT 2", [lesson_id + "%"]))
        if len(rows) != 1:
            raise NotFoundError(f"no lesson with id {lesson_id!r}")
    return _lesson(rows[0])


def approved_counts(db: Database) -> tuple[int, int]:
    """(approved lessons, distinct trajectories they come from)."""
    row = db.execute("SELECT count(*), count(DISTINCT trajectory_id) FROM lessons WHERE status = 'approved'").fetchone()
    return int(row[0]), int(row[1])


def lesson_trajectories(db: Database, ids: Iterable[str]) -> dict[str, str]:
    """lesson id -> trajectory id (one query however many ids)."""
    wanted = json.dumps(sorted(set(ids)))
    return {r[0]: r[1] for r in db.execute(
        "SELECT id, trajectory_id FROM lessons WHERE id IN (SELECT value FROM json_each(?))", [wanted])}


def lesson_texts(db: Database, ids: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(id, trajectory id, title + description + content) of the lessons with these ids, or of
    every lesson not rejected."""
    where, params = ("status != 'rejected'", []) if ids is None else (
        "id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])
    rows = db.execute(f"SELECT id, trajectory_id, title, description, content FROM lessons WHERE {where}", params)
    return [(lesson_id, trajectory_id, "\n".join(parts)) for lesson_id, trajectory_id, *parts in rows]


def run_lesson_trajectories(db: Database, run_id: str) -> dict[str, str]:
    """lesson id -> trajectory id for the lessons a consolidation run used ({} for no such run)."""
    config = run_config(db, run_id)
    return lesson_trajectories(db, config.get("lesson_ids") or []) if config is not None else {}


# --------------------------------------------------------------------------- review


def set_status(db: Database, ids: list[str], status: str, *, actor: str = "user",
               detail: dict[str, Any] | None = None) -> int:
    """Approve/reject/re-propose lessons; every change is recorded as a decision (with `detail`:
    e.g. the flags a reviewer confirmed, or why a policy rejected the lesson)."""
    if status not in LESSON_STATUSES:
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
                record_decision(db, "lesson", lesson_id, status, actor=actor, detail=detail or {})
    return changed


def _check_changes(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ReviewError(f"fields not editable: {', '.join(sorted(unknown))} (editable: {', '.join(EDITABLE)})")
    if "kind" in changes and changes["kind"] not in LESSON_KINDS:
        raise ReviewError(f"unknown lesson kind {changes['kind']!r}; use {', '.join(LESSON_KINDS)}")


def edit_lesson(db: Database, lesson_id: str, changes: dict[str, Any], *, expected_version: int,
                actor: str = "user") -> Lesson:
    """Save a reviewer's edit if nobody saved since `expected_version` was read; else StaleEditError."""
    _check_changes(changes)
    sets = ", ".join(f"{k} = ?" for k in changes)
    with write_transaction(db):
        cur = db.execute(
            f"UPDATE lessons SET {sets}, version = version + 1, edited_by = ?, updated = ? "
            "WHERE id = ? AND version = ?",
            [*changes.values(), actor, utcnow(), lesson_id, expected_version],
        )
        if cur.rowcount == 0:
            current = get_lesson(db, lesson_id)  # raises NotFoundError if it is gone
            raise _stale(lesson_id, current.edited_by, current.version, expected_version, "edit")
        record_decision(db, "lesson", lesson_id, "edit", actor=actor,
                        detail={"changes": changes, "from_version": expected_version})
    return get_lesson(db, lesson_id)


def _stale(lesson_id: str, by: str | None, version: int, expected: int, what: str) -> StaleEditError:
    return StaleEditError(f"lesson {lesson_id} was changed by {by or 'someone'} since you opened it "
                          f"(version {version}, yours {expected}); reload it and apply your {what} again")


def set_status_checked(db: Database, lesson_id: str, status: str, *, expected_version: int,
                       actor: str = "user") -> bool:
    """Change one lesson's status only if nobody saved it since `expected_version` was read
    (StaleEditError otherwise). Returns whether the status changed; the decision is recorded."""
    with write_transaction(db):
        row = db.execute("SELECT version, edited_by FROM lessons WHERE id = ?", [lesson_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no lesson with id {lesson_id!r}")
        if row[0] != expected_version:
            raise _stale(lesson_id, row[1], row[0], expected_version, "change")
        return set_status(db, [lesson_id], status, actor=actor) == 1


def save_lesson_row(db: Database, lesson_id: str, changes: dict[str, Any], *, expected_version: int,
                    actor: str = "user") -> Lesson:
    """Save an edited table row (text fields and/or status) atomically, refusing a stale save."""
    status = changes.get("status")
    text = {k: v for k, v in changes.items() if k in EDITABLE}
    unknown = set(changes) - set(EDITABLE) - {"status"}
    if unknown:
        raise ReviewError(f"fields not editable: {', '.join(sorted(unknown))}")
    if status is not None and status not in LESSON_STATUSES:
        raise ReviewError(f"unknown lesson status {status!r}")
    for name in ("title", "content"):
        if name in text and not str(text[name] or "").strip():
            raise ReviewError(f"a lesson's {name} cannot be empty")
    with write_transaction(db):
        version = expected_version
        if text:
            version = edit_lesson(db, lesson_id, text, expected_version=version, actor=actor).version
        if status is not None:
            set_status_checked(db, lesson_id, status, expected_version=version, actor=actor)
    return get_lesson(db, lesson_id)


# --------------------------------------------------------------------------- quality


def set_flags(db: Database, flags: dict[str, list[LessonFlag]]) -> None:
    """Replace the quality flags of these lessons (lesson id -> flags)."""
    rows = [(json.dumps([f.model_dump() for f in found], ensure_ascii=False), lesson_id)
            for lesson_id, found in flags.items()]
    with write_transaction(db):
        db.conn.executemany("UPDATE lessons SET flags = ? WHERE id = ?", rows)


def flag_counts(db: Database, flt: LessonFilter | None = None) -> dict[str, int]:
    """How many of the matching lessons carry each flag code."""
    where, params = (flt or LessonFilter()).where()
    sql = (f"SELECT json_extract(f.value, '$.code'), count(*) FROM lessons l, json_each(l.flags) f{where} "
           "GROUP BY 1 ORDER BY 2 DESC")
    return {code: int(n) for code, n in db.execute(sql, params)}


def rejected_texts(db: Database, limit: int = 500) -> list[tuple[str, str]]:
    """(id, title + guidance) of lessons reviewers rejected, newest first."""
    return [(r[0], f"{r[1]}\n{r[2]}") for r in db.execute(
        "SELECT id, title, content FROM lessons WHERE status = 'rejected' ORDER BY updated DESC LIMIT ?", [limit])]


def rejected_for_skill(db: Database, skill: str | None, *, limit: int = 20,
                       exclude_actors: Iterable[str] = ()) -> list[Lesson]:
    """Lessons rejected for `skill`, newest first, at most `limit`: those extracted against one of
    its versions and those extracted against no skill (None: every rejected lesson). A rejection
    by one of `exclude_actors` (e.g. an automatic quality policy) does not count."""
    sql = ("SELECT l.* FROM lessons l LEFT JOIN runs r ON r.id = l.run_id "
           "LEFT JOIN skill_versions v ON v.id = json_extract(r.config, '$.skill_version') "
           "WHERE l.status = 'rejected' AND (? IS NULL OR v.skill IS NULL OR v.skill = ?) "
           "AND coalesce(l.edited_by, '') NOT IN (SELECT value FROM json_each(?)) "
           "ORDER BY l.updated DESC, l.rowid DESC LIMIT ?")
    return [_lesson(r) for r in db.query(sql, [skill, skill, json.dumps(list(exclude_actors)), limit])]
