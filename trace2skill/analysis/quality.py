"""Quality flags on real lessons: the checks of `flags` with what they need from the workspace (the
trajectory's text, how many runs a value occurs in, the lessons reviewers rejected), and the
workspace policy that decides what happens to a flagged lesson.

Policy (workspace setting ``flagged_lessons``): ``flag`` (shown with their reasons), ``hide``
(left out of the Lessons screen behind a count, until shown), ``reject`` (rejected at once, the
reasons recorded as the decision of "quality policy"). The default is ``hide`` for the embedded toy
model, whose lessons are mostly unusable, and ``flag`` for a real endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trace2skill.analysis import flags as checks
from trace2skill.models import Lesson, LessonFlag, StoredTrajectory
from trace2skill.store.lessons import insert_lessons, rejected_texts, set_status
from trace2skill.store.trajectories import tasks_containing, trajectory_text

POLICY_ACTOR = "quality policy"


@dataclass
class RejectedIndex:
    """Embeddings of the lessons reviewers rejected, to spot a lesson that brings one back."""

    ids: list[str] = field(default_factory=list)
    vectors: Any = None

    @classmethod
    def of(cls, db: Any) -> RejectedIndex:
        rows = rejected_texts(db)
        if not rows:
            return cls()
        from trace2skill.embed import embedder

        return cls([r[0] for r in rows], embedder().embed([r[1] for r in rows]))

    def nearest(self, text: str) -> tuple[str, float] | None:
        if not self.ids:
            return None
        from trace2skill.embed import embedder

        scores = self.vectors @ embedder().embed([text])[0]
        best = int(scores.argmax())
        return self.ids[best], float(scores[best])


def rejected_before(lesson: Lesson, rejected: RejectedIndex | None) -> LessonFlag | None:
    found = rejected.nearest(f"{lesson.title}\n{lesson.content}") if rejected else None
    if found is None or found[1] < checks.NEAR_DUPLICATE or found[0] == lesson.id:
        return None
    return LessonFlag(code="rejected_before",
                      reason=f"{found[1]:.0%} similar to lesson {found[0][:10]}, which a reviewer rejected")


def lesson_flags(db: Any, lesson: Lesson, text: str, rejected: RejectedIndex | None = None) -> list[LessonFlag]:
    """Every flag of one lesson; `text` is its trajectory's text."""
    return checks.unique([
        *checks.text_flags(lesson.title, lesson.description, lesson.content),
        checks.ungrounded(lesson.grounded, len(lesson.evidence)),
        checks.copied(lesson.content, text),
        checks.run_values(lesson.content, text, lambda value: tasks_containing(db, value)),
        rejected_before(lesson, rejected),
    ])


def with_flags(db: Any, lessons: Sequence[Lesson], trajectory: StoredTrajectory,
               rejected: RejectedIndex | None = None) -> list[Lesson]:
    """The lessons of one trajectory with their flags set."""
    if not lessons:
        return []
    text = trajectory_text(db, trajectory.id)
    return [lesson.model_copy(update={"flags": lesson_flags(db, lesson, text, rejected)}) for lesson in lessons]


def store_lessons(db: Any, lessons: Sequence[Lesson], policy: str) -> int:
    """Insert a trajectory's lessons; under the "reject" policy the flagged ones are rejected at
    once, each with its reasons recorded as the decision. Returns how many were new."""
    new = insert_lessons(db, lessons)
    if policy == "reject":
        for lesson in lessons:
            if lesson.flags:
                set_status(db, [lesson.id], "rejected", actor=POLICY_ACTOR,
                           detail={"flags": [f.model_dump() for f in lesson.flags]})
    return new
