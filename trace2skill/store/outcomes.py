"""Outcomes set by hand: one trajectory's, or many at once; each change recorded as a decision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.models import OutcomeLabel
from trace2skill.store.decisions import record_decision
from trace2skill.store.workspace import write_transaction

if TYPE_CHECKING:
    from trace2skill.store.trajectories import TrajectoryFilter


def set_outcome(db: Database, trajectory_id: str, label: OutcomeLabel, *, actor: str = "user") -> None:
    """Set one trajectory's outcome by hand (a re-import leaves it alone), recorded as a decision."""
    with write_transaction(db):
        cur = db.execute(
            "UPDATE trajectories SET outcome = ?, outcome_source = 'user' WHERE id = ?",
            [label, trajectory_id],
        )
        if cur.rowcount == 0:
            raise NotFoundError(f"no trajectory with id {trajectory_id}")
        record_decision(db, "trajectory", trajectory_id, "set_outcome", actor=actor, detail={"outcome": label})


@dataclass
class Relabelled:
    """What a relabel did: the trajectories whose outcome changed, and how many already had it."""

    outcome: OutcomeLabel
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"outcome": self.outcome, "changed": len(self.changed), "unchanged": self.unchanged,
                "trajectories": self.changed}


def set_outcomes(db: Database, ids: list[str], label: OutcomeLabel, *, actor: str = "user",
                 why: dict[str, Any] | None = None) -> Relabelled:
    """Set the outcome of these trajectories (full ids) by hand, in one transaction: each one that
    changes is marked as set by a person (a re-import leaves it alone) and recorded as a decision with
    the outcome it had. NotFoundError, and nothing changed, when an id is not in the workspace."""
    wanted = list(dict.fromkeys(ids))
    out = Relabelled(label)
    with write_transaction(db):
        current: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = json.dumps(wanted[start : start + 500])
            current.update(db.execute("SELECT id, outcome FROM trajectories WHERE id IN "
                                      "(SELECT value FROM json_each(?))", [chunk]).fetchall())
        missing = [i for i in wanted if i not in current]
        if missing:
            raise NotFoundError(f"no trajectory with id {missing[0]!r}" + (
                f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + "; nothing was changed")
        out.changed = [i for i in wanted if current[i] != label]
        out.unchanged = len(wanted) - len(out.changed)
        db.conn.executemany("UPDATE trajectories SET outcome = ?, outcome_source = 'user' WHERE id = ?",
                            [(label, i) for i in out.changed])
        for i in out.changed:
            record_decision(db, "trajectory", i, "set_outcome", actor=actor,
                            detail={"outcome": label, "previous": current[i], **(why or {})})
    return out


@dataclass(frozen=True)
class RuleInput:
    """What an outcome rule reads of one trajectory."""

    id: str
    outcome: str
    final_output: str | None
    ground_truth: dict[str, Any] | None
    reward: float | None
    last_result: dict[str, Any] | None  # the last tool result of the run, if any


def rule_inputs(db: Database, flt: TrajectoryFilter | None = None) -> Iterator[RuleInput]:
    """The trajectories matching `flt`, with what outcome rules read, streamed."""
    from trace2skill.store.trajectories import _where

    where, params = _where(db, flt)
    sql = ("SELECT t.id, t.outcome, t.final_output, t.ground_truth, t.reward, "
           "(SELECT s.tool_results FROM steps s WHERE s.trajectory_id = t.id AND s.tool_results != '[]' "
           " ORDER BY s.idx DESC LIMIT 1) FROM trajectories t" + where + " ORDER BY t.rowid")
    for tid, outcome, final, truth, reward, results in db.execute(sql, params):
        last = json.loads(results)[-1] if results else None
        yield RuleInput(tid, outcome, final, json.loads(truth) if truth else None, reward, last)
