"""Collecting trajectories: run the built-in question-answering agent over tasks with gold answers
(e.g. the bundled WikiTableQuestions sample) and keep each attempt as a trajectory — the question
and its data, the agent's answer, success or failure against the gold answer — so lessons can be
extracted from the failures and verified by replaying the same tasks.

A run of kind "collection" (one item per task, the tasks kept in the run's config): each attempt
is one QA call, logged and cached like any other; the trajectory is stored with the item. The
task's data (a table) stays in the trajectory's metadata (`task_context`) so a replay gives the
agent the same data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from trace2skill import runs
from trace2skill.analysis.render import head_tail
from trace2skill.context_window import ANSWER_TOKENS
from trace2skill.errors import Trace2SkillError
from trace2skill.evaluate.evaluators import TaskResult
from trace2skill.evaluate.qa import LOCAL_CONTEXT_CHARS, LOCAL_SKILL_CHARS, SKILL_CHARS, QAEvaluator
from trace2skill.models import EvalTask, Outcome, Run, Step, Task, Trajectory
from trace2skill.signals import compute_signals
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import Workspace
from trace2skill.store.skills import get_version
from trace2skill.store.trajectories import insert_trajectories

SOURCE = "qa_run"
STEP_DATA_CHARS = 2000


@dataclass
class CollectConfig:
    tasks: list[dict[str, Any]] = field(default_factory=list)  # kept with the run, not as evaluation tasks
    skill_version: str | None = None  # the skill the agent follows (None: no skill)
    answer_tokens: int = ANSWER_TOKENS  # its reasoning included
    concurrency: int = 4
    base_url: str | None = None
    model: str | None = None
    source_name: str = ""  # where the tasks came from (a file name)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def create_collection_run(ws: Workspace, tasks: list[EvalTask], config: CollectConfig) -> str:
    """A queued collection run over `tasks` (stored as evaluation tasks, one item each)."""
    if not tasks:
        raise Trace2SkillError("no tasks to run: give a task file with gold answers")
    unanswered = [t for t in tasks if not t.answers]
    if unanswered:
        raise Trace2SkillError(f"{len(unanswered)} of {len(tasks)} tasks have no gold answer (first: "
                               f"{unanswered[0].prompt[:60]!r}): collected runs need one to be scored")
    # The tasks stay in the run's config: stored as evaluation tasks they would count as held out, and
    # the trajectories collected from them could not feed extraction.
    unique = {t.id or t.with_id().id: t for t in tasks}
    config.tasks = [t.model_dump() for t in unique.values()]
    return runs.create(ws, "collection", asdict(config), list(unique))


def trajectory_of(task: EvalTask, result: TaskResult, model: str | None, source_name: str) -> Trajectory:
    """One attempt as a trajectory: the question with its data, the answer, its score."""
    asked = task.prompt if not task.context else f"{task.prompt}\n\nData:\n{head_tail(task.context, STEP_DATA_CHARS)}"
    steps = [Step(index=0, role="user", text=asked),
             Step(index=1, role="assistant", text=result.answer or "", reasoning=result.reasoning)]
    outcome = Outcome(label="success" if result.passed else "failure", reward=1.0 if result.passed else 0.0,
                      detail=f"scored {result.detail or 'no answer'} against the gold answer")
    return Trajectory(source_format=SOURCE, source_name=source_name, task=Task(id=task.source_id, prompt=task.prompt),
                      outcome=outcome, steps=steps, model=model, final_output=result.answer,
                      ground_truth={"answer": task.answers}, metadata={"task_context": task.context}).with_id()


def _execute(ctx: runs.RunContext) -> None:
    config = CollectConfig.from_dict(ctx.config)
    tasks = {t.id: t for t in (EvalTask(**data) for data in config.tasks)}
    skill = SkillFolder.from_files(get_version(ctx.ws.db, config.skill_version).files) if config.skill_version \
        else None
    context_chars = LOCAL_CONTEXT_CHARS if config.base_url is None else 12000
    agent = QAEvaluator(ctx.client, max_tokens=config.answer_tokens, context_chars=context_chars,
                        skill_chars=LOCAL_SKILL_CHARS if config.base_url is None else SKILL_CHARS)

    def work(task_id: str) -> runs.ItemResult:
        task = tasks[task_id]
        [result] = agent.evaluate(skill, [task], run_id=ctx.run.id)
        t = trajectory_of(task, result, config.model, config.source_name)
        return runs.ItemResult(save=lambda db: insert_trajectories(db, [(t, compute_signals(t))]),
                               prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)

    ctx.process_items(work, concurrency=ctx.workers(config.concurrency))


def _report(ws: Workspace, run: Run) -> tuple[list[str], dict[str, Any]]:
    done = run.progress.done
    return ([f"{done} attempts kept as trajectories (source {SOURCE})"] if done else []), {"trajectories": done}


runs.register(runs.RunKind("collection", _execute, items="tasks", report=_report))
