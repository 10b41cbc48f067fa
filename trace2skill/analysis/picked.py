"""Trajectories picked by hand for an extraction (on the Trajectories screen), and the list of what
an extraction over a selection will process, shown before it starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from trace2skill.analysis.analysts import analyst_for
from trace2skill.splits import heldout_ids
from trace2skill.store.sessions import split_session_ids
from trace2skill.store.trajectories import TrajectoryFilter, list_trajectories
from trace2skill.textcut import task_words

PLAN_COLUMNS = ["task", "outcome", "steps", "analyst", "id"]
LIST_UP_TO = 500  # a longer selection is listed in part (the estimate still covers all of it)


@dataclass
class Picked:
    ids: list[str]  # those an extraction can use, in the order picked
    left_out: dict[str, int] = field(default_factory=dict)  # why others were left out -> how many

    def note(self) -> str:
        """"2 held out for evaluation, 1 no longer in the workspace" ("" when none was left out)."""
        return ", ".join(f"{n} {why}" for why, n in self.left_out.items() if n)


def usable_picked(db: Database, ids: Sequence[str]) -> Picked:
    """The picked trajectories an extraction may read: still in the workspace, not held out for
    evaluation (held-out data measures a skill and never shapes it), not a session split into tasks
    (its tasks are analysed instead), outcome known (an analyst reads failures or successes)."""
    unique = list(dict.fromkeys(ids))
    rows = {r.id: r for r in list_trajectories(db, TrajectoryFilter(ids=unique), limit=len(unique) or 1)}
    held = heldout_ids(db, list(rows))
    split = split_session_ids(db, list(rows))
    usable, gone, unknown = [], 0, 0
    for i in unique:
        if i not in rows:
            gone += 1
        elif i in held or i in split:
            continue
        elif rows[i].outcome == "unknown":
            unknown += 1
        else:
            usable.append(i)
    return Picked(usable, {"held out for evaluation": len(held), "with no known outcome": unknown,
                           "no longer in the workspace": gone,
                           "split into tasks (their tasks are analysed instead)": len(split - held)})


def plan_rows(db: Database, ids: Sequence[str], analysts: Sequence[str], *,
              limit: int = LIST_UP_TO) -> list[dict[str, Any]]:
    """What a run over `ids` processes, in run order (the first `limit`): the task in a few words,
    the outcome, the number of steps, and which analyst reads it (none when the chosen analysts do
    not cover its outcome)."""
    shown = list(ids[:limit])
    rows = {r.id: r for r in list_trajectories(db, TrajectoryFilter(ids=shown), limit=len(shown) or 1)}
    out = []
    for i in shown:
        row = rows.get(i)
        if row is None:
            continue
        analyst = analyst_for(row.outcome)
        reads = (f"{analyst.name} analyst" if analyst is not None and analyst.name in analysts
                 else "none (not among the chosen analysts)")
        out.append({"task": task_words(row.task, 12), "outcome": row.outcome, "steps": row.n_steps,
                    "analyst": reads, "id": row.id})
    return out
