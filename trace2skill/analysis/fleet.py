"""The analyst fleet: an extraction run over chosen trajectories, many analysts at once.

A run's state lives in the database (`runs`, `run_items`), so progress survives a page reload and
a run survives a crash: `execute_run` works only on queued items, and `resume_run` re-queues what
was running when the process died (and, by default, what failed). Each analyst call goes through
the LLM client's cache, so a call that finished before a crash is never sent again. A worker
stores a trajectory's lessons and marks its item done in one transaction.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

from trace2skill.analysis.analysts import (
    ANALYSTS,
    LOCAL_PROMPT_CHARS,
    PROMPT_CHARS,
    PromptBudget,
    StructuredClient,
    analyse,
    analyst_for,
    build_messages,
)
from trace2skill import jobs
from trace2skill.errors import Trace2SkillError
from trace2skill.evaluate.splits import heldout_ids, refuse_heldout
from trace2skill.store import Workspace, write_transaction
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.trajectories import TrajectoryFilter, get_trajectory, trajectory_ids

Which = Literal["failure", "success", "all"]
CHARS_PER_TOKEN = 4


@dataclass
class ExtractionConfig:
    outcome: Which = "all"
    analysts: list[str] = field(default_factory=lambda: ["error", "success"])
    max_lessons: int = 3
    concurrency: int = 8
    max_tokens: int = 1024
    skill_version: str | None = None  # the frozen starting skill, when deepening one
    skill_text: str | None = None
    model: str | None = None
    base_url: str | None = None  # None: the embedded local model
    prompt_chars: int | None = None  # None: a default fitting the endpoint (short for the local model)

    def budget(self) -> PromptBudget:
        if self.prompt_chars:
            return PromptBudget(self.prompt_chars)
        return PromptBudget(LOCAL_PROMPT_CHARS if self.base_url is None else PROMPT_CHARS)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompts"] = {name: ANALYSTS[name].prompt_ref for name in self.analysts}  # type: ignore[index]
        return data


def select_trajectories(ws: Workspace, *, outcome: Which = "all", limit: int | None = None,
                        sample: int | None = None, seed: int = 0, balance: bool = False,
                        flt: TrajectoryFilter | None = None) -> list[str]:
    """Trajectories an extraction can use (known outcome, not held out), filtered, then sampled or cut.

    `balance` samples failures and successes in equal numbers (as far as each has enough)."""
    base = flt or TrajectoryFilter()
    outcomes = ["failure", "success"] if outcome == "all" else [outcome]
    held = heldout_ids(ws.db)
    pools = {o: [i for i in trajectory_ids(ws.db, TrajectoryFilter(**{**base.__dict__, "outcome": o})) if i not in held]
             for o in outcomes}
    rng = random.Random(seed)
    if sample is not None:
        if balance and len(pools) == 2:
            half = sample // 2
            chosen = rng.sample(pools["failure"], min(half, len(pools["failure"])))
            chosen += rng.sample(pools["success"], min(sample - len(chosen), len(pools["success"])))
        else:
            everything = [i for ids in pools.values() for i in ids]
            chosen = rng.sample(everything, min(sample, len(everything)))
    else:
        chosen = [i for ids in pools.values() for i in ids]
    return chosen[:limit] if limit is not None else chosen


def estimate(ws: Workspace, ids: list[str], config: ExtractionConfig,
             price_per_1k: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
    """Token and cost estimate for a planned run, from the prompts it would send."""
    prompt_tokens = completion_tokens = calls = 0
    for tid in ids:
        t = get_trajectory(ws.db, tid)
        analyst = analyst_for(t["outcome"])
        if analyst is None or analyst.name not in config.analysts:
            continue
        messages = build_messages(analyst, t, config.skill_text, config.max_lessons, config.budget())
        prompt_tokens += sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN
        completion_tokens += config.max_tokens
        calls += 1
    cost = prompt_tokens / 1000 * price_per_1k[0] + completion_tokens / 1000 * price_per_1k[1]
    return {"trajectories": len(ids), "calls": calls, "prompt_tokens": prompt_tokens,
            "max_completion_tokens": completion_tokens, "estimated_cost_usd": round(cost, 4)}


def create_extraction_run(ws: Workspace, ids: list[str], config: ExtractionConfig) -> str:
    if not ids:
        raise Trace2SkillError("no trajectories selected: import some, or widen the filters")
    refuse_heldout(ws.db, ids)
    return run_store.create_run(ws.db, "extraction", config.as_dict(), ids)


def _config_of(ws: Workspace, run_id: str) -> ExtractionConfig:
    data = run_store.get_run(ws.db, run_id)["config"]
    data.pop("prompts", None)
    return ExtractionConfig(**data)


def _work_one(ws: Workspace, client: StructuredClient, run_id: str, item_id: str, config: ExtractionConfig) -> str:
    db = ws.db
    t = get_trajectory(db, item_id)
    analyst = analyst_for(t["outcome"])
    if analyst is None or analyst.name not in config.analysts:
        run_store.finish_item(db, run_id, item_id, "done", error="skipped: no analyst for this outcome")
        return "done"
    result = analyse(client, analyst, t, skill_text=config.skill_text, max_lessons=config.max_lessons,
                     run_id=run_id, max_tokens=config.max_tokens, budget=config.budget())
    with write_transaction(db):
        insert_lessons(db, result.lessons)
        run_store.finish_item(db, run_id, item_id, "done", prompt_tokens=result.prompt_tokens,
                              completion_tokens=result.completion_tokens)
    return "done"


Progress = Callable[[str, str], None]  # (item id, new status)


def execute_run(ws: Workspace, run_id: str, client: StructuredClient, *, on_item: Progress | None = None,
                concurrency: int | None = None) -> dict[str, Any]:
    """Process every queued item of the run with up to `concurrency` analysts at once; blocks."""
    config = _config_of(ws, run_id)
    return jobs.process_queued(ws, run_id, lambda item_id: _work_one(ws, client, run_id, item_id, config),
                               concurrency=concurrency or config.concurrency, on_item=on_item)


def cancel_run(ws: Workspace, run_id: str) -> None:
    """Ask a run to stop: items not yet started are marked cancelled; running ones finish."""
    run_store.set_run_status(ws.db, run_id, "cancelled")


def resume_run(ws: Workspace, run_id: str, client: StructuredClient, *, retry_failed: bool = True,
               on_item: Progress | None = None, concurrency: int | None = None) -> dict[str, Any]:
    run_store.requeue(ws.db, run_id, failed=retry_failed)
    return execute_run(ws, run_id, client, on_item=on_item, concurrency=concurrency)


def start_in_background(ws: Workspace, run_id: str, client: StructuredClient, *, resume: bool = False) -> None:
    """Run (or resume) in a background thread; pages poll the database for progress."""
    if resume:
        run_store.requeue(ws.db, run_id)
    jobs.start(run_id, lambda: execute_run(ws, run_id, client))
