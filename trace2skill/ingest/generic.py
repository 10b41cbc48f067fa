"""The generic importer: any JSON/JSONL records, with a user-supplied field mapping.

The mapping names, by dotted path ("result.is_correct", "turns.0.text"), where each record keeps
its task, its steps (a list) or a plain transcript (a string), its outcome or reward, its ground
truth, and so on. Example (JSON or YAML file)::

    {"task": "question", "transcript": "6b_finetuning.solution",
     "outcome": "6b_finetuning.is_correct", "ground_truth": "ground_truth",
     "model": {"value": "gpt-4o-2024-08-06"}}

Constants: every single-value field — task, task_id, outcome, reward, ground_truth, final_output,
model, and each of step_fields — may be given as ``{value: ...}`` instead of a path; every record
then gets that value (e.g. the model that produced the whole file). steps, transcript and metadata
are always paths.

Fields that hold text (model, task_id, final_output) and the outcome must not resolve to an object
or a list: such a record is an error naming the path and the type found, never a stored
``{'name': ...}``. Before anything is written, `trace2skill.ingest.mapping_check` tries the mapping
on the file's first records and refuses paths that are found in none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.ingest.base import Format, Shape, get_path, parse_arguments, require, text_of
from trace2skill.ingest.openai_chat import _is_message, last_text, looks_like_error, messages_to_steps
from trace2skill.ingest.outcomes import label_of, outcome_from_reward, reward_of
from trace2skill.models import Outcome, OutcomeLabel, Step, Task, ToolCall, ToolResult, Trajectory
from trace2skill.textcut import cut_words

_MISSING = object()
TEXT_FIELDS = ("task_id", "model", "final_output")  # must not be an object or a list


class Constant(BaseModel):
    """A fixed value for every record, written ``{value: ...}`` where a path would go."""

    model_config = ConfigDict(extra="forbid")
    value: Any


Spec = str | Constant  # a dotted path, or a constant


def _path_or_constant(value: Any) -> Any:
    if isinstance(value, dict) and set(value) != {"value"}:
        raise ValueError("give a dotted path, or a constant written {value: ...}")
    return value


def resolve(data: Any, spec: Spec | None, default: Any = None) -> Any:
    """The value a path (or constant) gives for one record or step."""
    if spec is None:
        return default
    if isinstance(spec, Constant):
        return spec.value
    return get_path(data, spec, default)


def kind_of(value: Any) -> str:
    """'an object', 'a list', 'text', ... for messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, (int, float)) else "null"


class StepFields(BaseModel):
    """Where each step object keeps its parts (paths relative to the step, or constants)."""

    model_config = ConfigDict(extra="forbid")
    role: Spec | None = "role"
    text: Spec = "text"
    reasoning: Spec | None = None
    tool: Spec | None = None
    arguments: Spec | None = None
    observation: Spec | None = None
    is_error: Spec | None = None

    _check = field_validator("*", mode="before")(_path_or_constant)


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: Spec
    task_id: Spec | None = None
    steps: str | None = None
    transcript: str | None = None
    step_fields: StepFields = StepFields()
    outcome: Spec | None = None
    success_values: list[Any] | None = None
    failure_values: list[Any] | None = None
    reward: Spec | None = None
    reward_threshold: float = 1.0
    ground_truth: Spec | None = None
    final_output: Spec | None = None
    model: Spec | None = None
    metadata: list[str] = []

    _check = field_validator("task", "task_id", "outcome", "reward", "ground_truth", "final_output", "model",
                             mode="before")(_path_or_constant)

    @model_validator(mode="after")
    def _steps_or_transcript(self) -> FieldMapping:
        if not self.steps and not self.transcript:
            raise ValueError("name either 'steps' (a list field) or 'transcript' (a text field)")
        for name in ("task", *TEXT_FIELDS):
            spec = getattr(self, name)
            if isinstance(spec, Constant) and (spec.value is None or isinstance(spec.value, (dict, list))):
                raise ValueError(f"the constant for {name} should be text, not {kind_of(spec.value)}")
        if isinstance(self.reward, Constant) and reward_of(self.reward.value) is None:
            raise ValueError("the constant for reward should be a number")
        if isinstance(self.outcome, Constant) and self.label_for(self.outcome.value) is None:
            raise ValueError(f"the constant for outcome ({self.outcome.value!r}) is not success, failure or unknown")
        return self

    def label_for(self, raw: Any) -> OutcomeLabel | None:
        """The label a raw outcome value reads as, with the mapping's own success/failure values."""
        if self.success_values is not None and raw in self.success_values:
            return "success"
        if self.failure_values is not None and raw in self.failure_values:
            return "failure"
        return label_of(raw)

    def where(self, name: str) -> str:
        """How a field is given, for messages: its path, or 'a constant'."""
        spec = getattr(self, name)
        return "a constant" if isinstance(spec, Constant) else str(spec)

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
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: "
                                 f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
            raise MappingError(f"invalid field mapping: {problems}") from None

