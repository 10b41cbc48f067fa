"""Patches (lists of structured edits) and the merge-tree nodes that combine them."""

from __future__ import annotations

import json
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


def get_patch(db: Database, patch_id: str) -> Patch:
    row = db.execute("SELECT id, run_id, level, edits FROM patches WHERE id = ?", [patch_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no patch with id {patch_id!r}")
    return Patch(id=row[0], run_id=row[1], level=row[2], edits=[Edit(**e) for e in json.loads(row[3])])


def run_patches(db: Database, run_id: str, level: int | None = None) -> list[Patch]:
    where, params = ("run_id = ?", [run_id]) if level is None else ("run_id = ? AND level = ?", [run_id, level])
    ids = [r[0] for r in db.execute(f"SELECT id FROM patches WHERE {where} ORDER BY level, rowid", params)]
    return [get_patch(db, i) for i in ids]


def save_node(db: Database, node: MergeNode, error: str | None = None) -> None:
    with write_transaction(db):
        db.execute(
            "INSERT INTO merge_nodes (run_id, level, idx, inputs, output, status, rationale, dropped, conflicts, error) "
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
