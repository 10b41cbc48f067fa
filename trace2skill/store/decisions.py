"""Decisions: the record of every human action (a lesson approved, rejected or edited, a skill
version saved by hand, a trajectory's outcome set, a skill's sections locked)."""

from __future__ import annotations

import json
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
