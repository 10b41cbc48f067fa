"""One box of the merge tree, opened: for a merge node its inputs, the accounting of every input edit
(kept, merged, dropped with a reason, in a conflict — or unaccounted for), each conflict with the
edits involved, their text and support and how it was settled, and the output edits; for a leaf the
trajectory's proposal. Read from the database only. No streamlit here.

Conflicts come from `consolidate.conflicts`, as the tree's labels and the run summary's count do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from trace2skill.consolidate.accounting import Accounting, EditFate, account
from trace2skill.consolidate.conflicts import Conflict, applied_conflicts, node_conflicts
from trace2skill.consolidate.propose import leaf_patch_id
from trace2skill.models import Edit
from trace2skill.store.lessons import run_lesson_trajectories
from trace2skill.store.patches import get_node, list_nodes, patches_by_id, run_edits
from trace2skill.store.runs import item_statuses
from trace2skill.store.trajectories import TrajectoryFilter, list_trajectories
from trace2skill.store.verifications import verified_ids
from trace2skill.textcut import task_words

EDIT_COLUMNS = ["edit", "op", "file", "section", "content", "support", "lessons", "verified", "from"]
ACCOUNT_COLUMNS = ["edit", "input", "content", "support", "what happened"]
CONFLICT_COLUMNS = ["edit", "content", "support", "outcome"]


@dataclass
class Support:
    """Support counts as the screens give them: distinct trajectories, lessons, verified lessons."""

    trajectory_of: dict[str, str]
    verified: set[str]

    @classmethod
    def of_run(cls, db: Database, run_id: str) -> Support:
        trajectory_of = run_lesson_trajectories(db, run_id)
        return cls(trajectory_of, verified_ids(db, trajectory_of))

    def runs(self, edit: Edit) -> int:
        return len({self.trajectory_of.get(s, s) for s in edit.support})

    def row(self, edit: Edit, name: str, sources: str = "") -> dict[str, Any]:
        return {"edit": name, "op": edit.op, "file": edit.file or "", "section": edit.section or "",
                "content": edit.content or "", "support": self.runs(edit), "lessons": len(edit.support),
                "verified": len(self.verified.intersection(edit.support)), "from": sources, "id": edit.id}


@dataclass
class ConflictView:
    number: int
    where: str  # "this merge" or "applying the final patch"
    said: str  # the merger's words (or why applying withheld the edits)
    rows: list[dict[str, Any]] = field(default_factory=list)  # CONFLICT_COLUMNS
    resolution: str = ""


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _runs_text(n: int) -> str:
    return _count(n, "run")


def merge_conflict_view(number: int, conflict: Conflict, fates: dict[str, EditFate], support: Support) -> ConflictView:
    """A conflict a merge settled: the edits it names, and what the merge did with each."""
    rows, said = [], []
    for edit_id in conflict.edit_ids:
        fate = fates.get(edit_id)
        if fate is None:
            continue
        runs = support.runs(fate.edit)
        rows.append({"edit": fate.label, "content": fate.edit.content, "support": runs, "outcome": fate.detail})
        said.append(f"{fate.label} ({_runs_text(runs)}) {fate.detail}")
    resolution = "; ".join(said) if said else ("The merger did not name the edits involved (it should name them "
                                               "as E1, E2, …); its rationale may say more.")
    return ConflictView(number, "this merge", conflict.reason, rows, resolution)


def apply_conflict_views(db: Database, run_id: str, stored: list[dict[str, Any]], support: Support,
                         start: int = 1) -> list[ConflictView]:
    """The conflicts found when applying the final patch: both edits withheld from the proposal."""
    conflicts = applied_conflicts(stored)
    edits = run_edits(db, run_id, [i for c in conflicts for i in c.edit_ids])
    out = []
    for n, c in enumerate(conflicts, start=start):
        rows = [{"edit": i[:10], "content": edits[i].content if i in edits else "", "support":
                 support.runs(edits[i]) if i in edits else 0, "outcome": "withheld from the proposal"}
                for i in c.edit_ids]
        out.append(ConflictView(n, "applying the final patch", c.reason, rows,
                                f"Withheld both: {c.reason}. Neither is in the proposed skill."))
    return out


@dataclass
class NodeDetail:
    level: int
    idx: int
    status: str
    rationale: str
    error: str | None
    inputs: list[str]  # where each input comes from, in words
    accounting: Accounting
    conflicts: list[ConflictView]
    output: list[dict[str, Any]]  # EDIT_COLUMNS (+ id)
    support: Support

    def accounting_rows(self) -> list[dict[str, Any]]:
        return [{"edit": r.label, "input": f"input {r.input_no}", "content": r.edit.content,
                 "support": self.support.runs(r.edit), "what happened": r.what_happened} for r in self.accounting.rows]


def _origins(db: Database, run_id: str, inputs: list[str]) -> dict[str, str]:
    """Where each input patch comes from, in words."""
    producers = {n["output"]: (n["level"], n["idx"]) for n in list_nodes(db, run_id) if n["output"]}
    leaves = {leaf_patch_id(run_id, t): t for t, _status in item_statuses(db, run_id)}
    mine = [leaves[p] for p in inputs if p in leaves]
    tasks = {r.id: task_words(r.task) for r in list_trajectories(db, TrajectoryFilter(ids=mine), limit=len(mine) or 1)}
    out = {}
    for pid in inputs:
        if pid in leaves:
            out[pid] = f"the proposal from trajectory “{tasks.get(leaves[pid], leaves[pid][:10])}”"
        elif pid in producers:
            out[pid] = f"the output of Level {producers[pid][0]} · #{producers[pid][1]}"
        else:
            out[pid] = "a patch"
    return out


def node_detail(db: Database, run_id: str, level: int, idx: int) -> NodeDetail | None:
    row = get_node(db, run_id, level, idx)
    if row is None:
        return None
    patches = patches_by_id(db, [*row["inputs"], *([row["output"]] if row["output"] else [])])
    inputs = [patches[p] for p in row["inputs"] if p in patches]
    conflicts = node_conflicts(row, patches)
    accounting = account(inputs, patches.get(row["output"] or ""), row["dropped"], conflicts,
                         settled=row["status"] in ("done", "fallback") and bool(row["output"]))
    support = Support.of_run(db, run_id)
    fates = {r.edit.id: r for r in accounting.rows}
    origins = _origins(db, run_id, row["inputs"])
    label_of = {r.edit.id: r.label for r in accounting.rows}
    out_patch = patches.get(row["output"] or "")
    output = [support.row(e, f"output {n}", ", ".join(label_of.get(i, i[:10]) for i in dict.fromkeys(e.derived_from)))
              for n, e in enumerate(out_patch.edits if out_patch else [], start=1)]
    return NodeDetail(level, idx, row["status"], row["rationale"] or "", row["error"],
                      [f"Input {k}: {origins[p]} · {_count(len(patches[p].edits) if p in patches else 0, 'edit')}"
                       for k, p in enumerate(row["inputs"], start=1)],
                      accounting, [merge_conflict_view(n, c, fates, support) for n, c in enumerate(conflicts, start=1)],
                      output, support)


@dataclass
class LeafDetail:
    trajectory_id: str
    task: str
    status: str
    edits: list[dict[str, Any]]  # EDIT_COLUMNS (+ id)


def leaf_detail(db: Database, run_id: str, trajectory_id: str) -> LeafDetail | None:
    status = dict(item_statuses(db, run_id)).get(trajectory_id)
    if status is None:
        return None
    found = list_trajectories(db, TrajectoryFilter(ids=[trajectory_id]), limit=1)
    patch = patches_by_id(db, [leaf_patch_id(run_id, trajectory_id)]).get(leaf_patch_id(run_id, trajectory_id))
    support = Support.of_run(db, run_id)
    edits = [support.row(e, f"edit {n}")
             for n, e in enumerate(patch.edits if patch else [], start=1)]
    return LeafDetail(trajectory_id, found[0].task if found else "", status, edits)
