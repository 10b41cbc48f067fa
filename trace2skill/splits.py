"""The split manager: which trajectories feed skill evolution ("evolve") and which are kept back to
measure it ("heldout").

A split is made by *task*, not by trajectory: several runs of one task (τ-bench has 4 trials per
task) land on the same side, else a lesson learnt from one trial would leak the answer of another.
Unmarked trajectories count as evolve. A trajectory is also treated as held out when its task text
(normalised) is the text of a stored evaluation task. Extraction refuses held-out trajectories
(`refuse_heldout`, called when an extraction run is planned).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable

from sqlite_utils import Database

from trace2skill.errors import HeldOutError, InvalidValueError
from trace2skill.models import content_hash, normalise_text
from trace2skill.store import evaluation as store
from trace2skill.store.decisions import record_decision
from trace2skill.store.evaluation import Split
from trace2skill.store.trajectories import TrajectoryFilter, task_rows
from trace2skill.store.workspace import write_transaction


def task_key(source_format: str, task_id: str | None, task: str) -> str:
    """Trajectories with equal keys are runs of one task."""
    if task_id:
        return f"{source_format}:{task_id}"
    return "text:" + content_hash(normalise_text(task or ""))


def _task_groups(db: Database, flt: TrajectoryFilter | None = None) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for tid, fmt, task_id, task in task_rows(db, flt):
        groups[task_key(fmt, task_id, task)].append(tid)
    return groups


def set_split(db: Database, trajectory_ids: Iterable[str], split: Split, *, by_task: bool = True,
              actor: str = "user") -> int:
    """Mark trajectories (with `by_task`, every run of their tasks) as evolve or held-out, recorded
    as `actor`'s decision on each; returns how many trajectories were marked."""
    ids = set(trajectory_ids)
    if by_task:
        groups = _task_groups(db).values()
        ids = {t for group in groups if ids.intersection(group) for t in group}
    with write_transaction(db):
        marked = store.mark_split(db, sorted(ids), split)
        for trajectory_id in sorted(ids):
            record_decision(db, "trajectory", trajectory_id, "set_split", actor=actor, detail={"split": split})
    return marked


def random_split(db: Database, heldout_fraction: float, *, seed: int = 0,
                 flt: TrajectoryFilter | None = None, actor: str = "user") -> dict[str, int]:
    """Hold out about `heldout_fraction` of the tasks (all their runs) of the matching
    trajectories, at random with `seed`; mark the rest evolve. Returns counts of trajectories."""
    if not 0.0 < heldout_fraction < 1.0:
        raise InvalidValueError(f"the held-out fraction must be between 0 and 1 (exclusive), not {heldout_fraction}")
    groups = _task_groups(db, flt)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_heldout = max(1, round(len(keys) * heldout_fraction)) if keys else 0
    heldout = [t for k in keys[:n_heldout] for t in groups[k]]
    evolve = [t for k in keys[n_heldout:] for t in groups[k]]
    counts = {"heldout": len(heldout), "evolve": len(evolve), "heldout_tasks": n_heldout,
              "evolve_tasks": len(keys) - n_heldout}
    with write_transaction(db):
        store.mark_split(db, heldout, "heldout")
        store.mark_split(db, evolve, "evolve")
        record_decision(db, "split", "random", "random_split", actor=actor,
                        detail={**counts, "fraction": heldout_fraction, "seed": seed})
    return counts


def heldout_ids(db: Database, trajectory_ids: Iterable[str] | None = None) -> set[str]:
    """Held-out trajectories among `trajectory_ids` (all when None): marked held-out, or whose
    task text is the text of a stored evaluation task."""
    ids = None if trajectory_ids is None else list(trajectory_ids)
    found = store.marked(db, "heldout")
    if ids is not None:
        found &= set(ids)
    hashes = store.eval_text_hashes(db)
    if hashes:
        for tid, _fmt, _task_id, task in task_rows(db, ids=ids):
            if task and content_hash(normalise_text(task)) in hashes:
                found.add(tid)
    return found


def refuse_heldout(db: Database, trajectory_ids: Iterable[str]) -> None:
    """Raise HeldOutError when any of `trajectory_ids` is held out."""
    ids = list(trajectory_ids)
    bad = sorted(heldout_ids(db, ids))
    if bad:
        shown = ", ".join(b[:12] for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise HeldOutError(
            f"{len(bad)} of the {len(ids)} chosen trajectories are held out for evaluation ({shown}); "
            "lessons from them would leak into the skill. Leave them out, or move them to the evolve "
            "side first (trace2skill split evolve IDS)")

