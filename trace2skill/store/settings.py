"""The `settings` table: workspace settings as text (checked and resolved in `trace2skill.settings`)."""

from __future__ import annotations

import json

from sqlite_utils import Database

from trace2skill.models import ModelPrice
from trace2skill.store.workspace import write_transaction

PRICES_KEY = "prices"  # the price table: JSON {model: {prompt, cached_prompt, completion}} per 1M tokens


def stored_settings(db: Database) -> dict[str, str]:
    """Every stored setting, key -> value (the price table, kept under its own key, is left out:
    read it with `stored_prices`)."""
    return {row["key"]: row["value"] for row in db.table("settings").rows if row["key"] != PRICES_KEY}


def put_setting(db: Database, key: str, value: str | None) -> None:
    """Store `value` under `key`; None removes the key."""
    with write_transaction(db):
        table = db.table("settings")
        if value is None:
            table.delete_where("key = ?", [key])
        else:
            table.upsert({"key": key, "value": value}, pk="key")


def stored_prices(db: Database) -> dict[str, ModelPrice]:
    """The workspace's price table, model name -> prices (empty when none was set)."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [PRICES_KEY]).fetchone()
    if not row or not row[0]:
        return {}
    return {model: ModelPrice.model_validate(price) for model, price in json.loads(row[0]).items()}


def put_prices(db: Database, prices: dict[str, ModelPrice]) -> None:
    """Store the whole price table (an empty one removes the key)."""
    data = {model: price.model_dump() for model, price in sorted(prices.items())}
    put_setting(db, PRICES_KEY, json.dumps(data) if data else None)
