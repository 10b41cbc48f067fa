"""Bounded output schemas for the patch proposer and the merge operator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
