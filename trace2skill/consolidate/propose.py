"""The patch proposer: one trajectory's approved lessons -> one patch of structured edits against the
frozen base skill (one LLM call per trajectory; the calls of a run go in parallel).

The lessons go into the prompt fenced as untrusted data (a model wrote them from untrusted runs),
as the analysts get trajectories. A ``failure_cause`` lesson is the diagnosis of one run, not
guidance: it is shown apart, without a number an edit could cite, so no edit rests on it alone.
"""

from __future__ import annotations

from trace2skill.consolidate.schemas import FULL, SKILL_CHARS, Budget, EditFields, ProposalOut
from trace2skill.consolidate.targets import targeted_schema
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Edit, Lesson, Patch, content_hash
from trace2skill.prompts import fenced, load_prompt
from trace2skill.redaction import redact
from trace2skill.skill.excerpt import NO_NEED, Need, skill_excerpt


def skill_context(files: dict[str, str], limit: int = SKILL_CHARS, need: Need = NO_NEED, *,
                  what: str = "This call") -> str:
    """The frozen skill as the prompt shows it: SKILL.md whole when it fits in `limit` characters,
    else its section index and the whole sections `need` picks (never a section cut in the middle;
    SkillTooLargeError when even those do not fit), and the other files' names."""
    text = files.get("SKILL.md", "")
    body = skill_excerpt(text, limit, need, what=what) if text else "(empty: a new skill is being written)"
    others = sorted(path for path in files if path != "SKILL.md")
    listing = ", ".join(others) or "(none)"
    return f'<file path="SKILL.md">\n{body}\n</file>\nOther files: {listing}'


def edit_from(fields: EditFields, edit_id: str, support: list[str], derived_from: list[str] | None = None) -> Edit:
    return Edit(id=edit_id, op=fields.op, file=fields.file.strip() or "SKILL.md",
                section=fields.section.strip() or None, anchor=fields.anchor or None, content=fields.content,
                rationale=fields.rationale, support=sorted(set(support)), derived_from=derived_from or [])


CONSOLIDATE_TAGS = ("lessons", "diagnoses", "edits", "rejected")  # no data may open or close one of them
DIAGNOSIS = "failure_cause"


def _lesson_block(label: str, lesson: Lesson) -> str:
    return f"{label} ({lesson.kind}) {lesson.title}\n{lesson.description}\n{lesson.content}".strip()


def lessons_prompt(lessons: list[Lesson]) -> tuple[str, str]:
    """(items, context) of the proposer's prompt: the guidance lessons numbered L1, L2, ... (the
    numbers edits cite) fenced as data, and the run's diagnoses (failure causes) fenced apart
    without a number, as context an edit cannot cite."""
    guidance = [lesson for lesson in lessons if lesson.kind != DIAGNOSIS]
    diagnoses = [lesson for lesson in lessons if lesson.kind == DIAGNOSIS]
    items = fenced("lessons", "\n\n".join(_lesson_block(f"L{n}", x) for n, x in enumerate(guidance, start=1)),
                   *CONSOLIDATE_TAGS)
    context = ""
    if diagnoses:
        body = "\n\n".join(_lesson_block(f"D{n}", x) for n, x in enumerate(diagnoses, start=1))
        context = ("\n# Diagnoses of the run (context only: never the source of an edit)\n"
                   f"{fenced('diagnoses', body, *CONSOLIDATE_TAGS)}\n")
    return items, context


def leaf_patch_id(run_id: str, trajectory_id: str) -> str:
    return content_hash([run_id, "leaf", trajectory_id])


def proposal_skill(skill_files: dict[str, str], lessons: list[Lesson], budget: Budget = FULL) -> str:
    """The skill as one trajectory's proposal prompt shows it: the sections its lessons' words pick."""
    need = Need(texts=tuple(_lesson_block("", x) for x in lessons if x.kind != DIAGNOSIS))
    return skill_context(skill_files, budget.skill_chars, need, what="A patch proposal")


def proposal_messages(lessons: list[Lesson], skill_files: dict[str, str],
                      budget: Budget = FULL) -> list[dict[str, str]]:
    """The proposer's prompt for one trajectory's lessons."""
    items, context = lessons_prompt(lessons)
    return [
        {"role": "system", "content": load_prompt("patch_proposer").render()},
        {"role": "user", "content": redact(load_prompt("consolidate_input").render(
            skill=proposal_skill(skill_files, lessons, budget), ledger="", what="Reviewed lessons from one agent run",
            items=items, context=context))},
    ]


def propose_patch(client: StructuredClient, run_id: str, trajectory_id: str, lessons: list[Lesson],
                  skill_files: dict[str, str], *, max_tokens: int | None = None, budget: Budget = FULL) -> Patch:
    """Turn one trajectory's lessons into a level-0 patch. Each edit's support is the guidance
    lessons it cites (all of them when it cites none that exist); failure causes are shown as
    diagnoses and support no edit, and a trajectory with only those gets an empty patch, unasked."""
    patch_id = leaf_patch_id(run_id, trajectory_id)
    guidance = [lesson for lesson in lessons if lesson.kind != DIAGNOSIS]
    if not guidance:  # diagnoses alone never become skill text: nothing to ask
        return Patch(id=patch_id, run_id=run_id, level=0, edits=[])
    messages = proposal_messages(lessons, skill_files, budget)
    result = client.structured(messages, ProposalOut, schema_name="patch_proposal", run_id=run_id,
                               max_tokens=max_tokens, schema=targeted_schema(ProposalOut, skill_files, budget))
    all_ids = [lesson.id for lesson in guidance]
    edits = []
    for k, proposed in enumerate(result.value.edits):
        cited = [all_ids[n - 1] for n in proposed.lessons if 1 <= n <= len(all_ids)]
        edits.append(edit_from(proposed, content_hash([patch_id, k]), cited or all_ids))
    return Patch(id=patch_id, run_id=run_id, level=0, edits=edits)
