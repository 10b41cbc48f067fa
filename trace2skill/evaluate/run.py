"""Evaluation runs: skill variants ("arms") on the same held-out tasks, k repeats each, as a run
with per-item state in the database, so it can be watched, cancelled and resumed like extraction.

Items: with the QA evaluator one per (arm, repeat, task) -- "A/0/<task id>"; with the command
evaluator one per (arm, repeat) -- "A/0" -- since the command scores all tasks at once. The run
engine writes an item's results and its "done" mark in one transaction. Every LLM call is logged
under the run id and cached (see `qa` for how repeats stay distinct requests).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from trace2skill import runs
from trace2skill.context_window import ANSWER_TOKENS, EVALUATION_SHARE
from trace2skill.errors import Trace2SkillError
from trace2skill.evaluate.command import CommandEvaluator, build_argv
from trace2skill.evaluate.evaluators import Evaluator, TaskResult
from trace2skill.evaluate.qa import (
    CONTEXT_CHARS,
    LOCAL_CONTEXT_CHARS,
    LOCAL_SKILL_CHARS,
    SKILL_CHARS,
    QAEvaluator,
    skill_prompt_text,
    text_hash,
)
from trace2skill.evaluate.qa import PROMPT as QA_PROMPT
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import EvalTask, Run
from trace2skill.prompts import load_prompt
from trace2skill.settings import skill_chars_setting
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import Workspace, write_transaction
from trace2skill.store import evaluation as eval_store
from trace2skill.store import runs as run_store
from trace2skill.store.skills import get_version, latest_version

NO_SKILL = "none"


@dataclass
class EvalConfig:
    evaluator: Literal["qa", "command"] = "qa"
    repeats: int = 1
    command: str | None = None  # the command evaluator's command line
    timeout_s: float = 600.0  # per command run
    tolerance: float = 0.0  # relative numeric tolerance of the QA scoring
    concurrency: int = 4
    max_tokens: int = ANSWER_TOKENS  # per QA answer, its reasoning included
    context_chars: int | None = None  # None: fit the endpoint (short for the embedded local model)
    skill_chars: int | None = None  # the whole skill must fit; None: the workspace's context_window, else a default
    base_url: str | None = None  # recorded for resume; None: the embedded local model
    model: str | None = None
    temperature: float | None = None
    task_set: str | None = None  # the evaluation set the tasks came from, when one

    def validate(self) -> None:
        if self.repeats < 1:
            raise Trace2SkillError("repeats must be at least 1")
        if self.evaluator not in ("qa", "command"):
            raise Trace2SkillError(f"unknown evaluator {self.evaluator!r} (qa or command)")
        if self.evaluator == "command":
            if not self.command:
                raise Trace2SkillError("the command evaluator needs a command (--command)")
            build_argv(self.command, {"skill": "", "tasks": "", "output": "", "repeat": "0"})

    def evaluator_for(self, client: StructuredClient | None) -> Evaluator:
        self.validate()
        if self.evaluator == "command":
            return CommandEvaluator(self.command or "", timeout_s=self.timeout_s)
        if client is None:
            raise Trace2SkillError("the QA evaluator needs an LLM client")
        local = self.base_url is None
        return QAEvaluator(client, tolerance=self.tolerance, max_tokens=self.max_tokens,
                           context_chars=self.context_chars or (LOCAL_CONTEXT_CHARS if local else CONTEXT_CHARS),
                           skill_chars=self.skill_limit())

    def skill_limit(self) -> int:
        """How many characters of skill a QA prompt holds (the whole skill must fit)."""
        return self.skill_chars or (LOCAL_SKILL_CHARS if self.base_url is None else SKILL_CHARS)


@dataclass
class Arm:
    """A skill variant to evaluate: `files` None means "no skill"."""

    arm: str
    role: Literal["candidate", "baseline", "ablation"]
    label: str
    version_id: str | None
    files: dict[str, str] | None
    detail: dict[str, Any] | None = None


def resolve_version(db: Any, ref: str) -> str:
    """A skill version id from a skill name (its latest version) or a version id (prefix)."""
    latest = latest_version(db, ref)
    return latest.id if latest else get_version(db, ref).id


def version_arm(db: Any, arm: str, role: Literal["candidate", "baseline"], version_id: str | None) -> Arm:
    if version_id is None:
        return Arm(arm, role, "no skill", None, None)
    version = get_version(db, version_id)
    return Arm(arm, role, f"{version.skill} {version.id[:8]}", version.id, version.files)


def _check_tasks(tasks: list[EvalTask], config: EvalConfig) -> None:
    if not tasks:
        raise Trace2SkillError("no evaluation tasks: load a task file or choose held-out trajectories")
    if config.evaluator == "qa":
        unanswered = [t for t in tasks if not t.answers]
        if unanswered:
            raise Trace2SkillError(
                f"{len(unanswered)} of {len(tasks)} tasks have no gold answer for the QA evaluator (first: "
                f"{unanswered[0].prompt[:60]!r}); use the command evaluator for tasks judged by actions")


def arm_skill_text(arm: Arm, config: EvalConfig) -> str | None:
    """The exact skill text an arm gives the model: for the QA evaluator the whole SKILL.md body as
    its prompts carry it (SkillTooLargeError when it does not fit: never a cut skill), for a command
    the SKILL.md it is handed; None for "no skill"."""
    if arm.files is None:
        return None
    if config.evaluator == "command":
        return arm.files.get("SKILL.md", "")
    return skill_prompt_text(SkillFolder.from_files(arm.files), config.skill_limit(), what=f"Evaluating {arm.label}")


def create_evaluation(ws: Workspace, arms: list[Arm], task_ids: list[str], config: EvalConfig,
                      purpose: str = "ab") -> str:
    """Create an evaluation run over `arms` x repeats x tasks; nothing is sent yet. Each arm's exact
    skill text is recorded; a skill too large for the model's prompts is refused here."""
    config.validate()
    if config.skill_chars is None:
        config.skill_chars = skill_chars_setting(ws.db, EVALUATION_SHARE)
    texts = {a.arm: arm_skill_text(a, config) for a in arms}
    task_ids = list(dict.fromkeys(task_ids))
    _check_tasks(eval_store.get_tasks(ws.db, task_ids), config)
    per_task = config.evaluator == "qa"
    items = [f"{a.arm}/{r}/{t}" if per_task else f"{a.arm}/{r}"
             for r in range(config.repeats) for a in arms for t in (task_ids if per_task else [""])]
    data = asdict(config) | {"task_ids": task_ids, "purpose": purpose}
    if config.evaluator == "qa":
        data["prompt"] = load_prompt(QA_PROMPT).ref
    with write_transaction(ws.db):
        run_id = runs.create(ws, "evaluation", data, items)
        for a in arms:
            eval_store.save_arm(ws.db, run_id, a.arm, a.role, label=a.label, version_id=a.version_id, files=a.files,
                                detail=a.detail, skill_text=texts[a.arm], skill_hash=text_hash(texts[a.arm]))
    return run_id


