"""The `lesson_assignments` table: which lessons are in which reviewer's queue, who put them there
and when (see `trace2skill.assignments`). A lesson may be in several reviewers' queues."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from trace2skill.models import utcnow


@dataclass(frozen=True)
class QueueProgress:
    """One reviewer's queue: lessons assigned, decided (approved or rejected, by anyone), decided
    by this reviewer, and still proposed."""

    reviewer: str
    assigned: int
    decided: int
    decided_by_them: int

    @property
    def left(self) -> int:
        return self.assigned - self.decided


def add_assignments(db: Database, pairs: Iterable[tuple[str, str]], assigned_by: str) -> int:
    """Put each (lesson id, reviewer) in the queue (joins the caller's transaction); pairs already
    there stay as they were. Returns how many were new."""
    added = 0
    now = utcnow()
    for lesson_id, reviewer in pairs:
        cursor = db.execute("INSERT OR IGNORE INTO lesson_assignments (lesson_id, reviewer, assigned_by, created) "
                            "VALUES (?, ?, ?, ?)", [lesson_id, reviewer, assigned_by, now])
        added += max(cursor.rowcount, 0)
    return added


def remove_assignments(db: Database, lesson_ids: Iterable[str], reviewer: str) -> int:
    """Take lessons out of a reviewer's queue; returns how many were in it."""
    removed = 0
    for lesson_id in lesson_ids:
        cursor = db.execute("DELETE FROM lesson_assignments WHERE lesson_id = ? AND reviewer = ?",
                            [lesson_id, reviewer])
        removed += max(cursor.rowcount, 0)
    return removed


def assigned_lesson_ids(db: Database, reviewer: str) -> list[str]:
    """The lessons in a reviewer's queue, in the order they were assigned."""
    return [r[0] for r in db.execute("SELECT lesson_id FROM lesson_assignments WHERE reviewer = ? ORDER BY rowid",
                                     [reviewer]).fetchall()]


def reviewers_of(db: Database, lesson_ids: Iterable[str]) -> dict[str, list[str]]:
    """Lesson id -> the reviewers whose queue holds it (lessons in no queue left out)."""
    ids = list(dict.fromkeys(lesson_ids))
    if not ids:
        return {}
    out: dict[str, list[str]] = {}
    rows = db.execute(f"SELECT lesson_id, reviewer FROM lesson_assignments WHERE lesson_id IN "
                      f"({', '.join('?' * len(ids))}) ORDER BY rowid", ids).fetchall()
    for lesson_id, reviewer in rows:
        out.setdefault(lesson_id, []).append(reviewer)
    return out


_PROGRESS = """SELECT a.reviewer, count(*),
                      sum(l.status != 'proposed'),
                      sum(l.status != 'proposed' AND EXISTS (SELECT 1 FROM decisions d WHERE d.subject_type = 'lesson'
                          AND d.subject_id = a.lesson_id AND d.actor = a.reviewer))
               FROM lesson_assignments a JOIN lessons l ON l.id = a.lesson_id
               GROUP BY a.reviewer ORDER BY a.reviewer"""


def queue_progress(db: Database) -> list[QueueProgress]:
    """Every reviewer with a queue, by name."""
    return [QueueProgress(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in db.execute(_PROGRESS).fetchall()]
