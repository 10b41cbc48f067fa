"""The `comments` table: threads of comments on a lesson, a hunk of a proposal or a whole proposal
(see `trace2skill.comments`). A thread is a first comment (no parent) and its replies (their parent
is the first comment); a thread is open until someone resolves it (its first comment carries that)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from trace2skill.models import utcnow

_COLUMNS = "id, subject_type, subject_id, parent_id, author, text, resolved, resolved_by, resolved_at, created"


@dataclass(frozen=True)
class Comment:
    id: int
    subject_type: str
    subject_id: str
    parent_id: int | None
    author: str
    text: str
    resolved: bool
    resolved_by: str | None
    resolved_at: str | None
    created: str


def _comment(row: Any) -> Comment:
    return Comment(int(row[0]), row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], row[9])


def insert_comment(db: Database, subject_type: str, subject_id: str, parent_id: int | None, author: str,
                   text: str) -> int:
    """Store one comment (joins the caller's transaction) and return its id."""
    cursor = db.execute("INSERT INTO comments (subject_type, subject_id, parent_id, author, text, resolved, created) "
                        "VALUES (?, ?, ?, ?, ?, 0, ?)", [subject_type, subject_id, parent_id, author, text, utcnow()])
    return int(cursor.lastrowid or 0)


def get_comment(db: Database, comment_id: int) -> Comment | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM comments WHERE id = ?", [comment_id]).fetchone()
    return _comment(row) if row else None


def subject_comments(db: Database, subject_type: str, subject_id: str) -> list[Comment]:
    """Every comment on one subject, oldest first."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM comments WHERE subject_type = ? AND subject_id = ? ORDER BY id",
                      [subject_type, subject_id]).fetchall()
    return [_comment(r) for r in rows]


def list_comments(db: Database, subject_type: str | None = None, subject_id: str | None = None, *,
                  open_only: bool = False, limit: int = 200) -> list[Comment]:
    """Comments (first comments and replies), oldest first; `open_only`: only threads still open."""
    clauses, params = [], []
    for column, value in (("c.subject_type", subject_type), ("c.subject_id", subject_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if open_only:
        clauses.append("coalesce((SELECT r.resolved FROM comments r WHERE r.id = c.parent_id), c.resolved) = 0")
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.execute(f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))} FROM comments c{where} "
                      "ORDER BY c.id LIMIT ?", [*params, limit]).fetchall()
    return [_comment(r) for r in rows]


def set_resolved(db: Database, thread_id: int, resolved: bool, by: str | None) -> None:
    """Mark a thread (its first comment) resolved by `by`, or open again."""
    db.execute("UPDATE comments SET resolved = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
               [int(resolved), by if resolved else None, utcnow() if resolved else None, thread_id])


def open_thread_counts(db: Database, subject_type: str, subject_ids: Iterable[str] | None = None, *,
                       prefix: str | None = None) -> dict[str, int]:
    """Open threads per subject: of the subjects given, or of every subject whose id starts with
    `prefix`, or of every subject of that type. Subjects without open threads are left out."""
    sql = "SELECT subject_id, count(*) FROM comments WHERE subject_type = ? AND parent_id IS NULL AND resolved = 0"
    params: list[Any] = [subject_type]
    if subject_ids is not None:
        ids = list(dict.fromkeys(subject_ids))
        if not ids:
            return {}
        sql += f" AND subject_id IN ({', '.join('?' * len(ids))})"
        params.extend(ids)
    if prefix is not None:
        sql += " AND substr(subject_id, 1, ?) = ?"
        params.extend([len(prefix), prefix])
    return {r[0]: int(r[1]) for r in db.execute(sql + " GROUP BY subject_id", params).fetchall()}