def start_ab_run(ws: Workspace, candidate: str | None, baseline: str | None, task_ids: list[str],
                 config: EvalConfig | None = None) -> str:
    """An A/B run: skill version `candidate` (arm "A") against `baseline` (arm "B"); either may be
    None for "no skill", not both. Returns the run id; run it with the run engine (`runs.execute`
    or `runs.start_background`)."""
    if candidate is None and baseline is None:
        raise Trace2SkillError("an A/B run needs at least one skill version (the other may be 'no skill')")
    if candidate is not None and candidate == baseline:
        raise Trace2SkillError("the two sides of an A/B run are the same skill version")
    arms = [version_arm(ws.db, "A", "candidate", candidate), version_arm(ws.db, "B", "baseline", baseline)]
    return create_evaluation(ws, arms, task_ids, config or EvalConfig())


def config_of(data: dict[str, Any]) -> tuple[EvalConfig, list[str]]:
    known = {k: v for k, v in data.items() if k in EvalConfig.__dataclass_fields__}
    return EvalConfig(**known), list(data.get("task_ids") or [])


def _execute(ctx: runs.RunContext) -> None:
    config, task_ids = config_of(ctx.config)
    ws, run_id = ctx.ws, ctx.run.id
    tasks = {t.id: t for t in eval_store.get_tasks(ws.db, task_ids)}
    evaluator = config.evaluator_for(ctx.optional_client)
    arms = eval_store.get_arms(ws.db, run_id)
    folders = {a: SkillFolder.from_files(row["files"]) if row["files"] is not None else None for a, row in arms.items()}

    def work(item_id: str) -> runs.ItemResult:
        arm, repeat, task_id = (item_id.split("/", 2) + [""])[:3]
        chosen = [tasks[task_id]] if task_id else [tasks[t] for t in task_ids]
        results = evaluator.evaluate(folders[arm], chosen, repeat=int(repeat), run_id=run_id)
        check_sent(arms[arm], results, strict=config.evaluator == "qa")
        return runs.ItemResult(save=lambda db: eval_store.save_results(db, run_id, arm, int(repeat), results),
                               prompt_tokens=sum(r.prompt_tokens for r in results),
                               completion_tokens=sum(r.completion_tokens for r in results))

    try:
        ctx.process_items(work, concurrency=ctx.workers(config.concurrency))
    finally:
        _store_summary(ws, run_id)


def check_sent(arm: dict[str, Any], results: list[TaskResult], *, strict: bool) -> None:
    """Refuse to score results whose prompts carried another skill text than the one recorded for
    the arm (`strict`: the evaluator reports what it sent; runs from before the texts were recorded
    have none to compare)."""
    recorded = arm.get("skill_hash")
    for r in results:
        if strict and recorded is not None and r.skill_hash != recorded:
            raise Trace2SkillError(f"arm {arm['arm']} ({arm['label']}): the skill text sent for task {r.task_id[:12]} "
                                   "is not the skill text recorded for this run, so it is not scored")


def _store_summary(ws: Workspace, run_id: str) -> None:
    from trace2skill.evaluate.report import arm_scores

    summary = {a: {"label": s.label, "mean": s.mean, "std": s.std} for a, s in arm_scores(ws.db, run_id).items()}
    run_store.set_counters(ws.db, run_id, {"scores": summary})


def _report(ws: Workspace, run: Run) -> tuple[list[str], dict[str, Any]]:
    from trace2skill.evaluate.ablation import ablation_report
    from trace2skill.evaluate.report import ab_result, result_lines

    result = ab_result(ws.db, run.id)
    ablation = ablation_report(ws.db, run.id) if run.config.get("purpose") == "ablation" else None
    data = {"result": result.as_dict(), **({"ablation": ablation} if ablation else {})}
    return result_lines(result, ablation), data


runs.register(runs.RunKind("evaluation", _execute, items="evaluation tasks",
                           uses_llm=lambda config: config.get("evaluator", "qa") == "qa", report=_report))
