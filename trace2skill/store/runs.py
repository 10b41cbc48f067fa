"""Runs (extraction, consolidation, evaluation) and their per-item state, kept in the database so a
run survives a page reload, a crash or a restart."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import utcnow
from trace2skill.store.workspace import write_transaction

ITEM_STATUSES = ("queued", "running", "done", "failed", "cancelled")


def new_run_id(kind: str) -> str:
    """Sortable and unique: kind prefix, time, randomness."""
    return f"{kind[:3]}-{int(time.time() * 1000):x}-{secrets.token_hex(3)}"


def create_run(db: Database, kind: str, config: dict[str, Any], item_ids: list[str]) -> str:
    run_id = new_run_id(kind)
    with write_transaction(db):
        db.execute(
            "INSERT INTO runs (id, kind, config, status, counters, created) VALUES (?, ?, ?, 'queued', '{}', ?)",
            [run_id, kind, json.dumps(config, ensure_ascii=False), utcnow()],
        )
        db.conn.executemany(
            "INSERT INTO run_items (run_id, item_id) VALUES (?, ?)", [(run_id, i) for i in dict.fromkeys(item_ids)]
        )
    return run_id


def get_run(db: Database, run_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        raise NotFoundError(f"no run with id {run_id!r}")
    run = rows[0]
    run["config"] = json.loads(run["config"])
    run["counters"] = json.loads(run["counters"])
    run["progress"] = run_progress(db, run_id)
    return run


def list_runs(db: Database, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    rows = list(db.query(f"SELECT id FROM runs {where} ORDER BY created DESC, id DESC LIMIT ?", [*params, limit]))
    return [get_run(db, r["id"]) for r in rows]


def run_progress(db: Database, run_id: str) -> dict[str, Any]:
    counts = {s: 0 for s in ITEM_STATUSES}
    for status, n in db.execute("SELECT status, count(*) FROM run_items WHERE run_id = ? GROUP BY status", [run_id]):
        counts[status] = n
    tokens = db.execute(
        "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM run_items WHERE run_id = ?",
        [run_id],
    ).fetchone()
    return {**counts, "total": sum(counts.values()), "prompt_tokens": tokens[0], "completion_tokens": tokens[1]}


def list_items(db: Database, run_id: str, status: str | None = None, limit: int = 1000,
               offset: int = 0) -> list[dict[str, Any]]:
    where = "run_id = ?" + (" AND status = ?" if status else "")
    params: list[Any] = [run_id, status] if status else [run_id]
    return list(db.query(f"SELECT * FROM run_items WHERE {where} ORDER BY rowid LIMIT ? OFFSET ?",
                         [*params, limit, offset]))


def pending_items(db: Database, run_id: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT item_id FROM run_items WHERE run_id = ? AND status = 'queued' ORDER BY rowid", [run_id])]


def set_run_status(db: Database, run_id: str, status: str, error: str | None = None) -> None:
    now = utcnow()
    with write_transaction(db):
        db.execute(
            "UPDATE runs SET status = ?, error = ?, heartbeat = ?, "
            "started = CASE WHEN ? = 'running' THEN coalesce(started, ?) ELSE started END, "
            "finished = CASE WHEN ? IN ('done', 'failed', 'cancelled') THEN ? ELSE NULL END WHERE id = ?",
            [status, error, now, status, now, status, now, run_id],
        )


def run_status(db: Database, run_id: str) -> str:
    row = db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    return row[0]


def start_item(db: Database, run_id: str, item_id: str) -> None:
    with write_transaction(db):
        db.execute(
            "UPDATE run_items SET status = 'running', attempts = attempts + 1, started = ?, error = NULL "
            "WHERE run_id = ? AND item_id = ?",
            [utcnow(), run_id, item_id],
        )


def finish_item(db: Database, run_id: str, item_id: str, status: str, *, error: str | None = None,
                prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
    """Record an item's end. Call inside the caller's transaction to make it atomic with its output."""
    with write_transaction(db):
        db.execute(
            "UPDATE run_items SET status = ?, error = ?, finished = ?, prompt_tokens = prompt_tokens + ?, "
            "completion_tokens = completion_tokens + ? WHERE run_id = ? AND item_id = ?",
            [status, error, utcnow(), prompt_tokens, completion_tokens, run_id, item_id],
        )


def requeue(db: Database, run_id: str, *, failed: bool = True) -> int:
    """Make unfinished items runnable again: 'running' ones (their worker died with the process),
    'cancelled' ones, and with `failed` the failed ones. Returns how many were re-queued."""
    statuses = ["running", "cancelled"] + (["failed"] if failed else [])
    marks = ", ".join("?" * len(statuses))
    with write_transaction(db):
        cur = db.execute(
            f"UPDATE run_items SET status = 'queued' WHERE run_id = ? AND status IN ({marks})", [run_id, *statuses]
        )
        db.execute("UPDATE runs SET status = 'queued', finished = NULL, error = NULL WHERE id = ?", [run_id])
    return cur.rowcount
