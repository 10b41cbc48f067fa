"""The merge tree of a consolidation run as the Consolidate screen lays it out: leaves (one proposer
patch per trajectory, named by the trajectory's task in a few words) and merge nodes (named in
words: "Level 2 · 4 edits → 2"), in rows from the root down, each node placed above the leaves it
merges so the screen can draw every node as something to click. Read from the database only, so a
live view and a reload agree. No streamlit here.

Conflict counts come from `consolidate.conflicts.run_conflicts`, as the run summary's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from trace2skill.consolidate.conflicts import conflicts_by_node, run_conflicts
from trace2skill.consolidate.propose import leaf_patch_id
from trace2skill.store.patches import edit_counts, list_nodes
from trace2skill.store.runs import item_statuses, run_progress
from trace2skill.store.trajectories import TrajectoryFilter, list_trajectories
from trace2skill.textcut import task_words

STATUS_WORDS = {"queued": "waiting", "running": "merging now", "done": "done", "failed": "failed",
                "fallback": "fallback: inputs passed up unchanged", "cancelled": "cancelled"}
LEAF_LIMIT = 40  # above this many trajectories, leaves are not drawn (open a level-1 node to see them)


@dataclass
class Leaf:
    trajectory_id: str
    patch_id: str  # "" until the proposer finished (its patch is stored then)
    status: str
    edits: int | None  # None until the proposer finished
    task: str = ""  # the trajectory's task in a few words

    @property
    def label(self) -> str:
        return f"{self.task or self.trajectory_id[:10]} · {_edits(self.edits)}"


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
    def key(self) -> tuple[int, int]:
        return (self.level, self.idx)

    @property
    def name(self) -> str:
        """"Level 2 · #0": which node, in words."""
        return f"Level {self.level} · #{self.idx}"

    @property
    def label(self) -> str:
        """"Level 2 · 4 edits → 2", with its conflicts when it has any."""
        out = "…" if self.edits_out is None else str(self.edits_out)
        text = f"Level {self.level} · {_edits(self.edits_in)} → {out}"
        if self.conflicts:
            text += f" · {self.conflicts} conflict{'s' if self.conflicts != 1 else ''}"
        return text


@dataclass
class Cell:
    """One clickable box of the laid-out tree: a merge node (key (level, idx)) or a leaf (key the
    trajectory id), as wide as the number of leaves beneath it."""

    key: tuple[int, int] | str
    label: str
    status: str
    width: int


@dataclass
class TreeView:
    leaves: list[Leaf] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    leaves_left_out: int = 0  # leaves not read: too many to draw (a run over 100,000 trajectories)

    @property
    def leaf_count(self) -> int:
        return len(self.leaves) + self.leaves_left_out

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUS_WORDS, 0)
        for n in self.nodes:
            out[n.status] = out.get(n.status, 0) + 1
        return out

    @property
    def root(self) -> Node | None:
        """The top node once the tree is complete (a single node on the highest level)."""
        if not self.nodes:
            return None
        top = max(n.level for n in self.nodes)
        tops = [n for n in self.nodes if n.level == top]
        return tops[0] if len(tops) == 1 else None


def _edits(n: int | None) -> str:
    return "…" if n is None else f"{n} edit{'s' if n != 1 else ''}"


def tree_view(db: Database, run_id: str) -> TreeView:
    """The run's tree as stored now. Leaves, named by their tasks, are read only when they are few
    enough to draw (`LEAF_LIMIT`): a run over 100,000 trajectories has them counted instead."""
    counts = edit_counts(db, run_id)
    total = run_progress(db, run_id).total
    statuses = item_statuses(db, run_id) if total <= LEAF_LIMIT else []
    rows = list_trajectories(db, TrajectoryFilter(ids=[t for t, _s in statuses]), limit=LEAF_LIMIT) if statuses else []
    tasks = {r.id: task_words(r.task) for r in rows}
    leaves = []
    for item, status in statuses:
        patch_id = leaf_patch_id(run_id, item) if status == "done" else ""
        leaves.append(Leaf(item, patch_id, status, counts.get(patch_id) if patch_id else None, tasks.get(item, "")))
    per_node = conflicts_by_node(run_conflicts(db, run_id))
    nodes = [Node(n["level"], n["idx"], n["status"], n["inputs"], n["output"],
                  sum(counts.get(p, 0) for p in n["inputs"]), counts.get(n["output"]) if n["output"] else None,
                  len(n["dropped"]), len(per_node.get((n["level"], n["idx"]), [])))
             for n in list_nodes(db, run_id)]
    return TreeView(_distinct_tasks(leaves), nodes, leaves_left_out=total - len(leaves))


def _distinct_tasks(leaves: list[Leaf]) -> list[Leaf]:
    """Two trajectories of the same task get "(2)", "(3)" after their words."""
    seen: dict[str, int] = {}
    for leaf in leaves:
        seen[leaf.task] = seen.get(leaf.task, 0) + 1
        if seen[leaf.task] > 1 and leaf.task:
            leaf.task = f"{leaf.task} ({seen[leaf.task]})"
    return leaves


def tree_rows(view: TreeView, *, leaf_limit: int = LEAF_LIMIT) -> list[list[Cell]]:
    """The tree in rows, the highest level first and the leaves last (left out above `leaf_limit`),
    each node's children in the rows below it in the same left-to-right order, so a row of boxes
    sized by `width` sits above what it merges."""
    producer = {n.output: n for n in view.nodes if n.output}
    leaf_of = {leaf.patch_id: leaf for leaf in view.leaves if leaf.patch_id}
    draw_leaves = bool(view.leaves) and view.leaf_count <= leaf_limit

    def is_leaf(patch_id: str) -> bool:  # with the leaves left out, any input no merge made is one
        return patch_id in leaf_of or (view.leaves_left_out > 0 and patch_id not in producer)
    widths: dict[tuple[int, int], int] = {}

    def width(n: Node) -> int:
        if n.key not in widths:
            widths[n.key] = 0  # guards against a malformed (cyclic) record
            widths[n.key] = max(1, sum(width(producer[p]) if p in producer else 1
                                       for p in n.inputs if p in producer or is_leaf(p)))
        return widths[n.key]

    order: list[Node | Leaf] = []
    placed: set[object] = set()

    def visit(item: Node | Leaf) -> None:
        key = item.key if isinstance(item, Node) else item.trajectory_id
        if key in placed or (isinstance(item, Leaf) and not draw_leaves):
            return
        placed.add(key)
        order.append(item)
        if isinstance(item, Node):
            for p in item.inputs:
                child = producer.get(p) or leaf_of.get(p)
                if child is not None and (not isinstance(child, Node) or child.level < item.level):
                    visit(child)

    for n in sorted(view.nodes, key=lambda n: (-n.level, n.idx)):
        visit(n)
    for leaf in view.leaves if draw_leaves else ():
        visit(leaf)
    levels = sorted({n.level for n in view.nodes}, reverse=True)
    rows = [[Cell(n.key, n.label, n.status, width(n)) for n in order if isinstance(n, Node) and n.level == level]
            for level in levels]
    if draw_leaves:
        rows.append([Cell(x.trajectory_id, x.label, x.status, 1) for x in order if isinstance(x, Leaf)])
    return rows
