"""Trajectories, their steps and signals: writes (batched, atomic) and SQL-paginated reads (as
`TrajectoryRow` / `StoredTrajectory` records)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import (
    Signal,
    StoredSignal,
    StoredStep,
    StoredTrajectory,
    Trajectory,
    TrajectoryRow,
    utcnow,
)
from trace2skill.store.imports import (
    Change,
    Stored,
    import_actor,
    import_started,
    link,
    linked_ids,
    match_stored,
    pick_stored,
    relabel_stored,
)
from trace2skill.store.outcomes import set_outcome as set_outcome  # re-exported: callers know it here
from trace2skill.store.rows import PreparedTrajectory as PreparedTrajectory  # re-exported: callers know it here
from trace2skill.store.rows import prepare
from trace2skill.store.search import fts_query as fts_query  # re-exported: callers know it here
from trace2skill.store.search import rank, search_clause
from trace2skill.store.workspace import write_transaction

# --------------------------------------------------------------------------- writes


_TRAJ_COLUMNS = (
    "id, source_format, source_name, task_id, task, model, outcome, reward, outcome_detail, "
    "ground_truth, final_output, metadata, n_steps, n_tool_calls, n_errors"
)
_TRAJ_SQL = f"INSERT INTO trajectories ({_TRAJ_COLUMNS}, imported_at, content_key) VALUES ({', '.join('?' * 17)})"
_STEP_SQL = (
    "INSERT INTO steps (trajectory_id, idx, role, text, reasoning, tool_calls, tool_results, "
    "tool_name, is_error, timestamp, raw_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_STEP_FTS = "text, reasoning, tool_calls, tool_results"
_TRAJ_FTS = "task, final_output"
_SIGNAL_SQL = "INSERT INTO signals (trajectory_id, step_idx, kind, detail) VALUES (?, ?, ?, ?)"


def existing_ids(db: Database, ids: list[str]) -> set[str]:
    """Which of these ids (content keys, as `Trajectory.compute_id` gives them) are already stored."""
    return set(match_stored(db, ids))


@dataclass
class StoredBatch:
    """What storing a batch did: ids of the trajectories added, already present, and relabelled (present,
    with the outcome the data now gives)."""

    inserted: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    relabelled: list[str] = field(default_factory=list)


def store_batch(db: Database, items: list[tuple[Trajectory, list[Signal]]] | list[PreparedTrajectory], *,
                import_id: int | None = None) -> StoredBatch:
    """Store trajectories (with ids set) and their signals in ONE transaction: either every new
    trajectory of the batch is written with all its steps and signals, or (on any error) none is.

    A trajectory whose content is already stored is not added again. With `import_id` the batch belongs
    to that import: each trajectory is linked to it, and one stored before this import whose outcome
    the data now gives differently (label or reward) is relabelled, recorded as a decision, unless a
    person set its outcome by hand."""
    prepared = [p if isinstance(p, PreparedTrajectory) else prepare(*p) for p in items]
    # One time for a whole import (when it started), so its trajectories list in the file's order
    # (the list shows the newest first, then by rowid), whatever second each batch was stored in.
    imported_at = (import_started(db, import_id) if import_id is not None else None) or utcnow()
    out = StoredBatch()
    with write_transaction(db):
        stored = match_stored(db, [p.id for p in prepared])
        mine = linked_ids(db, import_id, [s.id for c in stored.values() for s in c]) if import_id else set()
        conn = db.conn
        first_rowid, first_step_rowid = conn.execute(
            "SELECT (SELECT coalesce(max(rowid), 0) + 1 FROM trajectories), "
            "(SELECT coalesce(max(rowid), 0) + 1 FROM steps)").fetchone()
        rows, steps, signals, changes = [], [], [], []
        links: list[tuple[str, Change]] = []
        for p in prepared:
            outcome = (p.row[6], p.row[7], p.row[8])
            if p.id in stored:
                match = pick_stored(stored[p.id], outcome)
                relabel = (import_id is not None and match.id not in mine and not match.by_hand
                           and (match.outcome, match.reward) != outcome[:2])
                (out.relabelled if relabel else out.present).append(match.id)
                if relabel:
                    changes.append((match, outcome))
                links.append((match.id, "relabelled" if relabel else "present"))
                mine.add(match.id)
                continue
            stored[p.id] = [Stored(p.id, *outcome, by_hand=False)]
            mine.add(p.id)
            rows.append((*p.row, imported_at, p.id))
            steps.extend(p.steps)
            signals.extend(p.signals)
            out.inserted.append(p.id)
            links.append((p.id, "added"))
        conn.executemany(_TRAJ_SQL, rows)
        conn.executemany(_STEP_SQL, steps)
        conn.executemany(_SIGNAL_SQL, signals)
        if rows:  # indexed for search in bulk (migration m020)
            conn.execute(f"INSERT INTO trajectories_fts (rowid, {_TRAJ_FTS}) SELECT rowid, {_TRAJ_FTS} "
                         "FROM trajectories WHERE rowid >= ?", [first_rowid])
            conn.execute(f"INSERT INTO steps_fts (rowid, {_STEP_FTS}) SELECT rowid, {_STEP_FTS} FROM steps "
                         "WHERE rowid >= ?", [first_step_rowid])
            conn.execute("UPDATE search_state SET generation = generation + 1")
        if import_id is not None:
            relabel_stored(db, import_id, import_actor(db, import_id), changes)
            link(db, import_id, links)
    return out


def insert_trajectories(
    db: Database, items: list[tuple[Trajectory, list[Signal]]] | list[PreparedTrajectory]
) -> tuple[list[str], list[str]]:
    """Store trajectories outside any import (see `store_batch`); returns (inserted ids, ids already present)."""
    batch = store_batch(db, items)
    return batch.inserted, batch.present


# --------------------------------------------------------------------------- reads


@dataclass
class TrajectoryFilter:
    outcome: str | None = None
    source_format: str | None = None
    model: str | None = None
    task_id: str | None = None
    task_contains: str | None = None
    signal: str | None = None  # a signal kind the trajectory must have
    search: str | None = None  # full-text query over task and step text
    include_shared: bool = False  # let a search match system prompts and text most trajectories share
    ids: list[str] | None = None
    extra_where: list[str] = field(default_factory=list)

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("outcome", "source_format", "model", "task_id"):
            value = getattr(self, column)
            if value:
                clauses.append(f"t.{column} = ?")
                params.append(value)
        if self.task_contains:
            clauses.append("t.task LIKE ?")
            params.append(f"%{self.task_contains}%")
        if self.signal:
            clauses.append("EXISTS (SELECT 1 FROM signals s WHERE s.trajectory_id = t.id AND s.kind = ?)")
            params.append(self.signal)
        if self.search:
            clause, args = search_clause(self.search, self.include_shared)
            clauses.append(clause)
            params.extend(args)
        if self.ids is not None:
            clauses.append(f"t.id IN ({', '.join('?' * len(self.ids)) or 'NULL'})")
            params.extend(self.ids)
        clauses.extend(self.extra_where)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _where(db: Database, flt: TrajectoryFilter | None) -> tuple[str, list[Any]]:
    """The filter's WHERE clause; a search as the trajectories its ranking found (see `search.rank`)."""
    flt = flt or TrajectoryFilter()
    if not flt.search:
        return flt.where()
    where, params = replace(flt, search=None).where()
    clause = "t.id IN (SELECT value FROM json_each(?))"
    ids = json.dumps(rank(db, flt.search).ids(flt.include_shared))
    return (f"{where} AND {clause}" if where else f" WHERE {clause}"), [*params, ids]


