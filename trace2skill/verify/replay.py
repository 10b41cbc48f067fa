"""Replaying a trajectory's task with candidate lessons.

The replay skill is the frozen starting skill (or an empty one, when the skill is new) with the
lessons under test added as a section of their own, so the model answering the task reads them
as part of the skill. The task is scored by the same evaluators held-out evaluation uses (the QA
evaluator against the gold answers, or the user's command); the QA evaluator sends the whole skill or
refuses (`SkillTooLargeError`), and each replay's evidence keeps the hash of the skill text it sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trace2skill.evaluate.evaluators import Evaluator, TaskResult
from trace2skill.models import EvalTask, Lesson
from trace2skill.skill.folder import SkillFolder
from trace2skill.verify.verdicts import Verdict, rate, verdict

SECTION = "Lessons under test"


def replay_skill(base: SkillFolder | None, lessons: list[Lesson]) -> SkillFolder:
    """`base` plus a section listing `lessons` (a new skill when there is no base)."""
    skill = base.copy() if base is not None else SkillFolder("replay", "Lessons under test.", body="")
    items = "\n".join(f"- {' '.join(lesson.content.split())}" for lesson in lessons)
    skill.body = f"{skill.body.rstrip()}\n\n## {SECTION}\n\n{items}\n"
    return skill


@dataclass
class Replays:
    """k replays of one task under one skill."""

    results: list[TaskResult] = field(default_factory=list)

    @property
    def passed(self) -> list[bool]:
        return [r.passed for r in self.results]

    @property
    def rate(self) -> float:
        return rate(self.passed)

    @property
    def tokens(self) -> tuple[int, int]:
        return (sum(r.prompt_tokens for r in self.results), sum(r.completion_tokens for r in self.results))

    def evidence(self) -> list[dict[str, Any]]:
        """What each replay answered and how it was scored, and the hash of the skill text its prompt
        carried (the whole text is in the call log, `call_id`), stored with the verdict."""
        return [{"repeat": k, "passed": r.passed, "answer": r.answer, "detail": r.detail, "call_id": r.call_id,
                 "skill_hash": r.skill_hash} for k, r in enumerate(self.results)]


def replay(evaluator: Evaluator, skill: SkillFolder | None, task: EvalTask, repeats: int,
           run_id: str | None) -> Replays:
    """Run `task` `repeats` times under `skill` (each repeat its own request, cached and resumable)."""
    out = Replays()
    for k in range(repeats):
        out.results.extend(evaluator.evaluate(skill, [task], repeat=k, run_id=run_id))
    return out


@dataclass
class Check:
    """The verdict on one lesson, with the replays behind it."""

    lesson_id: str
    verdict: Verdict
    with_lesson: Replays
    baseline: Replays
    round: int = 0

    def evidence(self) -> dict[str, Any]:
        return {"with_lesson": self.with_lesson.evidence(), "baseline": self.baseline.evidence(),
                "rate_with": self.with_lesson.rate, "rate_without": self.baseline.rate}


def check_lesson(evaluator: Evaluator, base: SkillFolder | None, task: EvalTask, lesson: Lesson, outcome: str,
                 baseline: Replays, repeats: int, run_id: str | None, round_no: int = 0) -> Check:
    with_lesson = replay(evaluator, replay_skill(base, [lesson]), task, repeats, run_id)
    return Check(lesson.id, verdict(outcome, with_lesson.passed, baseline.passed), with_lesson, baseline, round_no)
