"""The merge tree of a consolidation run as the Consolidate screen shows it: a Graphviz DOT string
(leaves = one proposer patch per trajectory, inner nodes = merge nodes, colored by status) and the
detail of one node (inputs, output, dropped edits, conflicts). Read from the database only, so a
live view and a reload agree. No streamlit here.

Labels carry ids, levels and counts only (never LLM or trajectory text), and are DOT-escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from trace2skill.consolidate.propose import leaf_patch_id
from trace2skill.models import Edit
from trace2skill.store.lessons import run_lesson_trajectories
from trace2skill.store.patches import edit_counts, get_node, list_nodes, patches_by_id
from trace2skill.store.runs import item_statuses
from trace2skill.store.verifications import verified_ids

COLORS = {"queued": "#e9ecef", "running": "#a5d8ff", "done": "#b2f2bb", "failed": "#ffc9c9",
          "fallback": "#ffd8a8", "cancelled": "#dee2e6"}
LEAF_LIMIT = 40  # above this many trajectories, leaves are drawn grouped under their merge node


@dataclass
class Leaf:
    trajectory_id: str
    patch_id: str
    status: str
    edits: int | None  # None until the proposer finished


@dataclass
class Node:
    level: int
    idx: int
    status: str  # queued | running | done | fallback | failed | cancelled
    inputs: list[str]
    output: str | None
    edits_in: int
    edits_out: int | None
    dropped: int
    conflicts: int

    @property
    def key(self) -> str:
        return f"L{self.level}-{self.idx}"

    @property
    def label(self) -> str:
        return f"L{self.level} · #{self.idx}"


@dataclass
class TreeView:
    leaves: list[Leaf] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(COLORS, 0)
        for n in self.nodes:
            out[n.status] = out.get(n.status, 0) + 1
        return out


def tree_view(db: Database, run_id: str) -> TreeView:
    counts = edit_counts(db, run_id)
    leaves = [Leaf(item, leaf_patch_id(run_id, item), status,
                   counts.get(leaf_patch_id(run_id, item)) if status == "done" else None)
              for item, status in item_statuses(db, run_id)]
    nodes = [Node(n["level"], n["idx"], n["status"], n["inputs"], n["output"],
                  sum(counts.get(p, 0) for p in n["inputs"]), counts.get(n["output"]) if n["output"] else None,
                  len(n["dropped"]), len(n["conflicts"]))
             for n in list_nodes(db, run_id)]
    return TreeView(leaves, nodes)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _box(name: str, label: str, status: str, **extra: str) -> str:
    attrs = {"label": label, "fillcolor": COLORS.get(status, "#ffffff"), "tooltip": status, **extra}
    return f"  {_q(name)} [{', '.join(f'{k}={_q(v)}' for k, v in attrs.items())}];"


def _edits(n: int | None) -> str:
    return "…" if n is None else f"{n} edit{'s' if n != 1 else ''}"


def tree_dot(view: TreeView, selected: tuple[int, int] | None = None) -> str:
    """Graphviz DOT for the tree: leaves at the bottom, the root on top."""
    lines = ["digraph merge_tree {", '  rankdir="BT"; bgcolor="transparent"; nodesep="0.15"; ranksep="0.35";',
             '  node [shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10", color="#868e96"];',
             '  edge [color="#adb5bd", arrowsize="0.6"];']
    producer = {n.output: n.key for n in view.nodes if n.output}
    leaf_of = {leaf.patch_id: leaf for leaf in view.leaves}
    grouped = len(view.leaves) > LEAF_LIMIT
    fed: set[str] = set()
    for n in view.nodes:
        for pid in n.inputs:
            if pid in leaf_of:
                fed.add(pid)
    if not grouped:
        for leaf in view.leaves:
            lines.append(_box(f"leaf-{leaf.trajectory_id}", f"{leaf.trajectory_id[:10]}\n{_edits(leaf.edits)}",
                              leaf.status, shape="note"))
    else:
        waiting: dict[str, int] = {}
        for leaf in view.leaves:
            if leaf.patch_id not in fed:
                waiting[leaf.status] = waiting.get(leaf.status, 0) + 1
        for status, k in sorted(waiting.items()):
            lines.append(_box(f"leaves-{status}", f"{k} proposal{'s' if k != 1 else ''}\n{status}", status,
                              shape="note"))
    for n in view.nodes:
        extra = f"\n{n.dropped} dropped" if n.dropped else ""
        extra += f"\n{n.conflicts} conflict{'s' if n.conflicts != 1 else ''}" if n.conflicts else ""
        label = f"{n.label}\n{n.edits_in} → {_edits(n.edits_out)}{extra}"
        style = {"penwidth": "2.5", "color": "#1c7ed6"} if selected == (n.level, n.idx) else {}
        lines.append(_box(n.key, label, n.status, **style))
        group_leaves = [leaf_of[p] for p in n.inputs if p in leaf_of]
        if grouped and group_leaves:
            edits = sum(leaf.edits or 0 for leaf in group_leaves)
            lines.append(_box(f"{n.key}-leaves", f"{len(group_leaves)} proposals\n{_edits(edits)}", "done",
                              shape="note"))
            lines.append(f"  {_q(n.key + '-leaves')} -> {_q(n.key)};")
        for pid in n.inputs:
            if pid in leaf_of and not grouped:
                lines.append(f"  {_q('leaf-' + leaf_of[pid].trajectory_id)} -> {_q(n.key)};")
            elif pid in producer:
                lines.append(f"  {_q(producer[pid])} -> {_q(n.key)};")
    lines.append("}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- one node


def _edit_row(edit: Edit, trajectory_of: dict[str, str], verified: set[str]) -> dict[str, Any]:
    trajectories = {trajectory_of.get(s, s) for s in edit.support}
    return {"edit": edit.id[:10], "op": edit.op, "file": edit.file or "", "section": edit.section or "",
            "anchor": edit.anchor or "", "content": edit.content or "",
            "rationale": edit.rationale or "", "support": len(trajectories),
            "lessons": len(edit.support), "verified": len(verified.intersection(edit.support)),
            "derived from": ", ".join(d[:10] for d in edit.derived_from), "id": edit.id}


def node_detail(db: Database, run_id: str, level: int, idx: int) -> dict[str, Any] | None:
    """Inputs (with their edits and support counts), output edits, dropped edits with reasons and
    the input they came from, conflicts, rationale and error of one merge node."""
    row = get_node(db, run_id, level, idx)
    if row is None:
        return None
    inputs, dropped, conflicts = row["inputs"], row["dropped"], row["conflicts"]
    trajectory_of = run_lesson_trajectories(db, run_id)
    verified = verified_ids(db, trajectory_of)
    producers = {n["output"]: (n["level"], n["idx"]) for n in list_nodes(db, run_id) if n["output"]}
    leaves = {leaf_patch_id(run_id, t): t for t, _status in item_statuses(db, run_id)}
    patches = {pid: p.edits for pid, p in patches_by_id(db, inputs).items()}
    out_patch = patches_by_id(db, [row["output"]]).get(row["output"]) if row["output"] else None
    out_edits = out_patch.edits if out_patch else []
    source: dict[str, str] = {}
    input_rows = []
    for k, pid in enumerate(inputs, start=1):
        if pid in leaves:
            origin = f"proposer patch of trajectory {leaves[pid]}"
        elif pid in producers:
            origin = f"output of merge node L{producers[pid][0]} · #{producers[pid][1]}"
        else:
            origin = "patch"
        edits = [_edit_row(e, trajectory_of, verified) for e in patches.get(pid, [])]
        for e in edits:
            source[e["id"]] = f"input {k}"
        input_rows.append({"patch_id": pid, "origin": origin, "edits": edits})
    by_id = {e["id"]: e for inp in input_rows for e in inp["edits"]}
    dropped_rows = [{"edit": d["edit_id"][:10], "from": source.get(d["edit_id"], ""), "reason": d["reason"],
                     "content": by_id.get(d["edit_id"], {}).get("content", ""), "id": d["edit_id"]} for d in dropped]
    return {"level": level, "idx": idx, "status": row["status"], "rationale": row["rationale"],
            "error": row["error"], "inputs": input_rows,
            "output": [_edit_row(e, trajectory_of, verified) for e in out_edits],
            "dropped": dropped_rows, "conflicts": conflicts, "output_id": row["output"]}
