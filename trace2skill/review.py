"""Review decisions that need a reviewer's explicit word: approving a lesson that code flagged
(or whose quotes were not found in its trajectory) is refused unless the reviewer confirms it,
and the confirmed problems are recorded with the decision. A group of near-duplicate lessons is
settled at once: one kept (approved) and the others rejected as its duplicates, or all rejected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trace2skill.analysis.flags import label
from trace2skill.errors import ReviewError
from trace2skill.models import Lesson
from trace2skill.store.lessons import lessons_by_ids, set_status
from trace2skill.store.workspace import write_transaction


def problems(lesson: Lesson) -> list[str]:
    """What a reviewer must confirm before approving: each flag's reason, and ungrounded quotes."""
    found = [f"{label(f.code)}: {f.reason}" for f in lesson.flags]
    if lesson.grounded is False and not any(f.code == "ungrounded" for f in lesson.flags):
        found.append("quotes not found in the run")
    return found


@dataclass
class Approval:
    approved: int = 0
    needs_confirmation: list[Lesson] = field(default_factory=list)  # flagged, left as they were


def approve(db: Any, ids: list[str], *, actor: str, despite_problems: bool = False) -> Approval:
    """Approve lessons; flagged or ungrounded ones only with `despite_problems` (the problems are
    recorded in the decision), otherwise they are returned untouched."""
    out = Approval()
    clean: list[str] = []
    for lesson in lessons_by_ids(db, ids):
        issues = problems(lesson)
        if not issues:
            clean.append(lesson.id)
        elif despite_problems:
            out.approved += set_status(db, [lesson.id], "approved", actor=actor,
                                       detail={"confirmed_problems": issues})
        elif lesson.status != "approved":
            out.needs_confirmation.append(lesson)
    out.approved += set_status(db, clean, "approved", actor=actor)
    return out


# --------------------------------------------------------------------------- near-duplicate groups


def representative(group: list[Lesson]) -> str:
    """The lesson to keep from a group by default: one already approved, else one without problems,
    grounded, citing the most evidence (the first such in the group's order)."""
    if not group:
        raise ReviewError("a near-duplicate group needs at least one lesson")
    best = min(range(len(group)), key=lambda i: (group[i].status != "approved", bool(problems(group[i])),
                                                 group[i].grounded is not True, -len(group[i].evidence), i))
    return group[best].id


@dataclass
class GroupDecision:
    approved: int = 0
    rejected: int = 0


def keep_one(db: Any, ids: list[str], keep: str, *, actor: str) -> GroupDecision:
    """Approve `keep` and reject the other lessons of its group, each recorded with
    {"duplicate_of": keep}; all or nothing. A kept lesson that is flagged (or whose quotes were not
    found) must first be approved on its own, confirming its problems."""
    if keep not in ids:
        raise ReviewError(f"lesson {keep} is not in this group of near-duplicates")
    found = {lesson.id: lesson for lesson in lessons_by_ids(db, ids)}
    kept = found.get(keep)
    if kept is None:
        raise ReviewError(f"lesson {keep} no longer exists")
    if kept.status != "approved" and problems(kept):
        raise ReviewError(f"the lesson to keep ({kept.title}) is flagged or its quotes were not found: "
                          "approve it on its own first, confirming its problems")
    others = [i for i in ids if i != keep and i in found]
    out = GroupDecision()
    with write_transaction(db):
        out.approved = set_status(db, [keep], "approved", actor=actor, detail={"duplicates": others})
        for other in others:
            out.rejected += set_status(db, [other], "rejected", actor=actor, detail={"duplicate_of": keep})
    return out


def reject_group(db: Any, ids: list[str], *, actor: str) -> int:
    """Reject every lesson of a near-duplicate group (each decision names the whole group)."""
    return set_status(db, list(ids), "rejected", actor=actor, detail={"near_duplicates": list(ids)})
