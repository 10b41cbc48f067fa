"""A reviewer's unsaved work on a comparison of two skill versions (the Review & diff screen's hunk
decisions and hand edits), kept in the workspace until they save, so a reload, a crash or another
browser does not lose it. Items are the screen's own: a name (which hunk, which file's text) and a
value; the draft of a pair and reviewer is replaced whole each time it changes."""

from __future__ import annotations

from collections.abc import Mapping

from sqlite_utils import Database

from trace2skill.models import utcnow
from trace2skill.store.workspace import write_transaction

_WHERE = "old_id = ? AND new_id = ? AND reviewer = ?"


def load_draft(db: Database, old_id: str, new_id: str, reviewer: str) -> dict[str, str]:
    """The reviewer's draft of this comparison (item -> value; empty when none)."""
    rows = db.execute(f"SELECT item, value FROM review_drafts WHERE {_WHERE} ORDER BY item", [old_id, new_id, reviewer])
    return {str(item): str(value) for item, value in rows.fetchall()}


def save_draft(db: Database, old_id: str, new_id: str, reviewer: str, items: Mapping[str, str]) -> None:
    """Make the draft exactly `items` (none: no draft)."""
    now = utcnow()
    with write_transaction(db):
        db.execute(f"DELETE FROM review_drafts WHERE {_WHERE}", [old_id, new_id, reviewer])
        db.conn.executemany(
            "INSERT INTO review_drafts (old_id, new_id, reviewer, item, value, updated) VALUES (?, ?, ?, ?, ?, ?)",
            [(old_id, new_id, reviewer, item, value, now) for item, value in sorted(items.items())])


def clear_draft(db: Database, old_id: str, new_id: str, reviewer: str) -> None:
    save_draft(db, old_id, new_id, reviewer, {})
