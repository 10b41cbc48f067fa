"""Runs and their items, kept in the database so a run survives a page reload, a crash or a restart.

Only the run engine (`trace2skill.runs`) changes a run's state; everything else reads it. Item
writes that carry a worker's result are conditional on the item still being "running", so a
worker whose item was cancelled meanwhile cannot mark it done (its answer stays in the call cache).
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import ITEM_STATUSES, Run, RunItem, RunProgress, utcnow
from trace2skill.store.workspace import write_transaction
from trace2skill.textcut import cut_words

_RUN_COLUMNS = "id, kind, config, status, counters, error, created, started, resumed, finished, heartbeat, owner"


def new_run_id(kind: str) -> str:
    """Sortable and unique: kind prefix, time, randomness."""
    return f"{kind[:3]}-{int(time.time() * 1000):x}-{secrets.token_hex(3)}"


def create_run(db: Database, kind: str, config: dict[str, Any], item_ids: list[str]) -> str:
    run_id = new_run_id(kind)
    with write_transaction(db):
        db.execute(
            "INSERT INTO runs (id, kind, config, status, counters, created) VALUES (?, ?, ?, 'queued', '{}', ?)",
            [run_id, kind, orjson.dumps(config, option=orjson.OPT_NON_STR_KEYS).decode(), utcnow()],
        )
        # One statement over a JSON array: 100,000 items go in twice as fast as by executemany.
        db.execute("INSERT INTO run_items (run_id, item_id) SELECT ?, value FROM json_each(?)",
                   [run_id, orjson.dumps(list(dict.fromkeys(item_ids))).decode()])
    return run_id


def _run_of(row: tuple[Any, ...], progress: RunProgress) -> Run:
    data = dict(zip(_RUN_COLUMNS.split(", "), row))
    data["config"] = orjson.loads(data["config"] or "{}")  # a consolidation's lists 166,667 lesson ids: 4x faster
    data["counters"] = json.loads(data["counters"] or "{}")
    return Run(**data, progress=progress)


def resolve_run_id(db: Database, run_id: str) -> str:
    """The full id of a run from its id or an unambiguous prefix (NotFoundError otherwise)."""
    if db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
        return run_id
    rows = db.execute("SELECT id FROM runs WHERE id LIKE ? LIMIT 2", [run_id.replace("%", "") + "%"]).fetchall()
    if len(rows) != 1 or not run_id:
        raise NotFoundError(f"no run with id {run_id!r} (list them with `trace2skill runs`)")
    return str(rows[0][0])


def get_run(db: Database, run_id: str) -> Run:
    full = resolve_run_id(db, run_id)
    row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [full]).fetchone()
    return _run_of(row, run_progress(db, full))


def list_runs(db: Database, kind: str | tuple[str, ...] | None = None, limit: int = 20, *, parent: str | None = None,
              with_progress: bool = True) -> list[Run]:
    """Newest first; `parent` keeps runs whose config names that run as their parent (re-runs).
    Without `with_progress` the item counts are not read (left at zero): cheap enough for a picker."""
    clauses: list[str] = []
    params: list[Any] = []
    kinds = (kind,) if isinstance(kind, str) else (kind or ())
    if kinds:
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    if parent:
        clauses.append("json_extract(config, '$.parent_run') = ?")
        params.append(parent)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created DESC, id DESC LIMIT ?",
                      [*params, limit]).fetchall()
    return [_run_of(row, run_progress(db, row[0]) if with_progress else RunProgress()) for row in rows]


def run_config(db: Database, run_id: str) -> dict[str, Any] | None:
    """The config of the run with exactly this id; None when there is none."""
    row = db.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()
    return json.loads(row[0] or "{}") if row else None


def run_progress(db: Database, run_id: str) -> RunProgress:
    counts: dict[str, int] = dict.fromkeys(ITEM_STATUSES, 0)
    for status, n in db.execute("SELECT status, count(*) FROM run_items WHERE run_id = ? GROUP BY status", [run_id]):
        counts[status] = n
    tokens = db.execute(
        "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM run_items WHERE run_id = ?",
        [run_id],
    ).fetchone()
    return RunProgress(**counts, prompt_tokens=tokens[0], completion_tokens=tokens[1])


_ITEM_COLUMNS = ("run_id, item_id, status, error, attempts, prompt_tokens, completion_tokens, started, finished, "
                 "retry_at")


def list_items(db: Database, run_id: str, status: str | None = None, limit: int = 1000,
               offset: int = 0) -> list[RunItem]:
    where = "run_id = ?" + (" AND status = ?" if status else "")
    params: list[Any] = [run_id, status] if status else [run_id]
    rows = db.execute(f"SELECT {_ITEM_COLUMNS} FROM run_items WHERE {where} ORDER BY rowid LIMIT ? OFFSET ?",
                      [*params, limit, offset]).fetchall()
    names = _ITEM_COLUMNS.split(", ")
    return [RunItem(**dict(zip(names, row))) for row in rows]


def item_statuses(db: Database, run_id: str) -> list[tuple[str, str]]:
    """(item id, status) of every item of the run, in creation order."""
    return db.execute("SELECT item_id, status FROM run_items WHERE run_id = ? ORDER BY rowid", [run_id]).fetchall()


def item_ids(db: Database, run_id: str, status: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT item_id FROM run_items WHERE run_id = ? AND status = ? ORDER BY rowid", [run_id, status])]


def finished_since(db: Database, run_id: str, since: str) -> int:
    """Items done or failed at or after `since` (an ISO time): the throughput of this execution."""
    row = db.execute("SELECT count(*) FROM run_items WHERE run_id = ? AND status IN ('done', 'failed') "
                     "AND finished >= ?", [run_id, since]).fetchone()
    return int(row[0])


def run_status(db: Database, run_id: str) -> str:
    row = db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    return str(row[0])


# --------------------------------------------------------------------------- state changes (the engine's)


def mark_running(db: Database, run_id: str, owner: str) -> int:
    """The run starts (or starts again) executing in the process `owner` (host:pid). Returns the
    number of this execution: items record which execution started them, so the result of a
    worker abandoned by an earlier execution can never finish an item of a later one."""
    now = utcnow()
    with write_transaction(db):
        db.execute("UPDATE runs SET status = 'running', error = NULL, finished = NULL, heartbeat = ?, resumed = ?, "
                   "started = coalesce(started, ?), owner = ?, executions = executions + 1 WHERE id = ?",
                   [now, now, now, owner, run_id])
        return int(db.execute("SELECT executions FROM runs WHERE id = ?", [run_id]).fetchone()[0])


def beat(db: Database, run_id: str) -> str:
    """Refresh the run's heartbeat; returns its status (so the engine sees a cancel from elsewhere)."""
    with write_transaction(db):
        db.execute("UPDATE runs SET heartbeat = ? WHERE id = ? AND status = 'running'", [utcnow(), run_id])
    return run_status(db, run_id)