class GenericFormat(Format):
    name = "generic"
    unit = "record"

    def __init__(self, mapping: FieldMapping):
        self.mapping = mapping

    def sniff(self, sample: Any, shape: Shape) -> bool:
        return isinstance(sample, dict) and resolve(sample, self.mapping.task, _MISSING) is not _MISSING

    def _get(self, record: dict[str, Any], name: str, required: bool = False) -> Any:
        """The value the mapping's field `name` gives for this record; None when it is absent."""
        spec = getattr(self.mapping, name)
        value = resolve(record, spec, _MISSING)
        if value is _MISSING:
            require(not required, f"field {spec!r} ({name}) not found")
            return None
        return value

    def _text(self, record: dict[str, Any], name: str) -> str | None:
        """A field that holds text: an object or a list there is an error, never a stored repr."""
        value = self._get(record, name)
        if isinstance(value, (dict, list)):
            raise TrajectoryFormatError(f"field {self.mapping.where(name)!r} ({name}) holds {kind_of(value)}, not text")
        return None if value is None else str(value)

    def _outcome(self, record: dict[str, Any]) -> Outcome:
        m = self.mapping
        reward = reward_of(self._get(record, "reward"))
        raw = self._get(record, "outcome")
        if raw is not None:
            label = m.label_for(raw)
            if label is None and isinstance(raw, (dict, list)):
                raise TrajectoryFormatError(f"field {m.where('outcome')!r} (outcome) holds {kind_of(raw)}, not a label")
            if label is not None:
                source = "constant" if isinstance(m.outcome, Constant) else m.outcome
                return Outcome(label=label, reward=reward, detail=cut_words(f"{source}: {raw}", 200, where=None))
        return outcome_from_reward(reward, m.reward_threshold)

    def _steps(self, record: dict[str, Any]) -> list[Step]:
        m = self.mapping
        if m.steps:
            items = self._get(record, "steps", required=True)
            require(isinstance(items, list), f"field {m.steps!r} (steps) should be a list, got {type(items).__name__}")
            if items and _is_message(items[0]):
                return messages_to_steps(items, m.steps)
            return [self._step(item, i) for i, item in enumerate(items)]
        text = self._get(record, "transcript", required=True)
        return [Step(index=0, role="assistant", text=text_of(text), raw_ref=m.transcript)]

    def _step(self, item: Any, index: int) -> Step:
        f = self.mapping.step_fields
        where = f"{self.mapping.steps}[{index}]"
        if not isinstance(item, dict):
            return Step(index=index, role="assistant", text=text_of(item), raw_ref=where)
        role = resolve(item, f.role)
        calls = []
        tool = resolve(item, f.tool)
        if isinstance(tool, str) and tool:
            calls = [ToolCall(name=tool, arguments=parse_arguments(resolve(item, f.arguments)))]
        results = []
        observation = resolve(item, f.observation)
        if observation is not None:
            content = text_of(observation)
            flagged = resolve(item, f.is_error)
            is_error = bool(flagged) if flagged is not None else looks_like_error(content)
            results = [ToolResult(content=content, is_error=is_error)]
        return Step(
            index=index,
            role=role if role in ("system", "user", "assistant", "tool", "environment") else "assistant",
            text=text_of(resolve(item, f.text)),
            reasoning=text_of(resolve(item, f.reasoning)),
            tool_calls=calls,
            tool_results=results,
            raw_ref=where,
        )

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        if not isinstance(record, dict):
            raise TrajectoryFormatError(f"record should be an object, got {type(record).__name__}")
        m = self.mapping
        prompt = text_of(self._get(record, "task", required=True))
        steps = self._steps(record)
        truth = self._get(record, "ground_truth")
        final = self._text(record, "final_output")
        metadata = {path: get_path(record, path) for path in m.metadata if get_path(record, path) is not None}
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(id=self._text(record, "task_id"), prompt=prompt),
                outcome=self._outcome(record),
                steps=steps,
                model=self._text(record, "model"),
                final_output=final if final is not None else last_text(steps, "assistant"),
                ground_truth=truth if isinstance(truth, dict) or truth is None else {"answer": truth},
                metadata=metadata,
            )
        ]
