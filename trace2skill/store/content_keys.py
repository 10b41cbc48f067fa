"""Bringing a workspace from before the import history up to date (migration m011_imports).

Trajectory ids used to hash the outcome too; they now hash the content only, so that a re-import with a
corrected outcome finds the trajectory it relabels. Old trajectories keep their ids (lessons, splits
and decisions point at them); their outcome-free key is rebuilt here from the stored rows into
`content_key`, checked by recomputing the old id from the same rows. A row whose old id cannot be
reproduced keeps no key: a re-import matches it by nothing and adds the trajectory again.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import ValidationError
from sqlite_utils import Database

from trace2skill.models import Outcome, OutcomeLabel, Step, Task, Trajectory, content_hash

COLLECTED_FORMAT = "qa_run"  # attempts kept by `trace2skill collect`: runs of the QA agent, not imports
EARLIER_ACTOR = "unknown"


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _rebuild(row: dict[str, Any], steps: list[dict[str, Any]], label: OutcomeLabel) -> Trajectory:
    return Trajectory(
        source_format=row["source_format"], task=Task(id=row["task_id"], prompt=row["task"]),
        outcome=Outcome(label=label, reward=row["reward"], detail=row["outcome_detail"]),
        steps=[Step(index=s["idx"], role=s["role"], text=s["text"], reasoning=s["reasoning"],
                    tool_calls=_load(s["tool_calls"]) or [], tool_results=_load(s["tool_results"]) or [],
                    timestamp=s["timestamp"], raw_ref=s["raw_ref"]) for s in steps],
        model=row["model"], final_output=row["final_output"], ground_truth=_load(row["ground_truth"]),
        metadata=_load(row["metadata"]) or {},
    )


def old_id(t: Trajectory) -> str:
    """The id a trajectory had before ids left the outcome out."""
    return content_hash(t.model_dump(exclude={"id", "source_name"}))


def content_key(db: Database, row: dict[str, Any]) -> str | None:
    """The outcome-free key of a stored trajectory, or None when its stored id cannot be reproduced
    (an outcome set by hand is tried against each label, since the data's label was not kept)."""
    steps = list(db.query("SELECT * FROM steps WHERE trajectory_id = ? ORDER BY idx", [row["id"]]))
    labels: list[OutcomeLabel] = [row["outcome"]]
    if row["outcome_source"] == "user":
        labels += [label for label in get_args(OutcomeLabel) if label != row["outcome"]]
    try:
        for label in labels:
            t = _rebuild(row, steps, label)
            if old_id(t) == row["id"]:
                return t.compute_id()
    except (ValidationError, ValueError, TypeError):
        return None
    return None


def backfill_content_keys(db: Database) -> int:
    """Set `content_key` on every trajectory that has none; returns how many got one."""
    keys = []
    for row in db.query("SELECT * FROM trajectories WHERE content_key IS NULL"):
        key = content_key(db, row)
        if key is not None:
            keys.append((key, row["id"]))
    db.conn.executemany("UPDATE trajectories SET content_key = ? WHERE id = ?", keys)
    return len(keys)


def record_earlier_imports(db: Database) -> int:
    """Record the trajectories already in the workspace as one earlier import per source file (what
    each added), so they can be listed and deleted like later imports. Collected attempts are left out."""
    db.execute(
        "INSERT INTO imports (file, format, records, imported, status, actor, started, finished) "
        "SELECT source_name, group_concat(DISTINCT source_format), count(*), count(*), 'earlier', ?, "
        "min(imported_at), max(imported_at) FROM trajectories WHERE source_format != ? "
        "GROUP BY source_name ORDER BY min(imported_at), source_name", [EARLIER_ACTOR, COLLECTED_FORMAT])
    return db.execute(
        "INSERT INTO import_trajectories (import_id, trajectory_id, change) "
        "SELECT i.id, t.id, 'added' FROM trajectories t JOIN imports i ON i.file = t.source_name "
        "AND i.status = 'earlier' WHERE t.source_format != ?", [COLLECTED_FORMAT]).rowcount
