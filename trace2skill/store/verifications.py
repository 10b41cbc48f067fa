"""Replay verifications of lessons: every check (verdict, pass rates, the replays' answers and
scores) and the latest verdict kept on the lesson for filtering."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlite_utils import Database

from trace2skill.models import LessonCheck, utcnow
from trace2skill.store.workspace import write_transaction

_COLUMNS = ("lesson_id", "run_id", "verdict", "rate_with", "rate_without", "repeats", "round", "evidence", "created")


def save_checks(db: Database, checks: Iterable[LessonCheck]) -> int:
    """Store checks (one per lesson and run; a repeated check replaces the earlier one) and set each
    lesson's latest verdict. Joins the caller's transaction."""
    now = utcnow()
    rows = [(c.lesson_id, c.run_id, c.verdict, c.rate_with, c.rate_without, c.repeats, c.round,
             json.dumps(c.evidence, ensure_ascii=False, default=str), now) for c in checks]
    marks = ", ".join("?" * len(_COLUMNS))
    with write_transaction(db):
        db.conn.executemany(f"INSERT OR REPLACE INTO lesson_checks ({', '.join(_COLUMNS)}) VALUES ({marks})", rows)
        db.conn.executemany("UPDATE lessons SET verdict = ? WHERE id = ?", [(r[2], r[0]) for r in rows])
    return len(rows)


def checks_of(db: Database, lesson_id: str) -> list[LessonCheck]:
    """A lesson's checks, newest first."""
    rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM lesson_checks WHERE lesson_id = ? "
                      "ORDER BY created DESC, rowid DESC", [lesson_id]).fetchall()
    return [LessonCheck(**{**dict(zip(_COLUMNS, row)), "evidence": json.loads(row[7])}) for row in rows]


def run_checks(db: Database, run_id: str) -> list[LessonCheck]:
    rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM lesson_checks WHERE run_id = ? ORDER BY rowid",
                      [run_id]).fetchall()
    return [LessonCheck(**{**dict(zip(_COLUMNS, row)), "evidence": json.loads(row[7])}) for row in rows]


def verdict_counts(db: Database, run_id: str | None = None) -> dict[str, int]:
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    return {v: int(n) for v, n in db.execute(f"SELECT verdict, count(*) FROM lesson_checks {where} GROUP BY 1",
                                             params)}


def verified_ids(db: Database, ids: Iterable[str]) -> set[str]:
    """Which of these lessons are verified (their latest verdict: fixed or kept)."""
    wanted = json.dumps(sorted(set(ids)))
    return {r[0] for r in db.execute("SELECT id FROM lessons WHERE id IN (SELECT value FROM json_each(?)) "
                                      "AND verdict IN ('fixed', 'kept')", [wanted])}
