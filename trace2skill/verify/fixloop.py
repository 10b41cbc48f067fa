"""The fix loop: when no lesson of a failed run fixes it on replay, the error analyst is shown what
the replays answered and how they scored, and revises its lessons (the paper's fix-and-re-evaluate
loop, with any evaluator). The conversation is the analyst's original prompt, its lessons as its
answer, and the replays; every round is an LLM call logged under the verification run."""

from __future__ import annotations

import json

from trace2skill.analysis.analysts import ANALYSTS, PromptBudget, build_messages, lessons_from
from trace2skill.analysis.schemas import ErrorAnalysis
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Lesson, StoredTrajectory
from trace2skill.prompts import load_prompt
from trace2skill.redaction import redact
from trace2skill.verify.replay import Check

PROMPT = "error_revision"
ANSWER_CHARS = 300


def _answer_json(lessons: list[Lesson]) -> str:
    return json.dumps({"lessons": [{"kind": lesson.kind, "title": lesson.title, "content": lesson.content}
                                   for lesson in lessons]}, ensure_ascii=False)


def _replays_text(lessons: list[Lesson], checks: list[Check]) -> str:
    by_id = {lesson.id: lesson for lesson in lessons}
    lines = []
    for check in checks:
        title = by_id[check.lesson_id].title if check.lesson_id in by_id else check.lesson_id
        lines.append(f"With the lesson {title!r}:")
        for r in check.with_lesson.results:
            verdict = "right" if r.passed else "wrong"
            lines.append(f"  - answered {r.answer[:ANSWER_CHARS]!r}: {verdict}")
    return "\n".join(lines)


def revision_messages(trajectory: StoredTrajectory, skill_text: str | None, lessons: list[Lesson],
                      checks: list[Check], *, max_lessons: int, repeats: int,
                      budget: PromptBudget) -> list[dict[str, str]]:
    messages = build_messages(ANALYSTS["error"], trajectory, skill_text, max_lessons, budget)
    note = load_prompt(PROMPT).render(repeats=repeats, replays=_replays_text(lessons, checks))
    return [*messages, {"role": "assistant", "content": _answer_json(lessons)},
            {"role": "user", "content": redact(note)}]


def revise(client: StructuredClient, trajectory: StoredTrajectory, skill_text: str | None, lessons: list[Lesson],
           checks: list[Check], *, round_no: int, max_lessons: int, repeats: int, budget: PromptBudget,
           max_tokens: int, run_id: str) -> list[Lesson]:
    """The analyst's revised lessons for round `round_no` (they record which lessons they revise)."""
    messages = revision_messages(trajectory, skill_text, lessons, checks, max_lessons=max_lessons,
                                 repeats=repeats, budget=budget)
    result = client.structured(messages, ErrorAnalysis, schema_name="error_revision", run_id=run_id,
                               max_tokens=max_tokens)
    revised = lessons_from(result.value, trajectory, ANALYSTS["error"], run_id, max_lessons)
    return [lesson.model_copy(update={"round": round_no, "revises": [x.id for x in lessons]}) for lesson in revised]