def finish_run(db: Database, run_id: str, status: str, error: str | None = None) -> None:
    """The run's end: done, failed, cancelled, or stopped (at its budget). Items still queued or
    running are cancelled; a stopped run's go back to the queue (they wait for a bigger budget)."""
    with write_transaction(db):
        db.execute("UPDATE runs SET status = ?, error = ?, finished = ?, heartbeat = NULL WHERE id = ?",
                   [status, error, utcnow(), run_id])
        if status == "stopped":
            _requeue_open_work(db, run_id)
        elif status != "done":
            _cancel_open_work(db, run_id)


def _requeue_open_work(db: Database, run_id: str) -> None:
    db.execute("UPDATE run_items SET status = 'queued', retry_at = NULL WHERE run_id = ? AND status = 'running'",
               [run_id])
    db.execute("UPDATE merge_nodes SET status = 'queued' WHERE run_id = ? AND status = 'running'", [run_id])


def _cancel_open_work(db: Database, run_id: str) -> None:
    now = utcnow()
    db.execute("UPDATE run_items SET status = 'cancelled', finished = ?, retry_at = NULL "
               "WHERE run_id = ? AND status IN ('queued', 'running')", [now, run_id])
    db.execute("UPDATE merge_nodes SET status = 'cancelled' WHERE run_id = ? AND status IN ('queued', 'running')",
               [run_id])


