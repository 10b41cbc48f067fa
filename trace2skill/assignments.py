"""Review queues: lessons put in reviewers' queues — those matching a filter, a run's, or chosen ones —
shared out among several reviewers with near-duplicates kept together (one person settles a group
of look-alike lessons at once), and each reviewer's progress. Every assignment is recorded as the
assigner's decision ("queue", REVIEWER, "assigned_lessons")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from trace2skill.errors import InvalidValueError
from trace2skill.models import Lesson
from trace2skill.reviewers import check_name
from trace2skill.store import write_transaction
from trace2skill.store.assignments import (
    QueueProgress,
    add_assignments,
    assigned_lesson_ids,
    queue_progress,
    remove_assignments,
)
from trace2skill.store.decisions import record_decision

MAX_GROUPED = 2000  # lessons compared for near-duplicates in one assignment
DUPLICATE_THRESHOLD = 0.8


@dataclass(frozen=True)
class Assigned:
    reviewer: str
    lessons: int  # lessons given to this reviewer
    new: int  # of them, not in their queue before


def share_out(ids: Sequence[str], reviewers: Sequence[str],
              groups: Sequence[Sequence[str]] = ()) -> dict[str, list[str]]:
    """Each lesson to one reviewer, loads as even as the groups allow: a group of near-duplicates
    goes whole to one reviewer (largest first, to whoever has least). Each queue keeps `ids`' order."""
    if not reviewers:
        raise InvalidValueError("name at least one reviewer to assign lessons to")
    place = {lesson_id: n for n, lesson_id in enumerate(dict.fromkeys(ids))}
    units: list[list[str]] = []
    grouped: set[str] = set()
    for group in groups:
        members = [i for i in dict.fromkeys(group) if i in place and i not in grouped]
        if members:
            units.append(members)
            grouped.update(members)
    units += [[i] for i in place if i not in grouped]
    units.sort(key=lambda unit: (-len(unit), place[unit[0]]))
    out: dict[str, list[str]] = {name: [] for name in reviewers}
    for unit in units:
        least = min(out, key=lambda name: len(out[name]))
        out[least].extend(unit)
    return {name: sorted(given, key=place.__getitem__) for name, given in out.items()}


def near_duplicate_units(lessons: Sequence[Lesson], threshold: float = DUPLICATE_THRESHOLD) -> list[list[str]]:
    """Groups of near-duplicate lessons (title and guidance alike), as lesson ids."""
    if len(lessons) > MAX_GROUPED:
        raise InvalidValueError(f"near-duplicates are kept together for at most {MAX_GROUPED:,} lessons at once "
                                f"({len(lessons):,} here): narrow the selection, or share them out without grouping")
    from trace2skill.embed import near_duplicate_groups

    groups = near_duplicate_groups([f"{lesson.title}\n{lesson.content}" for lesson in lessons], threshold)
    return [[lessons[i].id for i in group] for group in groups]


def _names(reviewers: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(check_name(r) for r in reviewers))
    if not names:
        raise InvalidValueError("name at least one reviewer to assign lessons to")
    return names


def assign_lessons(db: Database, ids: Sequence[str], reviewers: Sequence[str], *, actor: str,
                   groups: Sequence[Sequence[str]] = (), how: str = "") -> list[Assigned]:
    """Put lessons in reviewers' queues, shared out among them (see `share_out`); `how` says how
    they were chosen ("filter: …", "run …"), recorded with the decision."""
    names, actor = _names(reviewers), check_name(actor)
    if not ids:
        raise InvalidValueError("there are no lessons to assign: nothing matches")
    plan = share_out(ids, names, groups)
    out = []
    with write_transaction(db):
        for name, given in plan.items():
            new = add_assignments(db, ((i, name) for i in given), actor)
            if given:
                record_decision(db, "queue", name, "assigned_lessons", actor=actor,
                                detail={"lessons": len(given), "new": new, "how": how, "grouped": bool(groups)})
            out.append(Assigned(name, len(given), new))
    return out


def unassign_lessons(db: Database, ids: Sequence[str], reviewer: str, *, actor: str) -> int:
    """Take lessons out of a reviewer's queue; returns how many were in it."""
    name, actor = check_name(reviewer), check_name(actor)
    with write_transaction(db):
        removed = remove_assignments(db, ids, name)
        if removed:
            record_decision(db, "queue", name, "unassigned_lessons", actor=actor, detail={"lessons": removed})
    return removed


def queue(db: Database, reviewer: str) -> list[str]:
    """The lessons in a reviewer's queue, in the order they were assigned."""
    return assigned_lesson_ids(db, reviewer)


def progress(db: Database) -> list[QueueProgress]:
    """Each reviewer's queue: assigned, decided, decided by them, left to review."""
    return queue_progress(db)
