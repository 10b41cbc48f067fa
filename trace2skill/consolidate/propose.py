"""The patch proposer: one trajectory's approved lessons -> one patch of structured edits against the
frozen base skill (one LLM call per trajectory; the calls of a run go in parallel)."""

from __future__ import annotations

from trace2skill.analysis.render import head_tail
from trace2skill.consolidate.schemas import FULL, SKILL_CHARS, Budget, EditFields, ProposalOut
from trace2skill.consolidate.targets import targeted_schema
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Edit, Lesson, Patch, content_hash
from trace2skill.prompts import load_prompt
from trace2skill.redaction import redact


def skill_context(files: dict[str, str], limit: int = SKILL_CHARS) -> str:
    """The frozen skill as the prompt shows it: SKILL.md (bounded) and the other files' names."""
    body = head_tail(files.get("SKILL.md", ""), limit) or "(empty: a new skill is being written)"
    others = sorted(path for path in files if path != "SKILL.md")
    listing = ", ".join(others) or "(none)"
    return f'<file path="SKILL.md">\n{body}\n</file>\nOther files: {listing}'


def edit_from(fields: EditFields, edit_id: str, support: list[str], derived_from: list[str] | None = None) -> Edit:
    return Edit(id=edit_id, op=fields.op, file=fields.file.strip() or "SKILL.md",
                section=fields.section.strip() or None, anchor=fields.anchor or None, content=fields.content,
                rationale=fields.rationale, support=sorted(set(support)), derived_from=derived_from or [])


def _lessons_text(lessons: list[Lesson]) -> str:
    blocks = []
    for n, lesson in enumerate(lessons, start=1):
        blocks.append(f"L{n} ({lesson.kind}) {lesson.title}\n{lesson.description}\n{lesson.content}".strip())
    return "\n\n".join(blocks)


def leaf_patch_id(run_id: str, trajectory_id: str) -> str:
    return content_hash([run_id, "leaf", trajectory_id])


def propose_patch(client: StructuredClient, run_id: str, trajectory_id: str, lessons: list[Lesson],
                  skill_files: dict[str, str], *, max_tokens: int | None = None, budget: Budget = FULL) -> Patch:
    """Turn one trajectory's lessons into a level-0 patch. Each edit's support is the lessons it
    cites (all of the trajectory's lessons when it cites none that exist)."""
    messages = [
        {"role": "system", "content": load_prompt("patch_proposer").render()},
        {"role": "user", "content": redact(load_prompt("consolidate_input").render(
            skill=skill_context(skill_files, budget.skill_chars), what="Reviewed lessons from one agent run",
            items=_lessons_text(lessons)))},
    ]
    result = client.structured(messages, ProposalOut, schema_name="patch_proposal", run_id=run_id,
                               max_tokens=max_tokens, schema=targeted_schema(ProposalOut, skill_files, budget))
    patch_id = leaf_patch_id(run_id, trajectory_id)
    all_ids = [lesson.id for lesson in lessons]
    edits = []
    for k, proposed in enumerate(result.value.edits):
        cited = [all_ids[n - 1] for n in proposed.lessons if 1 <= n <= len(all_ids)]
        edits.append(edit_from(proposed, content_hash([patch_id, k]), cited or all_ids))
    return Patch(id=patch_id, run_id=run_id, level=0, edits=edits)