LIST_COLUMNS = (
    "t.id, t.source_format, t.source_name, t.task_id, t.task, t.model, t.outcome, t.reward, "
    "t.n_steps, t.n_tool_calls, t.n_errors, t.imported_at, "
    "(SELECT group_concat(DISTINCT s.kind) FROM signals s WHERE s.trajectory_id = t.id) AS signals, "
    "(SELECT sp.split FROM splits sp WHERE sp.trajectory_id = t.id) AS split"
)


def list_trajectories(
    db: Database, flt: TrajectoryFilter | None = None, *, limit: int = 50, offset: int = 0
) -> list[TrajectoryRow]:
    """A page of the matching trajectories: newest first, or best match first for a search."""
    flt = flt or TrajectoryFilter()
    if flt.search:
        ranked = json.dumps(rank(db, flt.search).ids(flt.include_shared))
        where, params = replace(flt, search=None).where()
        sql = (f"SELECT {LIST_COLUMNS} FROM json_each(?) r JOIN trajectories t ON t.id = r.value{where} "
               "ORDER BY r.key LIMIT ? OFFSET ?")
        return [TrajectoryRow(**row) for row in db.query(sql, [ranked, *params, limit, offset])]
    where, params = flt.where()
    sql = (
        f"SELECT {LIST_COLUMNS} FROM trajectories t{where} "
        "ORDER BY t.imported_at DESC, t.rowid ASC LIMIT ? OFFSET ?"
    )
    return [TrajectoryRow(**row) for row in db.query(sql, [*params, limit, offset])]


def count_trajectories(db: Database, flt: TrajectoryFilter | None = None) -> int:
    where, params = _where(db, flt)
    return db.execute(f"SELECT count(*) FROM trajectories t{where}", params).fetchone()[0]


def trajectory_ids(db: Database, flt: TrajectoryFilter | None = None) -> list[str]:
    where, params = _where(db, flt)
    return [r[0] for r in db.execute(f"SELECT t.id FROM trajectories t{where} ORDER BY t.rowid", params)]


# Columns whose distinct values feed filter choices (a fixed list: never interpolate user input).
_DISTINCT = {
    ("trajectories", "source_format"): "SELECT DISTINCT source_format FROM trajectories ORDER BY 1",
    ("trajectories", "model"): "SELECT DISTINCT model FROM trajectories WHERE model IS NOT NULL ORDER BY 1",
    ("signals", "kind"): "SELECT DISTINCT kind FROM signals ORDER BY 1",
}


