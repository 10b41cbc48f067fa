"""Setting trajectories' outcomes by hand, one or many at once (ids may be abbreviated), each change
recorded as a decision. A trajectory relabelled by hand keeps its label when its file is imported again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

from trace2skill.errors import InvalidValueError
from trace2skill.models import OutcomeLabel
from trace2skill.store.outcomes import Relabelled, set_outcomes
from trace2skill.store.trajectories import get_trajectory

OUTCOMES: tuple[OutcomeLabel, ...] = ("success", "failure", "unknown")


def check_outcome(value: str) -> OutcomeLabel:
    for label in OUTCOMES:
        if value == label:
            return label
    raise InvalidValueError(f"unknown outcome {value!r}; use one of {', '.join(OUTCOMES)}")


def relabel(db: Database, ids: Iterable[str], outcome: str, *, actor: str = "user") -> Relabelled:
    """Set the outcome of these trajectories (full ids or unique prefixes); NotFoundError, and nothing
    changed, when one is unknown."""
    label = check_outcome(outcome)
    full = [i if len(i) >= 16 else get_trajectory(db, i, with_steps=False).id for i in ids]
    return set_outcomes(db, full, label, actor=actor)
