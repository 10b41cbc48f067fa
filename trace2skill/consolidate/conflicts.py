"""What counts as a conflict in a consolidation, defined once: the merge tree's node labels, a node's
detail, the Consolidate screen's run summary and the command's report all count with
`run_conflicts` (a node's share with `node_conflicts`).

A conflict is a set of edits that cannot all stand as written:

- at a merge node: each distinct set of input edits the merger reports as contradicting each
  other (or the current skill) — once per set, however often the answer repeats it. The merger
  settles it there (by support: the edit more runs back is kept, the others dropped with a reason);
- when the final patch is applied: each pair of edits that change the same lines. Code withholds
  both from the proposal.

The merger names input edits E1, E2, … in input order (`edit_labels`, the same function the merge
prompt is built with), so a reported conflict is traced back to the edits it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from trace2skill.models import Edit, Patch
from trace2skill.store.patches import list_nodes, patches_by_id

LABEL = re.compile(r"\bE(\d+)\b")


@dataclass(frozen=True)
class Conflict:
    where: Literal["merge", "apply"]
    level: int | None  # the merge node (None: found when applying the final patch)
    idx: int | None
    edit_ids: tuple[str, ...]  # the edits involved (stored ids)
    labels: tuple[str, ...]  # the same edits as the merger named them (E1, E3); empty when applying
    reason: str  # the merger's words, or why applying withheld the edits

    @property
    def node(self) -> tuple[int, int] | None:
        return (self.level, self.idx) if self.level is not None and self.idx is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "level": self.level, "idx": self.idx, "edit_ids": list(self.edit_ids),
                "labels": list(self.labels), "reason": self.reason}


def edit_labels(inputs: Sequence[Patch]) -> dict[str, Edit]:
    """The names a merge gives its input edits: E1, E2, … over the inputs in order."""
    return {f"E{k}": e for k, e in enumerate((e for p in inputs for e in p.edits), start=1)}


def merge_conflicts(level: int, idx: int, reported: Sequence[str], labels: Mapping[str, Edit]) -> list[Conflict]:
    """The conflicts of one merge node from what its merger reported: blank entries are none, and an
    entry naming the same edits as an earlier one is the same conflict."""
    seen: set[object] = set()
    out = []
    for entry in reported:
        text = " ".join(str(entry).split())
        if not text:
            continue
        named = tuple(dict.fromkeys(f"E{n}" for n in LABEL.findall(text) if f"E{n}" in labels))
        key: object = frozenset(named) if named else text.lower()
        if key in seen:
            continue
        seen.add(key)
        out.append(Conflict("merge", level, idx, tuple(labels[k].id for k in named), named, text))
    return out


def node_conflicts(node: Mapping[str, Any], patches: Mapping[str, Patch]) -> list[Conflict]:
    """The conflicts of a stored merge node; `patches` holds (at least) its input patches by id."""
    labels = edit_labels([patches[p] for p in node["inputs"] if p in patches])
    return merge_conflicts(node["level"], node["idx"], node.get("conflicts") or [], labels)


def applied_conflicts(stored: Sequence[Mapping[str, Any]]) -> list[Conflict]:
    """The conflicts found when applying the final patch, among those a run stored (runs stored
    before merge conflicts were counted with them hold only these, without "where")."""
    return [Conflict("apply", None, None, tuple(c.get("edit_ids") or ()), (), str(c.get("reason") or ""))
            for c in stored if c.get("where", "apply") == "apply"]


def run_conflicts(db: Database, run_id: str, applied: Sequence[Mapping[str, Any]] = ()) -> list[Conflict]:
    """Every conflict of a consolidation run: those its merge nodes settled (by level, then index),
    then those withheld when applying its final patch (`applied`: as `propose_version` or the run's
    counters hold them; merge conflicts among them are ignored, the nodes are the record)."""
    nodes = [n for n in list_nodes(db, run_id) if n["conflicts"]]
    patches = patches_by_id(db, sorted({p for n in nodes for p in n["inputs"]})) if nodes else {}
    return [c for n in nodes for c in node_conflicts(n, patches)] + applied_conflicts(applied)


def conflicts_by_node(conflicts: Sequence[Conflict]) -> dict[tuple[int, int], list[Conflict]]:
    out: dict[tuple[int, int], list[Conflict]] = {}
    for c in conflicts:
        if c.node is not None:
            out.setdefault(c.node, []).append(c)
    return out
