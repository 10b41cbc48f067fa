"""The analyst fleet: the extraction run kind, one analyst per chosen trajectory, many at once.

The run engine (`trace2skill.runs`) owns the run's state, cancel and resume; this module says what
one item is (a trajectory), how to plan a run (`select_trajectories`, `estimate`,
`create_extraction_run`) and how to work an item (`_analyse_one`: one analyst call through the LLM
client's cache, whose lessons the engine stores in the same transaction that marks the item done).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from trace2skill import runs
from trace2skill.analysis.analysts import (
    ANALYSTS,
    LOCAL_PROMPT_CHARS,
    PROMPT_CHARS,
    PromptBudget,
    analyse,
    analyst_for,
    build_messages,
)
from trace2skill.analysis.quality import RejectedIndex, store_lessons, with_flags
from trace2skill.costs import usage_cost
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import ModelPrice, Run
from trace2skill.settings import flag_policy
from trace2skill.splits import heldout_ids, refuse_heldout
from trace2skill.store import Workspace
from trace2skill.store.lessons import LessonFilter, count_lessons
from trace2skill.store.sessions import kind_clause
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
    flag_policy: str | None = None  # what happens to lessons flagged by code; None: the workspace's

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
                        flt: TrajectoryFilter | None = None, include_split_sessions: bool = False) -> list[str]:
    """Trajectories an extraction can use (known outcome, not held out), filtered, then sampled or cut.

    `balance` samples failures and successes in equal numbers (as far as each has enough). A session
    split into tasks is left out (its tasks are analysed instead) unless `include_split_sessions`."""
    base = flt or TrajectoryFilter()
    if not include_split_sessions:
        base = replace(base, extra_where=[*base.extra_where, kind_clause("whole")])
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
             price: ModelPrice | None = None) -> dict[str, Any]:
    """Token and cost estimate for a planned run, from the prompts it would send, priced at `price`
    (the model's row of the workspace's price table: `costs.price_for`; None: no price known)."""
    prompt_tokens = completion_tokens = calls = 0
    for tid in ids:
        t = get_trajectory(ws.db, tid)
        analyst = analyst_for(t.outcome)
        if analyst is None or analyst.name not in config.analysts:
            continue
        messages = build_messages(analyst, t, config.skill_text, config.max_lessons, config.budget())
        prompt_tokens += sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN
        completion_tokens += config.max_tokens
        calls += 1
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    cost = usage_cost(usage, price) if price is not None else 0.0
    return {"trajectories": len(ids), "calls": calls, "prompt_tokens": prompt_tokens,
            "max_completion_tokens": completion_tokens, "estimated_cost_usd": round(cost, 6),
            "priced": price is not None}


def create_extraction_run(ws: Workspace, ids: list[str], config: ExtractionConfig) -> str:
    if not ids:
        raise Trace2SkillError("no trajectories selected: import some, or widen the filters")
    refuse_heldout(ws.db, ids)
    if config.flag_policy is None:
        config.flag_policy = flag_policy(ws.db, local_model=config.base_url is None)
    return runs.create(ws, "extraction", config.as_dict(), ids)


def config_of(data: dict[str, Any]) -> ExtractionConfig:
    known = {k: v for k, v in data.items() if k in ExtractionConfig.__dataclass_fields__}
    return ExtractionConfig(**known)


def _analyse_one(ws: Workspace, client: StructuredClient, run_id: str, item_id: str,
                 config: ExtractionConfig, rejected: RejectedIndex) -> runs.ItemResult:
    t = get_trajectory(ws.db, item_id)
    analyst = analyst_for(t.outcome)
    if analyst is None or analyst.name not in config.analysts:
        return runs.ItemResult(note="skipped: no analyst for this outcome")
    result = analyse(client, analyst, t, skill_text=config.skill_text, max_lessons=config.max_lessons,
                     run_id=run_id, max_tokens=config.max_tokens, budget=config.budget())
    lessons = with_flags(ws.db, result.lessons, t, rejected)
    policy = config.flag_policy or "flag"
    return runs.ItemResult(save=lambda db: store_lessons(db, lessons, policy), prompt_tokens=result.prompt_tokens,
                           completion_tokens=result.completion_tokens)


def _execute(ctx: runs.RunContext) -> None:
    config = config_of(ctx.config)
    client = ctx.client
    rejected = RejectedIndex.of(ctx.ws.db)  # lessons reviewers rejected: a new one like them is flagged
    ctx.process_items(lambda item_id: _analyse_one(ctx.ws, client, ctx.run.id, item_id, config, rejected),
                      concurrency=ctx.workers(config.concurrency))


def _report(ws: Workspace, run: Run) -> tuple[list[str], dict[str, Any]]:
    total = count_lessons(ws.db, LessonFilter(run_id=run.id))
    grounded = count_lessons(ws.db, LessonFilter(run_id=run.id, grounded=True))
    flagged = count_lessons(ws.db, LessonFilter(run_id=run.id, flagged=True))
    line = (f"{plural(total, 'lesson')} from this run ({grounded} with evidence found in the trajectory"
            + (f"; {flagged} with quality flags: `trace2skill lessons --run {run.id}` says why" if flagged else "")
            + ")")
    return ([line] if total else []), {"lessons": total, "grounded_lessons": grounded, "flagged_lessons": flagged}


runs.register(runs.RunKind("extraction", _execute, items="trajectories", report=_report))
