"""Decisions: the record of every human action (a lesson approved, rejected or edited, a skill
version saved by hand, a trajectory's outcome set, a skill's sections locked)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from trace2skill.models import Decision, utcnow


def record_decision(db: Database, subject_type: str, subject_id: str, action: str, *, actor: str = "user",
                    detail: dict[str, Any] | None = None) -> None:
    """Store one decision (joins the caller's transaction when there is one). Plain SQL: a bulk
    review records one per lesson, and the table API's per-call overhead is 25 times the insert."""
    db.execute("INSERT INTO decisions (subject_type, subject_id, action, actor, detail, created) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               [subject_type, subject_id, action, actor, json.dumps(detail or {}, ensure_ascii=False), utcnow()])


def list_decisions(db: Database, subject_type: str | None = None, subject_id: str | None = None, *,
                   limit: int = 100) -> list[Decision]:
    """Decisions about a kind of subject (and one subject of it), newest first."""
    clauses, params = [], []
    for column, value in (("subject_type", subject_type), ("subject_id", subject_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    rows = db.table("decisions").rows_where(" AND ".join(clauses) or None, params, order_by="id DESC", limit=limit)
    return [Decision(**{**row, "detail": json.loads(row["detail"] or "{}")}) for row in rows]


def known_reviewers(db: Database, *, limit: int = 50) -> list[str]:
    """Names that made decisions here, most recent first."""
    rows = db.execute("SELECT actor, MAX(id) AS last FROM decisions GROUP BY actor ORDER BY last DESC LIMIT ?",
                      [limit]).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class ActivityFilter:
    """Which decisions the activity log shows: by reviewer, by kind of subject, about one subject
    (an id, or the start of one), between two days (inclusive, "YYYY-MM-DD")."""

    reviewers: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    subject: str | None = None
    since: str | None = None
    until: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.reviewers:
            clauses.append(f"actor IN ({', '.join('?' * len(self.reviewers))})")
            params.extend(self.reviewers)
        if self.kinds:
            clauses.append(f"subject_type IN ({', '.join('?' * len(self.kinds))})")
            params.extend(self.kinds)
        if self.subject:
            clauses.append("subject_id LIKE ? ESCAPE '\\'")
            params.append(self.subject.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if self.since:
            clauses.append("created >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("created < date(?, '+1 day')")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def activity(db: Database, flt: ActivityFilter = ActivityFilter(), *, limit: int | None = 500,
             offset: int = 0) -> list[Decision]:
    """Decisions matching `flt`, newest first (`limit` None: all of them, for an export)."""
    where, params = flt.where()
    page = " LIMIT ? OFFSET ?" if limit is not None else ""
    rows = db.execute(f"SELECT id, subject_type, subject_id, action, actor, detail, created FROM decisions{where} "
                      f"ORDER BY id DESC{page}", [*params, *([limit, offset] if limit is not None else [])])
    return [Decision(id=r[0], subject_type=r[1], subject_id=r[2], action=r[3], actor=r[4],
                     detail=json.loads(r[5] or "{}"), created=r[6]) for r in rows.fetchall()]


def activity_count(db: Database, flt: ActivityFilter = ActivityFilter()) -> int:
    where, params = flt.where()
    return int(db.execute(f"SELECT count(*) FROM decisions{where}", params).fetchone()[0])


def decision_kinds(db: Database) -> list[str]:
    """The kinds of subject decisions were made about here."""
    return [r[0] for r in db.execute("SELECT DISTINCT subject_type FROM decisions ORDER BY subject_type")]


def decisions_about(db: Database, subject_type: str, subject_ids: list[str], action: str) -> list[Decision]:
    """The decisions of one action about any of these subjects, oldest first."""
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return []
    rows = db.execute(f"SELECT id, subject_type, subject_id, action, actor, detail, created FROM decisions "
                      f"WHERE subject_type = ? AND action = ? AND subject_id IN ({', '.join('?' * len(ids))}) "
                      "ORDER BY id", [subject_type, action, *ids])
    return [Decision(id=r[0], subject_type=r[1], subject_id=r[2], action=r[3], actor=r[4],
                     detail=json.loads(r[5] or "{}"), created=r[6]) for r in rows.fetchall()]


def latest_deciders(db: Database, subject_type: str, ids: list[str]) -> dict[str, str]:
    """Who made the latest decision on each of these subjects (those with none are left out)."""
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = db.execute(f"SELECT subject_id, actor FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions "
                      f"WHERE subject_type = ? AND subject_id IN ({marks}) GROUP BY subject_id)",
                      [subject_type, *ids]).fetchall()
    return {r[0]: r[1] for r in rows}
