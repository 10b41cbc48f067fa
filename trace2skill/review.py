"""Review decisions that need a reviewer's explicit word: approving a lesson that code flagged
(or whose quotes were not found in its trajectory) is refused unless the reviewer confirms it,
and the confirmed problems are recorded with the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trace2skill.analysis.flags import label
from trace2skill.models import Lesson
from trace2skill.store.lessons import lessons_by_ids, set_status


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
