"""The verification run kind: check lessons by replaying their trajectories' tasks.

One item per trajectory with lessons to check. For each: the task is re-run k times with the frozen
skill alone (the baseline) and k times with the skill plus each lesson; each lesson gets a verdict
(see `verdicts`) with the replays stored as its evidence. When no lesson of a failed run fixes it,
the error analyst revises its lessons with the replays in view, up to `rounds` times, and the
revised lessons are checked in turn (`fixloop`). A trajectory whose task cannot be scored (no gold
answer for the QA evaluator) gets "not verifiable" for each lesson, without any call.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from trace2skill import runs
from trace2skill.analysis.analysts import LOCAL_PROMPT_CHARS, PROMPT_CHARS, PromptBudget
from trace2skill.analysis.quality import store_lessons, with_flags
from trace2skill.context_window import ANSWER_TOKENS, EVALUATION_SHARE
from trace2skill.errors import SkillTooLargeError, Trace2SkillError
from trace2skill.evaluate.evaluators import Evaluator
from trace2skill.evaluate.run import EvalConfig
from trace2skill.evaluate.tasks import task_from_trajectory
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import EvalTask, Lesson, LessonCheck, Run, StoredTrajectory
from trace2skill.settings import flag_policy, skill_chars_setting
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import Workspace
from trace2skill.store.lessons import lessons_by_ids
from trace2skill.store.runs import get_run
from trace2skill.store.skills import get_version
from trace2skill.store.trajectories import get_trajectory
from trace2skill.store.verifications import save_checks, verdict_counts
from trace2skill.verify.fixloop import revise
from trace2skill.verify.replay import Check, Replays, check_lesson, replay


@dataclass
class VerifyConfig:
    evaluator: Literal["qa", "command"] = "qa"
    command: str | None = None  # the command evaluator's command line
    repeats: int = 2  # replays per lesson (and for the baseline)
    rounds: int = 1  # fix-loop rounds for a failure no lesson fixes (0: none)
    tolerance: float = 0.0
    timeout_s: float = 600.0
    answer_tokens: int = ANSWER_TOKENS  # per replay answer, its reasoning included (QA evaluator)
    analyst_tokens: int = 1024  # per revision (fix loop)
    max_lessons: int = 3
    concurrency: int = 4
    skill_version: str | None = None  # the frozen starting skill the lessons were drawn against
    base_url: str | None = None
    model: str | None = None
    flag_policy: str | None = None
    source_run: str | None = None  # the extraction run whose lessons are checked, when one
    lesson_ids: list[str] = field(default_factory=list)
    skill_chars: int | None = None  # the whole replay skill must fit a QA prompt; None: the endpoint's default

    def eval_config(self) -> EvalConfig:
        return EvalConfig(evaluator=self.evaluator, command=self.command, tolerance=self.tolerance,
                          timeout_s=self.timeout_s, max_tokens=self.answer_tokens, base_url=self.base_url,
                          skill_chars=self.skill_chars)

    def budget(self) -> PromptBudget:
        return PromptBudget(LOCAL_PROMPT_CHARS if self.base_url is None else PROMPT_CHARS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def create_verification_run(ws: Workspace, lesson_ids: list[str], config: VerifyConfig) -> str:
    """A queued verification of these lessons (one item per trajectory)."""
    if config.repeats < 1 or config.rounds < 0:
        raise Trace2SkillError("repeats must be at least 1 and rounds at least 0")
    config.eval_config().validate()
    lessons = lessons_by_ids(ws.db, lesson_ids)
    if not lessons:
        raise Trace2SkillError("no lessons to verify: extract some first, or widen the selection")
    if config.flag_policy is None:
        config.flag_policy = flag_policy(ws.db, local_model=config.base_url is None)
    if config.skill_chars is None:
        config.skill_chars = skill_chars_setting(ws.db, EVALUATION_SHARE)
    config.lesson_ids = sorted(lesson.id for lesson in lessons)
    items = sorted({lesson.trajectory_id for lesson in lessons})
    return runs.create(ws, "verification", asdict(config), items)


def verify_extraction(ws: Workspace, extraction_run: str, config: VerifyConfig) -> str:
    """A verification of the lessons an extraction run wrote (rejected ones left out), against the
    frozen skill that run used."""
    source = get_run(ws.db, extraction_run)
    if source.kind != "extraction":
        raise Trace2SkillError(f"run {source.id} is a {source.kind} run, not an extraction")
    from trace2skill.store.lessons import LessonFilter, lesson_ids

    ids = [i for s in ("proposed", "approved") for i in lesson_ids(ws.db, LessonFilter(run_id=source.id, status=s))]
    config.skill_version = config.skill_version or source.config.get("skill_version")
    config.source_run = source.id
    return create_verification_run(ws, ids, config)


@dataclass
class _Context:
    ws: Workspace
    client: StructuredClient | None
    run_id: str
    config: VerifyConfig
    evaluator: Evaluator
    base: SkillFolder | None
    by_trajectory: dict[str, list[Lesson]]


def _checks(run_id: str, found: list[Check], repeats: int) -> list[LessonCheck]:
    return [LessonCheck(lesson_id=c.lesson_id, run_id=run_id, verdict=c.verdict, rate_with=c.with_lesson.rate,
                        rate_without=c.baseline.rate, repeats=repeats, round=c.round, evidence=c.evidence())
            for c in found]


def _not_verifiable(run_id: str, lessons: list[Lesson], why: str) -> list[LessonCheck]:
    return [LessonCheck(lesson_id=lesson.id, run_id=run_id, verdict="not_verifiable", evidence={"reason": why})
            for lesson in lessons]


def _fix_loop(ctx: _Context, t: StoredTrajectory, task: EvalTask, lessons: list[Lesson], checks: list[Check],
              baseline: Replays) -> tuple[list[Lesson], list[Check]]:
    """Revise the lessons of a failure until one fixes it or the rounds run out."""
    new_lessons: list[Lesson] = []
    new_checks: list[Check] = []
    current, current_checks = lessons, checks
    skill_text = ctx.base.skill_md() if ctx.base is not None else None
    for round_no in range(1, ctx.config.rounds + 1):
        if ctx.client is None or any(c.verdict == "fixed" for c in current_checks):
            break
        revised = revise(ctx.client, t, skill_text, current, current_checks, round_no=round_no,
                         max_lessons=ctx.config.max_lessons, repeats=ctx.config.repeats, budget=ctx.config.budget(),
                         max_tokens=ctx.config.analyst_tokens, run_id=ctx.run_id)
        revised = with_flags(ctx.ws.db, revised, t)
        if not revised:
            break
        current_checks = [check_lesson(ctx.evaluator, ctx.base, task, lesson, t.outcome, baseline,
                                       ctx.config.repeats, ctx.run_id, round_no) for lesson in revised]
        new_lessons += revised
        new_checks += current_checks
        current = revised
    return new_lessons, new_checks


def _verify_one(ctx: _Context, trajectory_id: str) -> runs.ItemResult:
    t = get_trajectory(ctx.ws.db, trajectory_id)
    lessons = ctx.by_trajectory.get(trajectory_id, [])
    task = task_from_trajectory(t)
    if ctx.config.evaluator == "qa" and not task.answers:
        found = _not_verifiable(ctx.run_id, lessons, "the task has no gold answer to score a replay against")
        return runs.ItemResult(save=lambda db: save_checks(db, found), note="not verifiable: no gold answer")
    try:
        baseline = replay(ctx.evaluator, ctx.base, task, ctx.config.repeats, ctx.run_id)
        checks = [check_lesson(ctx.evaluator, ctx.base, task, lesson, t.outcome, baseline, ctx.config.repeats,
                               ctx.run_id) for lesson in lessons]
    except SkillTooLargeError as exc:  # a replay never runs with a cut skill
        too_large = _not_verifiable(ctx.run_id, lessons, str(exc))
        return runs.ItemResult(save=lambda db: save_checks(db, too_large), note="not verifiable: skill too large")
    new_lessons: list[Lesson] = []
    if t.outcome == "failure":
        new_lessons, more = _fix_loop(ctx, t, task, lessons, checks, baseline)
        checks += more
    stored = _checks(ctx.run_id, checks, ctx.config.repeats)
    policy = ctx.config.flag_policy or "flag"
    tokens = [sum(x) for x in zip(*([c.with_lesson.tokens for c in checks] + [baseline.tokens]), strict=True)]

    def save(db: Any) -> None:
        store_lessons(db, new_lessons, policy)
        save_checks(db, stored)

    return runs.ItemResult(save=save, prompt_tokens=tokens[0], completion_tokens=tokens[1])


def _execute(ctx: runs.RunContext) -> None:
    config = VerifyConfig.from_dict(ctx.config)
    by_trajectory: dict[str, list[Lesson]] = defaultdict(list)
    for lesson in lessons_by_ids(ctx.ws.db, config.lesson_ids):
        by_trajectory[lesson.trajectory_id].append(lesson)
    base = None
    if config.skill_version:
        base = SkillFolder.from_files(get_version(ctx.ws.db, config.skill_version).files)
    client = ctx.optional_client
    work = _Context(ctx.ws, client, ctx.run.id, config, config.eval_config().evaluator_for(client), base,
                    dict(by_trajectory))
    ctx.process_items(lambda t: _verify_one(work, t), concurrency=ctx.workers(config.concurrency))


def _report(ws: Workspace, run: Run) -> tuple[list[str], dict[str, Any]]:
    counts = verdict_counts(ws.db, run.id)
    if not counts:
        return [], {"verdicts": {}}
    words = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in sorted(counts.items()))
    return [f"verdicts: {words}"], {"verdicts": counts}


runs.register(runs.RunKind("verification", _execute, items="trajectories", report=_report,
                           uses_llm=lambda config: True))
