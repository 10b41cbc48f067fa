"""Plain-text agent logs (ReAct style: "Thought: … Action: … Observation: …"), read through a
*text mapping* instead of code.

A text mapping (YAML or JSON file) says how records are separated, which line markers start a
thought, an action, an observation, the final answer or the user's request, and where the task,
the outcome and the gold answer are found (regular expressions; the first group is the value)::

    record_start: '^=== Episode (?P<id>\\S+)'   # a line matching this starts a record (else: the whole file)
    markers:
      user: 'Question:'
      thought: 'Thought:'
      action: 'Action:'
      action_input: 'Action Input:'
      observation: 'Observation:'
      answer: 'Final Answer:'
    task: '^Question:\\s*(.+)'
    task_id: '^=== Episode (\\S+)'
    gold: '^Gold answer:\\s*(.+)'
    outcome: '^Result:\\s*(\\w+)'            # success/failure words, yes/no, true/false, 1/0 ...
    reward: '^Reward:\\s*([0-9.]+)'          # when the outcome is a number (success at >= success_at)
    success_at: 1.0
    model: {value: gpt-4o}                  # a constant, or a pattern

A line that starts with a marker opens a block; the lines after it, up to the next marker, belong
to it. An action reads `tool[arguments]`, `tool(arguments)`, `tool: arguments` or `tool` followed by
an "Action Input" block; arguments that are a JSON object are kept as one. Lines before the first
marker and lines that only carry the outcome, reward or gold answer are not steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.ingest.base import Format, parse_arguments
from trace2skill.ingest.openai_chat import looks_like_error
from trace2skill.ingest.outcomes import label_of, outcome_from_reward
from trace2skill.ingest.reader import RawRecord
from trace2skill.models import Outcome, Step, Task, ToolCall, ToolResult, Trajectory

Block = Literal["user", "thought", "action", "action_input", "observation", "answer"]
BLOCKS: tuple[Block, ...] = ("user", "thought", "action", "action_input", "observation", "answer")
MAX_RECORD_CHARS = 20_000_000
_ACTION = re.compile(  # tool[args] | tool(args) | tool: args | tool
    r"^\s*(?P<name>[A-Za-z_][\w.\-/]*)\s*(?:\[(?P<square>.*)\]|\((?P<round>.*)\)|:\s*(?P<colon>.*))?\s*$", re.DOTALL)


# The README's example (ReAct logs): the starting point of the app's text mapping form.
EXAMPLE_MAPPING = """record_start: '^=== Episode '          # without it, the whole file is one record
markers: {user: 'Question:', thought: 'Thought:', action: 'Action:', action_input: 'Action Input:',
          observation: 'Observation:', answer: 'Final Answer:'}
