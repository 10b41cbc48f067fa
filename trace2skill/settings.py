"""Workspace settings kept in the database: the LLM endpoint and model the app uses.

API keys are never stored: they come from OPENAI_API_KEY only (see trace2skill.llm.config).
"""

from __future__ import annotations

from sqlite_utils import Database

from trace2skill.llm import LLMConfig
from trace2skill.store.workspace import write_transaction

KEYS = ("base_url", "model", "concurrency")
FORBIDDEN = ("api_key", "key", "token", "secret", "password")


def get_settings(db: Database) -> dict[str, str]:
    return {k: v for k, v in db.execute("SELECT key, value FROM settings")}


def set_setting(db: Database, key: str, value: str | None) -> None:
    if key not in KEYS or any(word in key.lower() for word in FORBIDDEN):
        raise ValueError(f"{key!r} is not a workspace setting (keys and secrets live in the environment)")
    with write_transaction(db):
        if value:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value])
        else:
            db.execute("DELETE FROM settings WHERE key = ?", [key])


def llm_config(db: Database) -> LLMConfig:
    """Stored settings first, then the environment; no base URL means the embedded local model."""
    stored = get_settings(db)
    return LLMConfig.from_env(base_url=stored.get("base_url"), model=stored.get("model"))
