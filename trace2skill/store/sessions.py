"""Sessions split into single-task units (see `trace2skill.sessions`): which stored trajectory is
which part of which session, and the filter clauses that tell sessions, units and the rest apart.

A row of `session_units` links a unit (a trajectory of its own) to the session it was cut from:
its part number, the number of parts and the session's steps it holds. A session with rows here
is *split*: extraction analyses its units instead of it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlite_utils import Database

from trace2skill.store.workspace import write_transaction

SessionKind = Literal["sessions", "units", "whole"]

# Filter clauses over `trajectories t` (fixed text: never interpolate user input).
KIND_CLAUSES: dict[SessionKind, str] = {
    "sessions": "EXISTS (SELECT 1 FROM session_units su WHERE su.session_id = t.id)",
    "units": "EXISTS (SELECT 1 FROM session_units su WHERE su.unit_id = t.id)",
    "whole": "NOT EXISTS (SELECT 1 FROM session_units su WHERE su.session_id = t.id)",
}


def kind_clause(kind: SessionKind) -> str:
    """A `TrajectoryFilter.extra_where` clause: split sessions, their units, or everything but split
    sessions ("whole": what extraction reads by default)."""
    return KIND_CLAUSES[kind]


@dataclass(frozen=True)
class SessionUnit:
    """One unit of a split session: its id, its session's, which part it is (1-based) of how many,
    and the session's steps it holds (`first_step` to `last_step`, inclusive)."""

    unit_id: str
    session_id: str
    part: int
    parts: int
    first_step: int
    last_step: int


_COLUMNS = "unit_id, session_id, part, parts, first_step, last_step"


def record_units(db: Database, units: list[SessionUnit]) -> int:
    """Link units to their session (inside the caller's transaction); each unit also joins the imports
    that brought its session, with the same change, so deleting those imports deletes it too, and its
    side of the evaluation split (a held-out session's tasks are held out). Returns how many links are
    new (0: the session was split into these units before)."""
    before = db.conn.total_changes
    db.conn.executemany(f"INSERT OR IGNORE INTO session_units ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                        [(u.unit_id, u.session_id, u.part, u.parts, u.first_step, u.last_step) for u in units])
    added = db.conn.total_changes - before
    db.conn.executemany(
        "INSERT OR IGNORE INTO import_trajectories (import_id, trajectory_id, change) "
        "SELECT import_id, ?, change FROM import_trajectories WHERE trajectory_id = ?",
        [(u.unit_id, u.session_id) for u in units])
    db.conn.executemany(
        "INSERT OR IGNORE INTO splits (trajectory_id, split, created) "
        "SELECT ?, split, created FROM splits WHERE trajectory_id = ?",
        [(u.unit_id, u.session_id) for u in units])
    return added


def relink_units(db: Database, session_ids: list[str]) -> None:
    """Units of sessions split before join the imports that brought their session since (a re-import)."""
    with write_transaction(db):
        db.execute("INSERT OR IGNORE INTO import_trajectories (import_id, trajectory_id, change) "
                   "SELECT i.import_id, su.unit_id, i.change FROM session_units su JOIN import_trajectories i "
                   "ON i.trajectory_id = su.session_id WHERE su.session_id IN (SELECT value FROM json_each(?))",
                   [json.dumps(session_ids)])


def units_of(db: Database, session_id: str) -> list[SessionUnit]:
    """The units a session was split into, in order (none: not split)."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM session_units WHERE session_id = ? ORDER BY part", [session_id])
    return [SessionUnit(*row) for row in rows]


def unit_info(db: Database, unit_id: str) -> SessionUnit | None:
    """Which part of which session this trajectory is (None: it is no unit)."""
    row = db.execute(f"SELECT {_COLUMNS} FROM session_units WHERE unit_id = ?", [unit_id]).fetchone()
    return SessionUnit(*row) if row else None


def places(db: Database, ids: list[str]) -> dict[str, tuple[int, int]]:
    """Where each of `ids` stands among split sessions: (0, parts) for a split session, (part, parts)
    for one of its units; absent for the rest."""
    found = json.dumps(ids)
    rows = db.execute("SELECT session_id, 0, max(parts) FROM session_units WHERE session_id IN "
                      "(SELECT value FROM json_each(?)) GROUP BY session_id UNION ALL SELECT unit_id, part, parts "
                      "FROM session_units WHERE unit_id IN (SELECT value FROM json_each(?))", [found, found])
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def split_session_ids(db: Database, ids: list[str] | None = None) -> set[str]:
    """Sessions that were split, among `ids` (all when None)."""
    if ids is None:
        return {r[0] for r in db.execute("SELECT DISTINCT session_id FROM session_units")}
    return {r[0] for r in db.execute("SELECT DISTINCT session_id FROM session_units WHERE session_id IN "
                                     "(SELECT value FROM json_each(?))", [json.dumps(ids)])}


def candidate_ids(db: Database, ids: list[str] | None = None, *, skip_formats: Iterable[str] = ()) -> list[str]:
    """Trajectories (among `ids`; all when None) that may hold several requests, in import order:
    two user turns or more, neither split already nor a unit themselves, nor of `skip_formats`."""
    among = "" if ids is None else " AND t.id IN (SELECT value FROM json_each(?))"
    sql = ("SELECT t.id FROM trajectories t WHERE t.source_format NOT IN (SELECT value FROM json_each(?)) "
           "AND (SELECT count(*) FROM steps s WHERE s.trajectory_id = t.id "
           "AND s.role = 'user') >= 2 AND NOT EXISTS (SELECT 1 FROM session_units su WHERE su.session_id = t.id "
           f"OR su.unit_id = t.id){among} ORDER BY t.rowid")
    params = [json.dumps(sorted(skip_formats))] + ([] if ids is None else [json.dumps(ids)])
    return [r[0] for r in db.execute(sql, params)]


def session_counts(db: Database) -> tuple[int, int]:
    """(split sessions, units) in the workspace."""
    row = db.execute("SELECT count(DISTINCT session_id), count(*) FROM session_units").fetchone()
    return int(row[0]), int(row[1])
