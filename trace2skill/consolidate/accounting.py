"""What one merge did with each of its input edits, so that a reviewer can check that none went
missing: every input edit is kept (an output edit derives from it alone), merged (an output edit
derives from it and others), dropped with a reason, or at least named in a conflict; anything else
is unaccounted for. The counts add up to the edits in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trace2skill.consolidate.conflicts import Conflict, edit_labels
from trace2skill.models import Edit, Patch

FATES = ("kept", "merged", "dropped", "in a conflict", "unaccounted")


@dataclass
class EditFate:
    label: str  # E1, as the merger saw it
    edit: Edit
    input_no: int  # 1-based
    fate: str  # one of FATES, or "waiting" while the node has no answer
    detail: str
    outputs: tuple[int, ...] = ()  # 1-based numbers of the output edits citing it
    conflicts: tuple[int, ...] = ()  # 1-based numbers of the node's conflicts naming it

    @property
    def what_happened(self) -> str:
        """The detail, with the conflicts that name the edit."""
        named = f"in conflict {', '.join(map(str, self.conflicts))}" if self.conflicts else ""
        return f"{self.detail} · {named}" if named and self.fate != "in a conflict" else self.detail


@dataclass
class Accounting:
    rows: list[EditFate] = field(default_factory=list)
    settled: bool = True  # the merge has an answer (done, or fallback: inputs passed up)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(FATES, 0)
        for row in self.rows:
            if row.fate in out:
                out[row.fate] += 1
        return out

    @property
    def unaccounted(self) -> list[EditFate]:
        return [r for r in self.rows if r.fate == "unaccounted"]

    @property
    def adds_up(self) -> bool:
        return not self.unaccounted

    def sentence(self) -> str:
        """"4 edits in = 1 kept + 2 merged + 1 dropped" (with the fates that occur)."""
        n = len(self.rows)
        head = f"{n} edit{'s' if n != 1 else ''} in"
        if not self.settled:
            return f"{head}: not merged yet"
        parts = [f"{k} {fate}" for fate, k in self.counts().items() if k]
        named = sum(1 for r in self.rows if r.conflicts)
        tail = f" ({named} of them named in conflicts)" if named and named != self.counts()["in a conflict"] else ""
        return f"{head} = {' + '.join(parts) or '0'}{tail}"


def _labels_text(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def account(inputs: Sequence[Patch], output: Patch | None, dropped: Sequence[Mapping[str, str]],
            conflicts: Sequence[Conflict], *, settled: bool) -> Accounting:
    """The fate of every input edit of a merge node. `dropped`: the node's stored drops
    ({"edit_id", "reason"}); `conflicts`: the node's conflicts (conflicts.node_conflicts)."""
    labels = edit_labels(inputs)
    label_of = {e.id: k for k, e in labels.items()}
    input_of = {e.id: n for n, p in enumerate(inputs, start=1) for e in p.edits}
    out_edits = output.edits if output else []
    citing: dict[str, list[int]] = {}
    for n, e in enumerate(out_edits, start=1):
        for source in dict.fromkeys(e.derived_from):
            citing.setdefault(source, []).append(n)
    reasons = {d["edit_id"]: d["reason"] for d in dropped}
    in_conflicts: dict[str, list[int]] = {}
    for n, c in enumerate(conflicts, start=1):
        for edit_id in c.edit_ids:
            in_conflicts.setdefault(edit_id, []).append(n)
    rows = []
    for label, edit in labels.items():
        outs, nums = tuple(citing.get(edit.id, ())), tuple(in_conflicts.get(edit.id, ()))
        if not settled:
            fate, detail = "waiting", "not merged yet"
        elif outs:
            alone = [n for n in outs if list(dict.fromkeys(out_edits[n - 1].derived_from)) == [edit.id]]
            fate = "kept" if alone else "merged"
            if alone:
                detail = f"kept as output edit {alone[0]}"
            else:
                others = [label_of.get(i, i[:10]) for n in outs for i in dict.fromkeys(out_edits[n - 1].derived_from)
                          if i != edit.id]
                where = "output edit" + ("s " if len(outs) > 1 else " ") + ", ".join(map(str, outs))
                detail = f"merged into {where}" + (f" with {_labels_text(list(dict.fromkeys(others)))}"
                                                   if others else "")
        elif edit.id in reasons:
            fate, detail = "dropped", f"dropped: {reasons[edit.id]}"
        elif nums:
            fate, detail = "in a conflict", "named in a conflict; neither used nor dropped"
        else:
            fate, detail = "unaccounted", "neither used in an output edit, dropped with a reason, nor in a conflict"
        rows.append(EditFate(label, edit, input_of[edit.id], fate, detail, outs, nums))
    return Accounting(rows, settled)
