"""Bounded output schemas for the patch proposer and the merge operator, and the budgets that
bound prompts and answers per kind of endpoint."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.context_window import CONSOLIDATION_SHARE, LOCAL_CONTEXT_TOKENS, skill_chars

OpName = Literal["insert_after", "insert_before", "append_to_section", "replace_in_section", "add_section",
                 "delete_section", "create_file", "delete_file"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EditFields(_Out):
    op: OpName
    file: str = Field(min_length=1, max_length=200, description="SKILL.md or references/<name>.md")
    section: str = Field(max_length=200, description="target section heading, or empty")
    anchor: str = Field(max_length=300, description="exact existing text to insert near or replace, or empty")
    content: str = Field(max_length=1500)
    rationale: str = Field(max_length=300)


class ProposedEdit(EditFields):
    lessons: list[int] = Field(max_length=10, description="numbers of the lessons this edit carries")


class ProposalOut(_Out):
    edits: list[ProposedEdit] = Field(max_length=4)


class MergedEdit(EditFields):
    derived_from: list[str] = Field(min_length=1, max_length=40, description="ids of the input edits it merges")


class DroppedOut(_Out):
    edit: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=1, max_length=200)


class MergeOut(_Out):
    edits: list[MergedEdit] = Field(max_length=40)
    dropped: list[DroppedOut] = Field(max_length=80)
    conflicts: list[str] = Field(max_length=20)
    rationale: str = Field(max_length=600)


SKILL_CHARS = 8000
# The embedded model's window holds this much skill beside the lessons and the answer; a larger skill
# is shown as its section index and the sections a call needs (skill/excerpt.py), never cut.
LOCAL_SKILL_CHARS = skill_chars(LOCAL_CONTEXT_TOKENS, CONSOLIDATION_SHARE)


@dataclass(frozen=True)
class Budget:
    """How much of the skill (and of the ledger of rejected lessons) the prompts show (a skill over
    `skill_chars` is shown as its section index and whole sections: see skill/excerpt.py), and how long
    an edit's content may be and how many edits one proposal may have (bounds the schema enforces
    on a constrained decoder)."""

    skill_chars: int = SKILL_CHARS
    content_chars: int = 1500
    proposal_edits: int = 4
    rejected_lessons: int = 20  # how many lessons of the rejected ledger the merge prompt shows...
    rejected_chars: int = 3000  # ...in at most this many characters

    def with_skill_chars(self, chars: int | None) -> Budget:
        return replace(self, skill_chars=chars) if chars else self


FULL = Budget()
# The embedded toy model rambles until its token limit: short contents, two edits, a short skill.
LOCAL = Budget(skill_chars=LOCAL_SKILL_CHARS, content_chars=400, proposal_edits=2, rejected_lessons=5,
               rejected_chars=600)
