"""The `llm_calls` table: one row per request actually sent, which doubles as the response cache.
A row with `error IS NULL` holds an answer that validated when it was received. Rows name the run
and the run item they were sent for, so a run's (or a trajectory's) calls can be listed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import orjson

from trace2skill.models import LLMCall, TokenUsage, utcnow
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


_COLUMNS = ("id", "run_id", "item_id", "request_hash", "model", "request", "response", "usage", "latency_s", "error",
            "created")
_INSERT = f"INSERT INTO llm_calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=str).decode()


def log_call(ws: Workspace, *, call_id: str, run_id: str | None, request_hash: str, model: str,
             request: dict[str, Any], response: dict[str, Any] | None, usage: dict[str, Any] | None,
             latency_s: float | None, error: str | None, scrub: tuple[str, ...] = (),
             item_id: str | None = None) -> None:
    """Insert one row. `scrub` lists secrets to blank out of every stored text, just in case."""
    row: dict[str, Any] = {
        "id": call_id,
        "run_id": run_id,
        "item_id": item_id,
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
                text = row[key]
                if isinstance(text, str) and secret in text:
                    row[key] = text.replace(secret, "***")
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


def log_cache_hit(ws: Workspace, call_id: str, run_id: str | None, item_id: str | None) -> None:
    """Record that a run answered a request from the cache (the answer of `call_id`)."""
    if run_id is None:
        return
    db = ws.db
    with _write_lock(ws), write_transaction(db):
        db.execute("INSERT INTO llm_cache_hits (call_id, run_id, item_id, created) VALUES (?, ?, ?, ?)",
                   [call_id, run_id, item_id, utcnow()])


_LOG_SQL = """
SELECT id, run_id, item_id, model, request, response, usage, latency_s, error, created, 0 AS cached
  FROM llm_calls WHERE {where}
UNION ALL
SELECT c.id, h.run_id, h.item_id, c.model, c.request, c.response, c.usage, 0, NULL, h.created, 1
  FROM llm_cache_hits h JOIN llm_calls c ON c.id = h.call_id WHERE {hit_where}
ORDER BY created DESC, cached LIMIT ? OFFSET ?"""


def list_calls(db: Any, *, run_id: str | None = None, item_id: str | None = None, errors_only: bool = False,
               limit: int = 50, offset: int = 0) -> list[LLMCall]:
    """The call log, newest first: requests sent and cache hits, by run and/or item."""
    clauses, hit_clauses, params, hit_params = ["1"], ["1"], [], []
    for column, value in (("run_id", run_id), ("item_id", item_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            hit_clauses.append(f"h.{column} = ?")
            params.append(value)
            hit_params.append(value)
    if errors_only:
        clauses.append("error IS NOT NULL")
        hit_clauses.append("0")
    sql = _LOG_SQL.format(where=" AND ".join(clauses), hit_where=" AND ".join(hit_clauses))
    rows = db.execute(sql, [*params, *hit_params, limit, offset]).fetchall()
    names = ("id", "run_id", "item_id", "model", "request", "response", "usage", "latency_s", "error", "created",
             "cached")
    out = []
    for row in rows:
        data = dict(zip(names, row))
        for key in ("request", "response", "usage"):
            data[key] = orjson.loads(data[key]) if data[key] else ({} if key != "response" else None)
        data["cached"] = bool(data["cached"])
        out.append(LLMCall(**data))
    return out


def count_calls(db: Any, *, run_id: str | None = None) -> dict[str, int]:
    """Requests sent, failed and cache hits (of one run, or of the workspace)."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    sent, failed = db.execute(f"SELECT count(*), count(error) FROM llm_calls {where}", params).fetchone()
    hits = db.execute(f"SELECT count(*) FROM llm_cache_hits {where}", params).fetchone()[0]
    return {"sent": int(sent), "failed": int(failed), "cached": int(hits)}


_USAGE_SQL = """
SELECT model, count(*),
       coalesce(sum(json_extract(usage, '$.prompt_tokens')), 0),
       coalesce(sum(json_extract(usage, '$.cached_tokens')), 0),
       coalesce(sum(json_extract(usage, '$.completion_tokens')), 0)
  FROM llm_calls WHERE run_id = ? AND usage IS NOT NULL GROUP BY model ORDER BY model"""


def run_usage(db: Any, run_id: str) -> list[TokenUsage]:
    """The tokens a run's requests used, per model (prompt, of which cached, and completion). Only
    requests sent count: answers a run took from the cache cost nothing."""
    return [TokenUsage(model=model or "", calls=int(n), prompt_tokens=int(p), cached_tokens=int(c),
                       completion_tokens=int(o))
            for model, n, p, c, o in db.execute(_USAGE_SQL, [run_id]).fetchall()]


def recent_latencies(db: Any, model: str, limit: int = 30) -> list[float]:
    """Seconds the latest answered requests to `model` took (newest first)."""
    rows = db.execute("SELECT latency_s FROM llm_calls WHERE model = ? AND error IS NULL AND latency_s IS NOT NULL "
                      "ORDER BY created DESC LIMIT ?", [model, limit]).fetchall()
    return [float(r[0]) for r in rows]
