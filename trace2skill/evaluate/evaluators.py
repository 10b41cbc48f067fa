"""The evaluator interface: given a skill (or none) and tasks, say which tasks pass.

Two kinds: the built-in question-answering evaluator (`qa.QAEvaluator`: the model answers each task
with the skill in its system prompt; one run item per task) and the command evaluator
(`command.CommandEvaluator`: a user command runs a real agent harness over all tasks at once; one
run item per arm and repeat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trace2skill.models import EvalTask
from trace2skill.skill.folder import SkillFolder


@dataclass
class TaskResult:
    task_id: str
    passed: bool
    answer: str = ""
    detail: str = ""  # how it was scored ("exact", "numeric", ...) or why it failed
    call_id: str | None = None  # the llm_calls row behind the answer (QA evaluator)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    skill_hash: str | None = None  # sha256 of the skill text the prompt carried (QA evaluator); None: no skill
    reasoning: str = ""  # the model's working before its answer (QA evaluator)


class Evaluator(Protocol):
    per_task: bool  # True: tasks are evaluated one at a time (one run item each)

    def evaluate(self, skill: SkillFolder | None, tasks: list[EvalTask], *, repeat: int = 0,
                 run_id: str | None = None) -> list[TaskResult]:
        """One result per task, in order. `skill` None: evaluate without a skill. `repeat` (0-based)
        tells repeats apart. Raise on failures that say nothing about the skill (endpoint down,
        command crashed): the item fails and can be resumed."""
        ...
