"""The generic importer: any JSON/JSONL records, with a user-supplied field mapping.

The mapping names, by dotted path ("result.is_correct", "turns.0.text"), where each record keeps
its task, its steps (a list) or a plain transcript (a string), its outcome or reward, its ground
truth, and so on. Example (JSON or YAML file)::

    {"task": "question", "transcript": "6b_finetuning.solution",
     "outcome": "6b_finetuning.is_correct", "ground_truth": "ground_truth"}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.ingest.base import Format, Shape, get_path, parse_arguments, require, text_of
from trace2skill.ingest.openai_chat import _is_message, last_text, looks_like_error, messages_to_steps
from trace2skill.ingest.outcomes import label_of, outcome_from_reward, reward_of
from trace2skill.models import Outcome, Step, Task, ToolCall, ToolResult, Trajectory
from trace2skill.textcut import cut_words

_MISSING = object()


class StepFields(BaseModel):
    """Where each step object keeps its parts (paths relative to the step)."""

    model_config = ConfigDict(extra="forbid")
    role: str | None = "role"
    text: str = "text"
    reasoning: str | None = None
    tool: str | None = None
    arguments: str | None = None
    observation: str | None = None
    is_error: str | None = None


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: str
    task_id: str | None = None
    steps: str | None = None
    transcript: str | None = None
    step_fields: StepFields = StepFields()
    outcome: str | None = None
    success_values: list[Any] | None = None
    failure_values: list[Any] | None = None
    reward: str | None = None
    reward_threshold: float = 1.0
    ground_truth: str | None = None
    final_output: str | None = None
    model: str | None = None
    metadata: list[str] = []

    @model_validator(mode="after")
    def _steps_or_transcript(self) -> FieldMapping:
        if not self.steps and not self.transcript:
            raise ValueError("name either 'steps' (a list field) or 'transcript' (a text field)")
        return self

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> FieldMapping:
        if isinstance(source, dict):
            data: Any = source
        else:
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8")
                data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                raise MappingError(f"cannot read mapping file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise MappingError("a mapping must be an object of field names to dotted paths")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in exc.errors())
            raise MappingError(f"invalid field mapping: {problems}") from None


class GenericFormat(Format):
    name = "generic"
    unit = "record"

    def __init__(self, mapping: FieldMapping):
        self.mapping = mapping

    def sniff(self, sample: Any, shape: Shape) -> bool:
        return isinstance(sample, dict) and get_path(sample, self.mapping.task, _MISSING) is not _MISSING

    def _get(self, record: dict[str, Any], path: str | None, what: str, required: bool = False) -> Any:
        if not path:
            return None
        value = get_path(record, path, _MISSING)
        if value is _MISSING:
            require(not required, f"field {path!r} ({what}) not found")
            return None
        return value

    def _outcome(self, record: dict[str, Any]) -> Outcome:
        m = self.mapping
        reward = reward_of(self._get(record, m.reward, "reward"))
        raw = self._get(record, m.outcome, "outcome")
        if raw is not None:
            if m.success_values is not None and raw in m.success_values:
                return Outcome(label="success", reward=reward, detail=f"{m.outcome}: {raw}")
            if m.failure_values is not None and raw in m.failure_values:
                return Outcome(label="failure", reward=reward, detail=f"{m.outcome}: {raw}")
            label = label_of(raw)
            if label is not None:
                return Outcome(label=label, reward=reward, detail=cut_words(f"{m.outcome}: {raw}", 200, where=None))
        return outcome_from_reward(reward, m.reward_threshold)

    def _steps(self, record: dict[str, Any]) -> list[Step]:
        m = self.mapping
        if m.steps:
            items = self._get(record, m.steps, "steps", required=True)
            require(isinstance(items, list), f"field {m.steps!r} (steps) should be a list, got {type(items).__name__}")
            if items and _is_message(items[0]):
                return messages_to_steps(items, m.steps)
            return [self._step(item, i) for i, item in enumerate(items)]
        text = self._get(record, m.transcript, "transcript", required=True)
        return [Step(index=0, role="assistant", text=text_of(text), raw_ref=m.transcript)]

    def _step(self, item: Any, index: int) -> Step:
        f = self.mapping.step_fields
        where = f"{self.mapping.steps}[{index}]"
        if not isinstance(item, dict):
            return Step(index=index, role="assistant", text=text_of(item), raw_ref=where)
        role = get_path(item, f.role) if f.role else None
        calls = []
        tool = get_path(item, f.tool) if f.tool else None
        if isinstance(tool, str) and tool:
            arguments = get_path(item, f.arguments) if f.arguments else None
            calls = [ToolCall(name=tool, arguments=parse_arguments(arguments))]
        results = []
        observation = get_path(item, f.observation) if f.observation else None
        if observation is not None:
            content = text_of(observation)
            flagged = get_path(item, f.is_error) if f.is_error else None
            is_error = bool(flagged) if flagged is not None else looks_like_error(content)
            results = [ToolResult(content=content, is_error=is_error)]
        return Step(
            index=index,
            role=role if role in ("system", "user", "assistant", "tool", "environment") else "assistant",
            text=text_of(get_path(item, f.text)),
            reasoning=text_of(get_path(item, f.reasoning)) if f.reasoning else "",
            tool_calls=calls,
            tool_results=results,
            raw_ref=where,
        )

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        if not isinstance(record, dict):
            raise TrajectoryFormatError(f"record should be an object, got {type(record).__name__}")
        m = self.mapping
        prompt = text_of(self._get(record, m.task, "task", required=True))
        steps = self._steps(record)
        truth = self._get(record, m.ground_truth, "ground_truth")
        final = self._get(record, m.final_output, "final_output")
        metadata = {path: get_path(record, path) for path in m.metadata if get_path(record, path) is not None}
        task_id = self._get(record, m.task_id, "task_id")
        model = self._get(record, m.model, "model")
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(id=None if task_id is None else str(task_id), prompt=prompt),
                outcome=self._outcome(record),
                steps=steps,
                model=None if model is None else str(model),
                final_output=text_of(final) if final is not None else last_text(steps, "assistant"),
                ground_truth=truth if isinstance(truth, dict) or truth is None else {"answer": truth},
                metadata=metadata,
            )
        ]