def cancel_run(db: Database, run_id: str) -> bool:
    """Mark an active run cancelled, with its queued and running items (and merge nodes). Returns
    False when the run had already ended."""
    with write_transaction(db):
        cur = db.execute("UPDATE runs SET status = 'cancelled', finished = ? WHERE id = ? "
                         "AND status IN ('queued', 'running')", [utcnow(), run_id])
        if cur.rowcount:
            _cancel_open_work(db, run_id)
        return bool(cur.rowcount)


def set_config_value(db: Database, run_id: str, key: str, value: Any) -> None:
    """Set one key of the run's config (None removes it): e.g. its budget, raised before a resume."""
    with write_transaction(db):
        row = db.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no run with id {run_id!r}")
        config = json.loads(row[0] or "{}")
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
        db.execute("UPDATE runs SET config = ? WHERE id = ?", [json.dumps(config, ensure_ascii=False), run_id])


def set_counters(db: Database, run_id: str, counters: dict[str, Any]) -> None:
    """Merge `counters` into the run's counters."""
    with write_transaction(db):
        row = db.execute("SELECT counters FROM runs WHERE id = ?", [run_id]).fetchone()
        merged = {**json.loads(row[0] or "{}"), **counters} if row else counters
        db.execute("UPDATE runs SET counters = ? WHERE id = ?", [json.dumps(merged, ensure_ascii=False), run_id])


def start_item(db: Database, run_id: str, item_id: str, execution: int = 0) -> bool:
    """queued -> running (in `execution`); False when the item is no longer queued (the run was
    cancelled)."""
    with write_transaction(db):
        cur = db.execute("UPDATE run_items SET status = 'running', started = ?, error = NULL, retry_at = NULL, "
                         "execution = ? WHERE run_id = ? AND item_id = ? AND status = 'queued'",
                         [utcnow(), execution, run_id, item_id])
    return bool(cur.rowcount)


def finish_item(db: Database, run_id: str, item_id: str, status: str, *, error: str | None = None,
                prompt_tokens: int = 0, completion_tokens: int = 0, attempts: int = 0, execution: int = 0) -> bool:
    """Record the end of an item running in `execution`; False (and nothing written) when it is no
    longer running there (cancelled, or re-queued and started again by a later execution). Call
    inside the caller's transaction to make it atomic with the item's output."""
    with write_transaction(db):
        cur = db.execute(
            "UPDATE run_items SET status = ?, error = ?, finished = ?, retry_at = NULL, "
            "attempts = max(attempts, ?), prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ? "
            "WHERE run_id = ? AND item_id = ? AND status = 'running' AND coalesce(execution, 0) = ?",
            [status, error, utcnow(), attempts, prompt_tokens, completion_tokens, run_id, item_id, execution],
        )
    return bool(cur.rowcount)


def item_retrying(db: Database, run_id: str, item_id: str, *, attempts: int, error: str, delay_s: float) -> None:
    """A running item's request failed and will be retried in `delay_s` seconds."""
    retry_at = datetime.fromtimestamp(time.time() + delay_s, UTC).isoformat(timespec="seconds")
    with write_transaction(db):
        db.execute("UPDATE run_items SET attempts = max(attempts, ?), error = ?, retry_at = ? "
                   "WHERE run_id = ? AND item_id = ? AND status = 'running'",
                   [attempts, cut_words(error, 2000), retry_at, run_id, item_id])


def requeue(db: Database, run_id: str, *, failed: bool = True) -> int:
    """Make unfinished items runnable again: 'running' ones (their worker died with the process),
    'cancelled' ones, and with `failed` the failed ones. Returns how many were re-queued."""
    statuses = ["running", "cancelled"] + (["failed"] if failed else [])
    marks = ", ".join("?" * len(statuses))
    with write_transaction(db):
        cur = db.execute(f"UPDATE run_items SET status = 'queued', retry_at = NULL WHERE run_id = ? "
                         f"AND status IN ({marks})", [run_id, *statuses])
        db.execute("UPDATE runs SET status = 'queued', finished = NULL, error = NULL WHERE id = ?", [run_id])
        db.execute("UPDATE merge_nodes SET status = 'queued' WHERE run_id = ? AND status IN "
                   "('running', 'cancelled', 'failed')", [run_id])
    return cur.rowcount