task_id: '^=== Episode (\\S+)'
gold: '^Gold answer:\\s*(.+)'
outcome: '^Result:\\s*(\\w+)'
model: '\\(model: ([^)]+)\\)'
"""


class Constant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str


class TextMapping(BaseModel):
    """Where a text log keeps each part of a run; see the module docstring."""

    model_config = ConfigDict(extra="forbid")
    record_start: str | None = None
    markers: dict[Block, str] = Field(default_factory=dict)
    task: str | None = None
    task_id: str | None = None
    gold: str | None = None
    outcome: str | None = None
    reward: str | None = None
    success_at: float = 1.0
    model: str | Constant | None = None

    @field_validator("record_start", "task", "task_id", "gold", "outcome", "reward")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value, re.MULTILINE)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from exc
        return value

    @field_validator("markers")
    @classmethod
    def _has_steps(cls, value: dict[Block, str]) -> dict[Block, str]:
        if not any(value.get(b) for b in ("thought", "action", "observation", "answer")):
            raise ValueError("name at least one marker among thought, action, observation, answer")
        if any(not marker.strip() for marker in value.values()):
            raise ValueError("a marker cannot be empty")
        return value

    @classmethod
    def from_text(cls, text: str) -> TextMapping:
        """From the YAML/JSON text of a mapping (the app's form)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MappingError(f"the text mapping is not valid YAML ({str(exc).splitlines()[0]})") from exc
        return cls.load(data if isinstance(data, dict) else {"": data})

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> TextMapping:
        """From a YAML/JSON file or a dict; a MappingError in one sentence when it is wrong."""
        data: Any = source
        if isinstance(source, dict) and set(source) == {""}:
            raise MappingError("a text mapping is an object of fields (record_start, markers, task, outcome, ...)")
        if not isinstance(source, dict):
            try:
                data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise MappingError(f"cannot read the text mapping {source}: {exc}") from exc
        if not isinstance(data, dict):
            raise MappingError("a text mapping is an object of fields (record_start, markers, task, outcome, ...)")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "mapping"
            raise MappingError(f"text mapping, {where}: {first['msg']}") from exc


def iter_text_records(f: IO[bytes], mapping: TextMapping) -> Iterator[RawRecord]:
    """The file's records, read line by line: split where `record_start` matches (the whole file
    is one record without it). A record that is not UTF-8 or is too long is an error record."""
    start = re.compile(mapping.record_start) if mapping.record_start else None
    lines: list[str] = []
    first_line, index, size, bad = 1, 0, 0, ""

    def flush() -> RawRecord | None:
        text = "".join(lines)
        if not text.strip() and not bad:
            return None
        if bad:
            return RawRecord(index, line=first_line, error=bad)
        return RawRecord(index, data=text, line=first_line)

    for number, raw in enumerate(f, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            line, bad = "", bad or f"line {number} is not UTF-8 text"
        if start is not None and start.search(line) and (lines or bad):
            record = flush()
            if record is not None:
                yield record
                index += 1
            lines, first_line, size, bad = [], number, 0, ""
        size += len(line)
        if size > MAX_RECORD_CHARS:
            bad = bad or f"record longer than {MAX_RECORD_CHARS:,} characters"
            continue
        lines.append(line)
    record = flush()
    if record is not None:
        yield record


class TextLogFormat(Format):
    """Text logs read through a `TextMapping` (never detected: the mapping says it is one)."""

    name: ClassVar[str] = "text_log"
    one_task: ClassVar[bool] = True  # a log's episode is one task

    def __init__(self, mapping: TextMapping) -> None:
        self.mapping = mapping
        # longest first: "Action Input:" is tried before "Action:"
        self._markers = sorted(((m, b) for b, m in mapping.markers.items() if m), key=lambda mb: -len(mb[0]))
        self._patterns = {f: re.compile(p, re.MULTILINE) for f in ("task", "task_id", "gold", "outcome", "reward")
                          if (p := getattr(mapping, f))}
        self._model = re.compile(mapping.model, re.MULTILINE) if isinstance(mapping.model, str) else None

    def sniff(self, sample: Any, shape: Any) -> bool:
        return False

    def _find(self, field: str, text: str) -> str | None:
        pattern = self._patterns.get(field)
        found = pattern.search(text) if pattern else None
        if found is None:
            return None
        return (found.group(1) if found.groups() else found.group(0)).strip()

    def _blocks(self, text: str) -> list[tuple[Block, str, int]]:
        """(block, its text, line number in the record) in order."""
        skip = [p for f, p in self._patterns.items() if f in ("outcome", "reward", "gold")]
        blocks: list[tuple[Block, list[str], int]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if any(p.search(line) for p in skip):
                continue
            hit = next(((m, b) for m, b in self._markers if stripped.startswith(m)), None)
            if hit is not None:
                blocks.append((hit[1], [stripped[len(hit[0]):].strip()], number))
            elif blocks:
                blocks[-1][1].append(line.rstrip())
        return [(b, "\n".join(body).strip(), n) for b, body, n in blocks]

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        if not isinstance(record, str):
            raise TrajectoryFormatError("a text log record must be text")
        blocks = self._blocks(record)
        if not blocks:
            markers = ", ".join(repr(m) for m, _ in self._markers)
            raise TrajectoryFormatError(f"no line starts with a marker ({markers})")
        steps, final = _steps(blocks)
        task = self._find("task", record) or next((body for b, body, _ in blocks if b == "user"), "")
        gold = self._find("gold", record)
        model = self.mapping.model.value if isinstance(self.mapping.model, Constant) else (
            self._model_of(record))
        return [Trajectory(source_format=self.name, source_name=source_name,
                           task=Task(id=self._find("task_id", record), prompt=task), outcome=self._outcome(record),
                           steps=steps, model=model, final_output=final,
                           ground_truth={"answer": gold} if gold is not None else None)]

    def _model_of(self, record: str) -> str | None:
        found = self._model.search(record) if self._model else None
        return (found.group(1) if found and found.groups() else (found.group(0) if found else None))

    def _outcome(self, record: str) -> Outcome:
        word = self._find("outcome", record)
        reward_text = self._find("reward", record)
        reward = None
        if reward_text is not None:
            try:
                reward = float(reward_text)
            except ValueError as exc:
                raise TrajectoryFormatError(f"the reward pattern found {reward_text!r}, not a number") from exc
        if word is not None:
            label = label_of(word)
            if label is None:
                raise TrajectoryFormatError(f"the outcome pattern found {word!r}, which says neither success nor "
                                            "failure")
            return Outcome(label=label, reward=reward, detail=f"outcome: {word}")
        return outcome_from_reward(reward, self.mapping.success_at)


def _steps(blocks: list[tuple[Block, str, int]]) -> tuple[list[Step], str | None]:
    steps: list[Step] = []
    final: str | None = None
    calls = 0
    for kind, body, line in blocks:
        ref = f"line {line}"
        last = steps[-1] if steps else None
        if kind == "user":
            steps.append(Step(index=len(steps), role="user", text=body, raw_ref=ref))
        elif kind == "thought":
            steps.append(Step(index=len(steps), role="assistant", reasoning=body, raw_ref=ref))
        elif kind == "action":
            calls += 1
            call = _call(body, f"call-{calls}")
            if last is not None and last.role == "assistant" and not last.tool_calls and not last.text:
                last.tool_calls.append(call)  # the thought and its action are one turn
            else:
                steps.append(Step(index=len(steps), role="assistant", tool_calls=[call], raw_ref=ref))
        elif kind == "action_input":
            if last is not None and last.tool_calls:
                call = last.tool_calls[-1]
                call.arguments = parse_arguments(body) if body else call.arguments
            else:
                steps.append(Step(index=len(steps), role="assistant", text=body, raw_ref=ref))
        elif kind == "observation":
            call_id = last.tool_calls[-1].id if last is not None and last.tool_calls else None
            steps.append(Step(index=len(steps), role="tool", raw_ref=ref, tool_results=[
                ToolResult(call_id=call_id, content=body, is_error=looks_like_error(body))]))
        else:  # answer
            final = body
            if last is not None and last.role == "assistant" and not last.tool_calls and not last.text:
                last.text = body
            else:
                steps.append(Step(index=len(steps), role="assistant", text=body, raw_ref=ref))
    return steps, final


def _call(body: str, call_id: str) -> ToolCall:
    first, _, rest = body.partition("\n")
    found = _ACTION.match(first) if first.strip() else None
    if found is None:
        return ToolCall(id=call_id, name=(first.strip() or "action")[:100], arguments=rest.strip() or {})
    raw = next((found.group(g) for g in ("square", "round", "colon") if found.group(g) is not None), None)
    raw = "\n".join(p for p in (raw, rest.strip()) if p) if raw is not None else rest.strip()
    arguments: dict[str, Any] | str = {}
    if raw:
        parsed = parse_arguments(raw)
        arguments = parsed if isinstance(parsed, dict) else raw
    return ToolCall(id=call_id, name=found.group("name"), arguments=arguments)

