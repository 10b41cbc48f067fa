"""The import history: one record per imported file (counts, format, mapping, when, who), the
trajectories each import brought (added, already present, relabelled), the match of incoming
trajectories against those already stored (by outcome-free content key), and deleting what an import
added with everything that depends on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import ImportRecord, utcnow
from trace2skill.store.decisions import record_decision
from trace2skill.store.workspace import write_transaction

Change = Literal["added", "present", "relabelled"]
_CHUNK = 500

# --------------------------------------------------------------------------- recording an import


def start_import(db: Database, file: str, *, mapping: dict[str, Any] | None = None, actor: str = "user",
                 user: str | None = None) -> int:
    """Record an import that begins now; returns its id (committed, so a writer thread can link to it)."""
    with write_transaction(db):
        cur = db.execute("INSERT INTO imports (file, mapping, actor, user, started) VALUES (?, ?, ?, ?, ?)",
                         [file, None if mapping is None else json.dumps(mapping, ensure_ascii=False, default=str),
                          actor, user, utcnow()])
    return int(cur.lastrowid or 0)


def import_started(db: Database, import_id: int) -> str | None:
    row = db.execute("SELECT started FROM imports WHERE id = ?", [import_id]).fetchone()
    return row[0] if row else None


def finish_import(db: Database, import_id: int, *, format: str | None, records: int, imported: int,
                  duplicates: int, relabelled: int, errors: int) -> None:
    with write_transaction(db):
        db.execute("UPDATE imports SET format = ?, records = ?, imported = ?, duplicates = ?, relabelled = ?, "
                   "errors = ?, status = 'done', finished = ? WHERE id = ?",
                   [format, records, imported, duplicates, relabelled, errors, utcnow(), import_id])


def discard_import(db: Database, import_id: int) -> None:
    """Forget an import that stored nothing."""
    with write_transaction(db):
        db.execute("DELETE FROM imports WHERE id = ?", [import_id])


def import_actor(db: Database, import_id: int) -> str:
    row = db.execute("SELECT actor FROM imports WHERE id = ?", [import_id]).fetchone()
    return row[0] if row else "user"


@dataclass
class Stored:
    """A stored trajectory an incoming one matches: its id and its outcome as stored."""

    id: str
    outcome: str
    reward: float | None
    detail: str | None
    by_hand: bool  # the outcome was set by a person: a re-import leaves it alone


def match_stored(db: Database, keys: list[str]) -> dict[str, list[Stored]]:
    """Stored trajectories by content key (old workspaces: keys differ from ids), oldest first."""
    found: dict[str, list[Stored]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = json.dumps(keys[start : start + _CHUNK])
        rows = db.execute(
            "SELECT coalesce(content_key, id), id, outcome, reward, outcome_detail, outcome_source FROM trajectories "
            "WHERE content_key IN (SELECT value FROM json_each(?)) OR id IN (SELECT value FROM json_each(?)) "
            "ORDER BY rowid", [chunk, chunk])
        for key, tid, outcome, reward, detail, source in rows:
            found.setdefault(key, []).append(Stored(tid, outcome, reward, detail, source == "user"))
    return found


def pick_stored(candidates: list[Stored], outcome: tuple[str, float | None, str | None]) -> Stored:
    """Of the stored trajectories with one content (an old workspace may hold several, one per outcome),
    the one with this outcome, else the oldest."""
    return next((s for s in candidates if (s.outcome, s.reward) == outcome[:2]), candidates[0])


def linked_ids(db: Database, import_id: int, ids: list[str]) -> set[str]:
    """Which of these trajectories this import already brought (a file may hold a run twice)."""
    return {r[0] for r in db.execute("SELECT trajectory_id FROM import_trajectories WHERE import_id = ? AND "
                                     "trajectory_id IN (SELECT value FROM json_each(?))", [import_id, json.dumps(ids)])}


def relabel_stored(db: Database, import_id: int, actor: str,
                   changes: list[tuple[Stored, tuple[str, float | None, str | None]]]) -> None:
    """Set the outcomes a re-import corrected, each recorded as a decision (inside the caller's transaction)."""
    db.conn.executemany("UPDATE trajectories SET outcome = ?, reward = ?, outcome_detail = ? WHERE id = ?",
                        [(*new, old.id) for old, new in changes])
    for old, (label, reward, _detail) in changes:
        record_decision(db, "trajectory", old.id, "set_outcome", actor=actor,
                        detail={"outcome": label, "previous": old.outcome, "reward": reward,
                                "previous_reward": old.reward, "import": import_id})


def link(db: Database, import_id: int, links: list[tuple[str, Change]]) -> None:
    db.conn.executemany("INSERT OR IGNORE INTO import_trajectories (import_id, trajectory_id, change) "
                        "VALUES (?, ?, ?)", [(import_id, tid, change) for tid, change in links])


# --------------------------------------------------------------------------- reading the history

_SELECT = ("SELECT i.*, (SELECT count(*) FROM import_trajectories l WHERE l.import_id = i.id) AS trajectories "
           "FROM imports i")


def _record(row: dict[str, Any]) -> ImportRecord:
    return ImportRecord(**{**row, "mapping": None if row["mapping"] is None else json.loads(row["mapping"])})


def list_imports(db: Database, *, limit: int | None = None) -> list[ImportRecord]:
    """Imports, newest first."""
    sql = f"{_SELECT} ORDER BY i.id DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
    return [_record(row) for row in db.query(sql)]


def get_import(db: Database, import_id: int) -> ImportRecord:
    rows = list(db.query(f"{_SELECT} WHERE i.id = ?", [import_id]))
    if not rows:
        raise NotFoundError(f"no import with id {import_id}; `trace2skill imports` lists them")
    return _record(rows[0])


def count_imports(db: Database) -> int:
    return db.execute("SELECT count(*) FROM imports").fetchone()[0]


# --------------------------------------------------------------------------- deleting an import

_ONLY_HERE = ("SELECT l.trajectory_id FROM import_trajectories l WHERE l.import_id = ? AND l.change = 'added' "
              "AND NOT EXISTS (SELECT 1 FROM import_trajectories o WHERE o.trajectory_id = l.trajectory_id "
              "AND o.import_id != l.import_id) ORDER BY l.rowid")


@dataclass
class DeletionPlan:
    """What deleting an import removes: the trajectories it added that no other import also brought,
    with their steps and signals, and the lessons drawn from them (with their replay checks)."""

    record: ImportRecord
    trajectory_ids: list[str] = field(default_factory=list)
    lessons: int = 0
    lesson_checks: int = 0
    kept: int = 0  # trajectories it added that another import also brought: they stay

    @property
    def trajectories(self) -> int:
        return len(self.trajectory_ids)

    def as_dict(self) -> dict[str, Any]:
        return {"import": self.record.model_dump(), "trajectories": self.trajectories, "lessons": self.lessons,
                "lesson_checks": self.lesson_checks, "kept": self.kept}


def deletion_plan(db: Database, import_id: int) -> DeletionPlan:
    record = get_import(db, import_id)
    ids = [r[0] for r in db.execute(_ONLY_HERE, [import_id])]
    wanted = json.dumps(ids)
    lessons = db.execute("SELECT count(*) FROM lessons WHERE trajectory_id IN (SELECT value FROM json_each(?))",
                         [wanted]).fetchone()[0]
    checks = db.execute("SELECT count(*) FROM lesson_checks WHERE lesson_id IN (SELECT id FROM lessons WHERE "
                        "trajectory_id IN (SELECT value FROM json_each(?)))", [wanted]).fetchone()[0]
    added = db.execute("SELECT count(*) FROM import_trajectories WHERE import_id = ? AND change = 'added'",
                       [import_id]).fetchone()[0]
    return DeletionPlan(record, ids, lessons, checks, added - len(ids))


def delete_import(db: Database, import_id: int, *, actor: str = "user") -> DeletionPlan:
    """Delete what the import added (and no other import also brought), the lessons, checks, splits
    and links that depend on it, and the import's record; recorded as a decision. Trajectories it added
    that another import also brought stay, and count as added by the earliest such import."""
    with write_transaction(db):
        plan = deletion_plan(db, import_id)
        db.execute(
            "UPDATE import_trajectories SET change = 'added' WHERE (import_id, trajectory_id) IN ("
            "SELECT min(o.import_id), o.trajectory_id FROM import_trajectories o JOIN import_trajectories l "
            "ON l.trajectory_id = o.trajectory_id AND l.import_id = ? AND l.change = 'added' "
            "WHERE o.import_id != ? GROUP BY o.trajectory_id)", [import_id, import_id])
        for start in range(0, plan.trajectories, _CHUNK):
            db.execute("DELETE FROM trajectories WHERE id IN (SELECT value FROM json_each(?))",
                       [json.dumps(plan.trajectory_ids[start : start + _CHUNK])])
        db.execute("DELETE FROM imports WHERE id = ?", [import_id])
        record_decision(db, "import", str(import_id), "delete", actor=actor,
                        detail={"file": plan.record.file, "started": plan.record.started,
                                "trajectories": plan.trajectories, "lessons": plan.lessons,
                                "lesson_checks": plan.lesson_checks, "kept": plan.kept})
    return plan
