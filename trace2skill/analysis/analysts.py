"""The two analysts: an error analyst for failed runs, a success analyst for successful ones.

Each sees the same frozen starting skill, the run's deterministic signals, its ground truth when
the data has it (with the rule never to copy it) and the compacted run fenced as untrusted data.
One LLM call per trajectory with a strict JSON schema; the answer becomes lessons whose evidence
is checked against the trajectory.

The prompt is ordered for endpoints with prefix caching: the system prompt and then the skill are
the same, byte for byte, in every analyst call of a run (a skill too large for the prompt is shown
as the same section index and sections for every trajectory, not picked by each task's words), and
the parts of one trajectory come after them, so the endpoint computes and bills the shared start
once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from trace2skill.analysis.grounding import ground
from trace2skill.analysis.render import head_tail, render_trajectory
from trace2skill.analysis.schemas import ErrorAnalysis, SuccessAnalysis
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Evidence, Lesson, StoredSignal, StoredTrajectory, content_hash
from trace2skill.prompts import fence, load_prompt
from trace2skill.redaction import redact
from trace2skill.skill.excerpt import NO_NEED, context_excerpt

AnalystName = Literal["error", "success"]
SIGNAL_LINES = 20
PROMPT_CHARS = 24000  # ≈ 6k tokens: the whole user message for an analyst
LOCAL_PROMPT_CHARS = 4000  # the embedded toy model reads ~100 tokens/s on 2 cores: keep it short


@dataclass(frozen=True)
class PromptBudget:
    """How a prompt's characters are shared between its parts."""

    total: int = PROMPT_CHARS

    @property
    def trajectory(self) -> int:
        return int(self.total * 0.6)

    @property
    def skill(self) -> int:
        return int(self.total * 0.25)

    @property
    def truth(self) -> int:
        return int(self.total * 0.08)

    @property
    def task(self) -> int:
        return min(3000, int(self.total * 0.1))


@dataclass(frozen=True)
class Analyst:
    name: AnalystName
    prompt_name: str
    output: type[BaseModel]

    @property
    def prompt_ref(self) -> str:
        return load_prompt(self.prompt_name).ref


ANALYSTS: dict[AnalystName, Analyst] = {
    "error": Analyst("error", "error_analyst", ErrorAnalysis),
    "success": Analyst("success", "success_analyst", SuccessAnalysis),
}


def analyst_for(outcome: str) -> Analyst | None:
    return {"failure": ANALYSTS["error"], "success": ANALYSTS["success"]}.get(outcome)


def _fence(text: str) -> str:
    """Trajectory text may not close our fence early."""
    return fence(text, "trajectory")


def _signals_text(signals: list[StoredSignal]) -> str:
    if not signals:
        return "(none found)"
    lines = [f"- {s.kind} at step {s.step_idx}: {s.detail}" for s in signals[:SIGNAL_LINES]]
    if len(signals) > SIGNAL_LINES:
        lines.append(f"- … and {len(signals) - SIGNAL_LINES} more")
    return "\n".join(lines)


def shared_skill(skill_text: str | None, budget: PromptBudget = PromptBudget()) -> str:
    """The skill as every analyst prompt of a run shows it: whole when it fits the budget, else its
    section index and the sections that fit in document order; the same for every trajectory, so it
    is part of the prompt's cacheable start."""
    if not skill_text:
        return "(no skill yet: a new one will be written)"
    return context_excerpt(skill_text, budget.skill, NO_NEED)


def build_messages(analyst: Analyst, trajectory: StoredTrajectory, skill_text: str | None,
                   max_lessons: int, budget: PromptBudget = PromptBudget()) -> list[dict[str, str]]:
    rendered = render_trajectory(trajectory.steps, budget=budget.trajectory)
    truth = trajectory.ground_truth
    outcome = trajectory.outcome + (f" (reward {trajectory.reward})" if trajectory.reward is not None else "")
    if trajectory.outcome_detail:
        outcome += f"; {trajectory.outcome_detail}"
    user = load_prompt("analyst_input").render(
        task=_fence(head_tail(trajectory.task or "(no task text)", budget.task)),
        outcome=outcome,
        skill=shared_skill(skill_text, budget),
        signals=_fence(_signals_text(trajectory.signals)),
        ground_truth=_fence(head_tail(json.dumps(truth, ensure_ascii=False), budget.truth)) if truth else "(none)",
        trajectory=_fence(rendered.text),
    )
    system = load_prompt(analyst.prompt_name).render(max_lessons=max_lessons)
    return [{"role": "system", "content": redact(system)}, {"role": "user", "content": redact(user)}]


def lessons_from(analysis: ErrorAnalysis | SuccessAnalysis, trajectory: StoredTrajectory, analyst: Analyst,
                 run_id: str | None, max_lessons: int) -> list[Lesson]:
    lessons: list[Lesson] = []
    for out in analysis.lessons[:max_lessons]:
        evidence = ground([Evidence(step_idx=e.step, quote=e.quote) for e in out.evidence], trajectory.steps)
        lesson = Lesson(
            run_id=run_id,
            trajectory_id=trajectory.id,
            kind=out.kind,
            title=out.title.strip(),
            description=out.description.strip(),
            content=out.content.strip(),
            evidence=evidence,
            grounded=any(e.grounded for e in evidence),
        )
        lesson.id = content_hash([trajectory.id, analyst.prompt_ref, lesson.kind, lesson.title, lesson.content])
        lessons.append(lesson)
    return lessons


@dataclass
class AnalysisResult:
    lessons: list[Lesson]
    prompt_tokens: int
    completion_tokens: int
    cached: bool


def analyse(client: StructuredClient, analyst: Analyst, trajectory: StoredTrajectory, *, skill_text: str | None,
            max_lessons: int, run_id: str | None = None, max_tokens: int | None = None,
            budget: PromptBudget = PromptBudget()) -> AnalysisResult:
    """One analyst over one stored trajectory (as returned by `get_trajectory`)."""
    messages = build_messages(analyst, trajectory, skill_text, max_lessons, budget)
    result = client.structured(messages, analyst.output, schema_name=f"{analyst.name}_analysis",
                               run_id=run_id, max_tokens=max_tokens)
    usage = result.usage or {}
    return AnalysisResult(
        lessons=lessons_from(result.value, trajectory, analyst, run_id, max_lessons),
        prompt_tokens=0 if result.cached else int(usage.get("prompt_tokens") or 0),
        completion_tokens=0 if result.cached else int(usage.get("completion_tokens") or 0),
        cached=bool(result.cached),
    )
