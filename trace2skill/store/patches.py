"""Patches (lists of structured edits) and the merge-tree nodes that combine them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import DroppedEdit, Edit, MergeNode, Patch, utcnow
from trace2skill.store.workspace import write_transaction


def save_patch(db: Database, patch: Patch) -> None:
    edits = json.dumps([e.model_dump() for e in patch.edits], ensure_ascii=False)
    with write_transaction(db):
        db.execute(
            "INSERT INTO patches (id, run_id, level, edits, created) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET edits = excluded.edits, level = excluded.level",
            [patch.id, patch.run_id, patch.level, edits, utcnow()],
        )


def _patch(row: tuple[Any, ...]) -> Patch:
    return Patch(id=row[0], run_id=row[1], level=row[2], edits=[Edit(**e) for e in json.loads(row[3])])


def get_patch(db: Database, patch_id: str) -> Patch:
    row = db.execute("SELECT id, run_id, level, edits FROM patches WHERE id = ?", [patch_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no patch with id {patch_id!r}")
    return _patch(row)


def run_patches(db: Database, run_id: str, level: int | None = None, *, by_level: bool = True) -> list[Patch]:
    """The run's patches (of one level), by level then creation order (`by_level` off: creation order)."""
    where, params = ("run_id = ?", [run_id]) if level is None else ("run_id = ? AND level = ?", [run_id, level])
    order = "level, rowid" if by_level else "rowid"
    return [_patch(r) for r in db.execute(
        f"SELECT id, run_id, level, edits FROM patches WHERE {where} ORDER BY {order}", params)]


def patches_by_id(db: Database, ids: list[str]) -> dict[str, Patch]:
    """The stored patches among `ids` (one query however many), by id."""
    rows = db.execute("SELECT id, run_id, level, edits FROM patches WHERE id IN (SELECT value FROM json_each(?))",
                      [json.dumps(ids)])
    return {row[0]: _patch(row) for row in rows}


def edit_counts(db: Database, run_id: str) -> dict[str, int]:
    """patch id -> number of edits, for every patch of the run."""
    return dict(db.execute("SELECT id, json_array_length(edits) FROM patches WHERE run_id = ?", [run_id]).fetchall())


def run_edits(db: Database, run_id: str, edit_ids: Iterable[str]) -> dict[str, Edit]:
    """The stored edits with these ids among a run's patches, by id."""
    ids = json.dumps(sorted({i for i in edit_ids if i}))
    rows = db.execute("SELECT e.value FROM patches p, json_each(p.edits) e WHERE p.run_id = ? "
                      "AND json_extract(e.value, '$.id') IN (SELECT value FROM json_each(?))", [run_id, ids])
    edits = [Edit(**json.loads(value)) for (value,) in rows]
    return {edit.id: edit for edit in edits}


def top_patches(db: Database, run_id: str) -> list[str]:
    """Ids of the run's patches that no merge node took as input (newest first)."""
    used = {p for (inputs,) in db.execute("SELECT inputs FROM merge_nodes WHERE run_id = ?", [run_id])
            for p in json.loads(inputs)}
    ids = [r[0] for r in db.execute("SELECT id FROM patches WHERE run_id = ? ORDER BY level DESC, rowid DESC",
                                    [run_id])]
    return [i for i in ids if i not in used]


def save_node(db: Database, node: MergeNode, error: str | None = None) -> None:
    with write_transaction(db):
        db.execute(
            "INSERT INTO merge_nodes (run_id, level, idx, inputs, output, status, rationale, dropped, conflicts, "
            "error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, level, idx) DO UPDATE SET "
            "inputs = excluded.inputs, output = excluded.output, status = excluded.status, "
            "rationale = excluded.rationale, dropped = excluded.dropped, conflicts = excluded.conflicts, "
            "error = excluded.error",
            [node.run_id, node.level, node.idx, json.dumps(node.inputs), node.output, node.status, node.rationale,
             json.dumps([d.model_dump() for d in node.dropped]), json.dumps(node.conflicts), error],
        )


def finish_node(db: Database, node: MergeNode, error: str | None = None) -> bool:
    """Store a running node's result; False (nothing written) when it is no longer running (its
    run was cancelled meanwhile)."""
    with write_transaction(db):
        cur = db.execute(
            "UPDATE merge_nodes SET output = ?, status = ?, rationale = ?, dropped = ?, conflicts = ?, error = ? "
            "WHERE run_id = ? AND level = ? AND idx = ? AND status = 'running'",
            [node.output, node.status, node.rationale, json.dumps([d.model_dump() for d in node.dropped]),
             json.dumps(node.conflicts), error, node.run_id, node.level, node.idx],
        )
    return bool(cur.rowcount)


def _node(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("inputs", "dropped", "conflicts"):
        row[key] = json.loads(row[key])
    return row


def get_node(db: Database, run_id: str, level: int, idx: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM merge_nodes WHERE run_id = ? AND level = ? AND idx = ?", [run_id, level, idx]))
    return _node(rows[0]) if rows else None


def list_nodes(db: Database, run_id: str) -> list[dict[str, Any]]:
    return [_node(r) for r in db.query("SELECT * FROM merge_nodes WHERE run_id = ? ORDER BY level, idx", [run_id])]


def node_model(row: dict[str, Any]) -> MergeNode:
    return MergeNode(run_id=row["run_id"], level=row["level"], idx=row["idx"], inputs=row["inputs"],
                     output=row["output"], status=row["status"], rationale=row["rationale"],
                     dropped=[DroppedEdit(**d) for d in row["dropped"]], conflicts=row["conflicts"])
