"""What the analysts must answer: bounded JSON schemas (strict structured output) as pydantic models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LESSONS = 5  # the schema's hard bound; a run may ask for fewer


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceOut(_Out):
    step: int = Field(ge=0, le=100000, description="the step number the quote comes from")
    quote: str = Field(min_length=1, max_length=200, description="verbatim text from that step")


class FailureLessonOut(_Out):
    kind: Literal["failure_cause", "failure_lesson"]
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(max_length=300)
    content: str = Field(min_length=1, max_length=800, description="imperative guidance")
    evidence: list[EvidenceOut] = Field(max_length=3)


class SuccessLessonOut(_Out):
    kind: Literal["success_lesson"]
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(max_length=300)
    content: str = Field(min_length=1, max_length=800, description="imperative guidance")
    evidence: list[EvidenceOut] = Field(max_length=3)


class ErrorAnalysis(_Out):
    causal_step: int = Field(ge=0, le=100000)
    failure_cause: str = Field(min_length=1, max_length=400)
    lessons: list[FailureLessonOut] = Field(max_length=MAX_LESSONS)


class SuccessAnalysis(_Out):
    solution_path: str = Field(min_length=1, max_length=800)
    lessons: list[SuccessLessonOut] = Field(max_length=MAX_LESSONS)
