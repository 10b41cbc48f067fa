"""Batches of LLM requests a run submitted to a batch API or wrote to a file, and their answers.

A request is known by its custom id (a hash of its body). Its answer, once a batch's results came
back (downloaded or ingested from a file), is kept here until the run's worker takes it and logs it
in `llm_calls` as a live answer would be; a request still pending in a batch that is still going is
waited for, never sent again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import utcnow
from trace2skill.store.workspace import write_transaction

# A batch that may still answer: being submitted, at the batch API, or written to a file for an engine.
OPEN = ("submitting", "validating", "in_progress", "finalizing", "cancelling", "written")
_COLUMNS = "id, run_id, mode, remote_id, path, status, requests, answered, failed, error, created, updated, finished"


@dataclass(frozen=True)
class Batch:
    id: str
    run_id: str | None
    mode: str  # "api" or "file"
    remote_id: str | None
    path: str | None
    status: str
    requests: int
    answered: int
    failed: int
    error: str | None
    created: str
    updated: str | None
    finished: str | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class Result:
    """A request's answer from a batch: the chat completion body, or why there is none."""

    custom_id: str
    body: dict[str, Any] | None
    error: str | None = None
    error_status: int | None = None  # the HTTP status the engine gave the failed request, if any


def _batch(row: Any) -> Batch:
    return Batch(*row)


def create_batch(db: Database, *, run_id: str | None, mode: str, custom_ids: list[str], status: str,
                 path: str | None = None) -> Batch:
    """Record a batch and its requests before anything leaves this process."""
    batch_id = f"bat-{secrets.token_hex(6)}"
    now = utcnow()
    with write_transaction(db):
        db.execute(f"INSERT INTO batches ({_COLUMNS}) VALUES (?, ?, ?, NULL, ?, ?, ?, 0, 0, NULL, ?, ?, NULL)",
                   [batch_id, run_id, mode, path, status, len(custom_ids), now, now])
        db.conn.executemany("INSERT OR IGNORE INTO batch_requests (custom_id, batch_id) VALUES (?, ?)",
                            [(c, batch_id) for c in custom_ids])
    return get_batch(db, batch_id)


