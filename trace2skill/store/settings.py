"""The `settings` table: workspace settings as text (checked and resolved in `trace2skill.settings`)."""

from __future__ import annotations

from sqlite_utils import Database

from trace2skill.store.workspace import write_transaction


def stored_settings(db: Database) -> dict[str, str]:
    """Every stored setting, key -> value."""
    return {row["key"]: row["value"] for row in db.table("settings").rows}


def put_setting(db: Database, key: str, value: str | None) -> None:
    """Store `value` under `key`; None removes the key."""
    with write_transaction(db):
        table = db.table("settings")
        if value is None:
            table.delete_where("key = ?", [key])
        else:
            table.upsert({"key": key, "value": value}, pk="key")
