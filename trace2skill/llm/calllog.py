"""The `llm_calls` table: one row per request actually sent, which doubles as the response cache.

All attempts of one logical call (transport retries, re-asks after an invalid answer) share the
request hash of the caller's original request, so a later identical request finds the attempt that
succeeded. A row with `error IS NULL` holds an answer that validated when it was received.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any, Iterator

import orjson

from trace2skill.models import canonical_json, utcnow
from trace2skill.store.workspace import Workspace, write_transaction


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(ws: Workspace) -> threading.Lock:
    """One lock per database file: threads of this process queue here (woken at once on release)
    instead of in SQLite's busy handler, which sleeps in growing steps of up to 100 ms."""
    key = str(ws.path)
    with _write_locks_guard:
        lock = _write_locks.get(key)
        if lock is None:
            lock = _write_locks[key] = threading.Lock()
        return lock


def request_hash(model: str, messages: list[dict[str, Any]], response_format: dict[str, Any],
                 temperature: float, max_tokens: int) -> str:
    """sha256 of the canonical request; independent of base URL, key and timeouts."""
    payload = {
        "model": model,
        "messages": messages,
        "response_format": response_format,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    return hashlib.sha256(canonical_json(payload)).hexdigest()


_COLUMNS = ("id", "run_id", "request_hash", "model", "request", "response", "usage", "latency_s", "error", "created")
_INSERT = f"INSERT INTO llm_calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def new_call_id() -> str:
    return uuid.uuid4().hex


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=str).decode()


def log_call(ws: Workspace, *, call_id: str, run_id: str | None, request_hash: str, model: str,
             request: dict[str, Any], response: dict[str, Any] | None, usage: dict[str, Any] | None,
             latency_s: float | None, error: str | None, scrub: tuple[str, ...] = ()) -> None:
    """Insert one row. `scrub` lists secrets to blank out of every stored text, just in case."""
    row = {
        "id": call_id,
        "run_id": run_id,
        "request_hash": request_hash,
        "model": model,
        "request": _dumps(request),
        "response": _dumps(response),
        "usage": _dumps(usage),
        "latency_s": round(latency_s, 4) if latency_s is not None else None,
        "error": error,
        "created": utcnow(),
    }
    for secret in scrub:
        if secret:
            for key in ("request", "response", "error"):
                if row[key] and secret in row[key]:
                    row[key] = row[key].replace(secret, "***")
    db = ws.db
    with _write_lock(ws), write_transaction(db):
        db.execute(_INSERT, [row[c] for c in _COLUMNS])


def cached_rows(ws: Workspace, request_hash: str) -> Iterator[dict[str, Any]]:
    """Successful rows for this request, newest first (response and usage decoded)."""
    cursor = ws.db.execute(
        "SELECT id, response, usage, latency_s FROM llm_calls "
        "WHERE request_hash = ? AND error IS NULL AND response IS NOT NULL "
        "ORDER BY created DESC, rowid DESC",
        [request_hash],
    )
    for call_id, response, usage, latency_s in cursor.fetchall():
        yield {
            "id": call_id,
            "response": orjson.loads(response),
            "usage": orjson.loads(usage) if usage else {},
            "latency_s": latency_s or 0.0,
        }