def get_batch(db: Database, batch_id: str) -> Batch:
    row = db.execute(f"SELECT {_COLUMNS} FROM batches WHERE id = ?", [batch_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no batch with id {batch_id!r}")
    return _batch(row)


def list_batches(db: Database, *, run_id: str | None = None, open_only: bool = False, limit: int = 50) -> list[Batch]:
    where, args = [], []
    if run_id is not None:
        where.append("run_id = ?")
        args.append(run_id)
    if open_only:
        where.append(f"status IN ({', '.join('?' * len(OPEN))})")
        args.extend(OPEN)
    sql = f"SELECT {_COLUMNS} FROM batches {'WHERE ' + ' AND '.join(where) if where else ''} " \
          "ORDER BY created DESC, rowid DESC LIMIT ?"
    return [_batch(r) for r in db.execute(sql, [*args, limit]).fetchall()]


def set_status(db: Database, batch_id: str, status: str, *, remote_id: str | None = None,
               answered: int | None = None, failed: int | None = None, error: str | None = None) -> None:
    """What the batch API (or an ingest) last said of the batch; a closed status sets `finished`."""
    with write_transaction(db):
        db.execute(
            "UPDATE batches SET status = ?, remote_id = COALESCE(?, remote_id), answered = COALESCE(?, answered), "
            "failed = COALESCE(?, failed), error = COALESCE(?, error), updated = ?, "
            "finished = CASE WHEN ? THEN COALESCE(finished, ?) ELSE NULL END WHERE id = ?",
            [status, remote_id, answered, failed, error, utcnow(), status not in OPEN, utcnow(), batch_id])


def store_results(db: Database, results: list[Result], *, batch_id: str | None = None) -> tuple[list[str], int]:
    """Keep answers that came back: for `batch_id`'s requests, or (an ingested file, batch unknown)
    for the latest pending request with each custom id. Returns the ids of the batches touched and
    how many results were stored (one whose request is unknown, or already answered, is ignored)."""
    touched: set[str] = set()
    stored = 0
    now = utcnow()
    with write_transaction(db):
        for r in results:
            target = batch_id or _pending_batch(db, r.custom_id)
            if target is None:
                continue
            cur = db.execute(
                "UPDATE batch_requests SET status = ?, response = ?, error = ?, error_status = ?, finished = ? "
                "WHERE custom_id = ? AND batch_id = ? AND status = 'pending'",
                ["done" if r.body is not None else "failed",
                 orjson.dumps(r.body).decode() if r.body is not None else None, r.error, r.error_status, now,
                 r.custom_id, target])
            if cur.rowcount:
                touched.add(target)
                stored += 1
        for b in touched:
            db.execute(
                "UPDATE batches SET answered = (SELECT COUNT(*) FROM batch_requests WHERE batch_id = ? AND "
                "status = 'done'), failed = (SELECT COUNT(*) FROM batch_requests WHERE batch_id = ? AND "
                "status = 'failed'), updated = ? WHERE id = ?", [b, b, now, b])
    return sorted(touched), stored


def _pending_batch(db: Database, custom_id: str) -> str | None:
    row = db.execute("SELECT r.batch_id FROM batch_requests r JOIN batches b ON b.id = r.batch_id "
                     "WHERE r.custom_id = ? AND r.status = 'pending' ORDER BY b.created DESC, b.rowid DESC LIMIT 1",
                     [custom_id]).fetchone()
    return row[0] if row else None


def find(db: Database, custom_id: str) -> tuple[str, Any] | None:
    """Where a request stands: ("done", its answer body) when any batch answered it, ("pending",
    the Batch) when it waits in a batch still open, else None (never sent, or only failed)."""
    row = db.execute("SELECT response FROM batch_requests WHERE custom_id = ? AND status = 'done' LIMIT 1",
                     [custom_id]).fetchone()
    if row is not None:
        return "done", orjson.loads(row[0])
    marks = ", ".join("?" * len(OPEN))
    row = db.execute(f"SELECT b.id FROM batch_requests r JOIN batches b ON b.id = r.batch_id "
                     f"WHERE r.custom_id = ? AND r.status = 'pending' AND b.status IN ({marks}) "
                     "ORDER BY b.created DESC, b.rowid DESC LIMIT 1", [custom_id, *OPEN]).fetchone()
    return ("pending", get_batch(db, row[0])) if row else None


def requests_of(db: Database, batch_id: str, status: str | None = None) -> list[Result]:
    """The requests of a batch (with `status`: only those), answered or not."""
    sql = "SELECT custom_id, response, error, error_status FROM batch_requests WHERE batch_id = ?"
    args: list[Any] = [batch_id]
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    return [Result(c, orjson.loads(resp) if resp else None, err, es)
            for c, resp, err, es in db.execute(sql, args).fetchall()]


def close_pending(db: Database, batch_id: str, error: str) -> int:
    """Requests of a closed batch that never got an answer fail with `error` (e.g. it expired)."""
    with write_transaction(db):
        cur = db.execute("UPDATE batch_requests SET status = 'failed', error = ?, finished = ? "
                         "WHERE batch_id = ? AND status = 'pending'", [error, utcnow(), batch_id])
        db.execute("UPDATE batches SET failed = (SELECT COUNT(*) FROM batch_requests WHERE batch_id = ? AND "
                   "status = 'failed') WHERE id = ?", [batch_id, batch_id])
    return cur.rowcount


def pending_runs(db: Database, batch_ids: list[str]) -> list[str]:
    """The runs the given batches belong to."""
    if not batch_ids:
        return []
    marks = ", ".join("?" * len(batch_ids))
    rows = db.execute(f"SELECT DISTINCT run_id FROM batches WHERE id IN ({marks}) AND run_id IS NOT NULL",
                      batch_ids).fetchall()
    return sorted(r[0] for r in rows)