def distinct_values(db: Database, table: str, column: str) -> list[str]:
    """Distinct non-null values of a known column, sorted (for filter choices)."""
    return [row[0] for row in db.execute(_DISTINCT[(table, column)])]


def _json(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {**row, **{key: json.loads(row[key]) for key in keys if row.get(key) is not None}}


def _step(row: dict[str, Any]) -> StoredStep:
    return StoredStep(**_json(row, "tool_calls", "tool_results"))


def _trajectory_row(db: Database, trajectory_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM trajectories WHERE id = ?", [trajectory_id]))
    if not rows:  # allow unambiguous id prefixes, as git does
        rows = list(db.query("SELECT * FROM trajectories WHERE id LIKE ? LIMIT 2", [trajectory_id + "%"]))
        if len(rows) != 1:
            raise NotFoundError(f"no trajectory with id {trajectory_id!r}")
    rows[0].pop("content_key", None)  # what imports match on (the id itself, but in old workspaces)
    return _json(rows[0], "ground_truth", "metadata")


def get_trajectory(db: Database, trajectory_id: str, *, with_steps: bool = True) -> StoredTrajectory:
    """A trajectory (id or unambiguous prefix) with its signals and, unless `with_steps` is off, its steps."""
    row = _trajectory_row(db, trajectory_id)
    signals = [StoredSignal(**s) for s in db.query(
        "SELECT step_idx, kind, detail FROM signals WHERE trajectory_id = ? ORDER BY step_idx, id", [row["id"]])]
    steps = [_step(step) for step in db.query(
        "SELECT * FROM steps WHERE trajectory_id = ? ORDER BY idx", [row["id"]])] if with_steps else []
    return StoredTrajectory(**row, signals=signals, steps=steps)


def get_steps(db: Database, trajectory_id: str, indices: list[int]) -> dict[int, StoredStep]:
    """Only these steps of a trajectory, by index (missing ones left out)."""
    if not indices:
        return {}
    marks = ", ".join("?" * len(indices))
    rows = db.query(f"SELECT * FROM steps WHERE trajectory_id = ? AND idx IN ({marks})", [trajectory_id, *indices])
    return {step.idx: step for step in map(_step, rows)}


def signal_counts(db: Database) -> dict[str, int]:
    return {
        r["kind"]: r["n"]
        for r in db.query(
            "SELECT kind, count(DISTINCT trajectory_id) AS n FROM signals GROUP BY kind ORDER BY kind"
        )
    }


def trajectory_text(db: Database, trajectory_id: str) -> str:
    """A trajectory's task, step texts, tool arguments and tool results (what lint looks for values in)."""
    row = db.execute("SELECT task FROM trajectories WHERE id = ?", [trajectory_id]).fetchone()
    parts = [row[0] or ""] if row else []
    for text, calls, results in db.execute(
            "SELECT text, tool_calls, tool_results FROM steps WHERE trajectory_id = ? ORDER BY idx", [trajectory_id]):
        parts.append(text or "")
        parts += [json.dumps(c.get("arguments")) for c in json.loads(calls or "[]")]
        parts += [r.get("content", "") for r in json.loads(results or "[]")]
    return "\n".join(parts)


def task_rows(db: Database, flt: TrajectoryFilter | None = None, *,
              ids: list[str] | None = None) -> list[tuple[str, str, str | None, str]]:
    """(id, source_format, task_id, task) of the matching trajectories (or of `ids`), in import order."""
    if ids is not None:
        return db.execute("SELECT id, source_format, task_id, task FROM trajectories "
                          "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY rowid", [json.dumps(ids)]).fetchall()
    where, params = _where(db, flt)
    return db.execute(f"SELECT t.id, t.source_format, t.task_id, t.task FROM trajectories t{where} ORDER BY t.rowid",
                      params).fetchall()


def tasks_containing(db: Database, value: str, *, limit: int = 2) -> int:
    """In the runs of how many distinct tasks (up to `limit`) `value` occurs as a word sequence, in
    the task or the steps (full-text index). Several runs of one task share its values (a user id,
    a booking code), so a value seen in one task only belongs to that task, not to a general rule."""
    query = fts_query(value)
    rows = db.execute(
        "SELECT DISTINCT coalesce(t.task_id, t.task) FROM trajectories t WHERE t.id IN ("
        "SELECT t2.id FROM trajectories t2 WHERE t2.rowid IN "
        "(SELECT rowid FROM trajectories_fts WHERE trajectories_fts MATCH ?) UNION "
        "SELECT st.trajectory_id FROM steps st WHERE st.rowid IN "
        "(SELECT rowid FROM steps_fts WHERE steps_fts MATCH ?)) LIMIT ?", [query, query, limit]).fetchall()
    return len(rows)
