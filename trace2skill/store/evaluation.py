"""Evaluation storage: task sets, the evolve/held-out split, the arms of an evaluation run and its
per-task results (see migration m008)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import EvalTask, utcnow
from trace2skill.store.workspace import write_transaction

Split = Literal["evolve", "heldout"]

# --------------------------------------------------------------------------- tasks and sets


def save_tasks(db: Database, tasks: list[EvalTask], set_name: str | None = None) -> list[str]:
    """Store tasks (idempotent: ids are content hashes) and, with `set_name`, (re)define that set."""
    now = utcnow()
    ids = list(dict.fromkeys(t.id or t.with_id().id for t in tasks))
    by_id = {t.id: t for t in tasks}
    with write_transaction(db):
        db.conn.executemany(
            "INSERT OR IGNORE INTO eval_tasks (id, prompt, context, answers, gold, source, source_id, trajectory_id, "
            "text_hash, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, by_id[i].prompt, by_id[i].context, json.dumps(by_id[i].answers, ensure_ascii=False),
              None if by_id[i].gold is None else json.dumps(by_id[i].gold, ensure_ascii=False),
              by_id[i].source, by_id[i].source_id, by_id[i].trajectory_id, by_id[i].text_hash, now)
             for i in ids])
        if set_name:
            db.execute("DELETE FROM eval_sets WHERE name = ?", [set_name])
            db.conn.executemany("INSERT INTO eval_sets (name, task_id, idx, created) VALUES (?, ?, ?, ?)",
                                [(set_name, i, k, now) for k, i in enumerate(ids)])
    return ids


def _task(row: dict[str, Any]) -> EvalTask:
    return EvalTask(id=row["id"], prompt=row["prompt"], context=row["context"], answers=json.loads(row["answers"]),
                    gold=json.loads(row["gold"]) if row["gold"] else None, source=row["source"],
                    source_id=row["source_id"], trajectory_id=row["trajectory_id"])


def get_tasks(db: Database, ids: list[str]) -> list[EvalTask]:
    """The tasks with these ids, in this order."""
    rows = {r["id"]: r for r in db.query(
        "SELECT * FROM eval_tasks WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFoundError(f"no evaluation task with id {missing[0]!r} ({len(missing)} missing)")
    return [_task(rows[i]) for i in ids]


def set_task_ids(db: Database, name: str) -> list[str]:
    ids = [r[0] for r in db.execute("SELECT task_id FROM eval_sets WHERE name = ? ORDER BY idx", [name])]
    if not ids:
        raise NotFoundError(f"no evaluation set named {name!r}")
    return ids


def list_sets(db: Database) -> list[dict[str, Any]]:
    """Evaluation sets with their size, newest first."""
    return list(db.query("SELECT name, count(*) AS tasks, max(created) AS created FROM eval_sets "
                         "GROUP BY name ORDER BY created DESC, name"))


def eval_task_texts(db: Database) -> dict[str, str]:
    """Every stored evaluation task's id -> text (all of them are held out by construction)."""
    return {r[0]: r[1] for r in db.execute("SELECT id, prompt FROM eval_tasks")}


def eval_text_hashes(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT DISTINCT text_hash FROM eval_tasks")}


# --------------------------------------------------------------------------- the split


def mark_split(db: Database, trajectory_ids: Iterable[str], split: Split) -> int:
    if split not in ("evolve", "heldout"):
        raise ValueError(f"unknown split {split!r}")
    now = utcnow()
    ids = list(dict.fromkeys(trajectory_ids))
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO splits (trajectory_id, split, created) VALUES (?, ?, ?) "
            "ON CONFLICT(trajectory_id) DO UPDATE SET split = excluded.split, created = excluded.created",
            [(i, split, now) for i in ids])
    return len(ids)


def clear_split(db: Database, trajectory_ids: Iterable[str] | None = None) -> int:
    with write_transaction(db):
        if trajectory_ids is None:
            return db.execute("DELETE FROM splits").rowcount
        return db.execute("DELETE FROM splits WHERE trajectory_id IN (SELECT value FROM json_each(?))",
                          [json.dumps(list(trajectory_ids))]).rowcount


def marked(db: Database, split: Split) -> set[str]:
    return {r[0] for r in db.execute("SELECT trajectory_id FROM splits WHERE split = ?", [split])}


def heldout_trajectory_tasks(db: Database) -> list[tuple[str, str]]:
    """(id, task text) of the trajectories marked held out that have a task text, in import order."""
    return db.execute("SELECT t.id, t.task FROM trajectories t JOIN splits s ON s.trajectory_id = t.id "
                      "WHERE s.split = 'heldout' AND t.task != '' ORDER BY t.rowid").fetchall()


def split_counts(db: Database) -> dict[str, int]:
    counts = {"evolve": 0, "heldout": 0}
    counts.update({r[0]: r[1] for r in db.execute("SELECT split, count(*) FROM splits GROUP BY split")})
    return counts


# --------------------------------------------------------------------------- arms and results


def save_arm(db: Database, run_id: str, arm: str, role: str, *, label: str, version_id: str | None,
             files: dict[str, str] | None, detail: dict[str, Any] | None = None, skill_text: str | None = None,
             skill_hash: str | None = None) -> None:
    """One skill variant of a run; `files` None means "no skill". `skill_text`: the exact skill text
    the arm's prompts carry, and its hash (see migration m013)."""
    db.execute("INSERT INTO eval_arms (run_id, arm, role, label, version_id, files, detail, skill_text, skill_hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [run_id, arm, role, label, version_id, None if files is None else json.dumps(files, ensure_ascii=False),
                json.dumps(detail or {}, ensure_ascii=False), skill_text, skill_hash])


def get_arms(db: Database, run_id: str) -> dict[str, dict[str, Any]]:
    """arm -> {arm, role, label, version_id, files (None: no skill), detail, skill_text, skill_hash},
    in creation order."""
    arms = {}
    for row in db.query("SELECT * FROM eval_arms WHERE run_id = ? ORDER BY rowid", [run_id]):
        row["files"] = json.loads(row["files"]) if row["files"] is not None else None
        row["detail"] = json.loads(row["detail"])
        arms[row["arm"]] = row
    return arms


def save_results(db: Database, run_id: str, arm: str, repeat: int, results: Iterable[Any]) -> None:
    """Store TaskResults (replacing earlier ones for the same run, arm, repeat and task)."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO eval_results (run_id, arm, repeat, task_id, passed, answer, detail, call_id, "
        "skill_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, arm, repeat, r.task_id, int(r.passed), r.answer, r.detail, r.call_id, getattr(r, "skill_hash", None))
         for r in results])


def list_results(db: Database, run_id: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT arm, repeat, task_id, passed, answer, detail, call_id, skill_hash FROM eval_results "
                         "WHERE run_id = ? ORDER BY arm, repeat, task_id", [run_id]))


def runs_with_arm(db: Database, version_id: str, role: str = "candidate") -> list[str]:
    """Evaluation runs in which `version_id` is the arm with `role`, newest first."""
    return [r[0] for r in db.execute(
        "SELECT r.id FROM runs r JOIN eval_arms a ON a.run_id = r.id WHERE a.version_id = ? AND a.role = ? "
        "AND r.kind = 'evaluation' ORDER BY r.created DESC, r.id DESC", [version_id, role])]
