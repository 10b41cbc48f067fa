"""What the importers of tracing tools' exports share (OpenAI Agents SDK, Langfuse, LangSmith).

Each reads a file of entries (spans, observations, runs, scores, feedback) grouped by trace
(`grouping`), turns a trace's entries into a tree of `otlp.Span`s (id, parent, start, end, the entry
itself as attributes, an error as status ERROR), the spans into moments (`span_steps`) and those into
steps. The outcome follows the same rules for all three:
  1. the value the user names (`--outcome-attribute NAME`: a metadata key, a score, a feedback key);
  2. else a score or feedback under a usual outcome name (`outcome`, `success`, `correct`, `passed`,
     ..., `reward`, `score`);
  3. else failure when the run ended with an error (the error nearest the top of the tree);
  4. else unknown.
A value says success or failure as outcome values do everywhere (`outcomes.label_of`): true/false,
success/failure words, a number ≥ 1 is success (and is kept as the reward).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format, Shape, Unit, require, text_of
from trace2skill.ingest.chat_messages import messages_in
from trace2skill.ingest.grouping import Layout, group_traces
from trace2skill.ingest.openinference import TASK_KEYS
from trace2skill.ingest.otlp import Span, nanos
from trace2skill.ingest.outcomes import (
    LABEL_KEYS,
    REWARD_KEYS,
    ended_with_error,
    label_of,
    named_choice,
    named_outcome_of,
    offer,
    reward_of,
)
from trace2skill.ingest.reader import RawRecord, iter_records
from trace2skill.ingest.span_steps import Moment, StepBuilder, ToolRun, first_user_text, last_assistant_text
from trace2skill.models import Outcome, Task, Trajectory
from trace2skill.textcut import cut_words

OUTCOME_NAMES = frozenset(k.lower() for k in (*LABEL_KEYS, *REWARD_KEYS))
_OUTPUT_KEYS = ("output", "answer", "final_output", "result", "response", "content", "text")


class TreeFormat(Format):
    """An importer of a tracing tool's export: one trajectory per trace, the entries grouped by `layout`."""

    unit: ClassVar[Unit] = "record"
    one_task: ClassVar[bool] = True  # a trace is one request; earlier turns in its messages are history
    layout: ClassVar[Layout]

    def __init__(self, outcome_attribute: str | None = None) -> None:
        self.outcome_attribute = outcome_attribute

    def records(self, f: IO[bytes], shape: Shape, unit: Unit) -> Iterator[RawRecord]:
        return group_traces(iter_records(f, shape, "record"), self.layout)


# --------------------------------------------------------------------------- reading entries


def utc_nanos(raw: Any, what: str) -> int:
    """Nanoseconds since the epoch from an ISO-8601 time (a time without a zone is UTC, as LangSmith
    writes them) or a number."""
    if isinstance(raw, str) and raw and not raw.isdigit():
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise TrajectoryFormatError(f"{what} has a time that is not a time: {raw[:40]!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    return nanos(raw, what)


def entry_list(value: Any, what: str) -> list[dict[str, Any]]:
    """A list of entries (objects); None is an empty list."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TrajectoryFormatError(f"{what} should be a list of objects")
    return value


def last_by_id(entries: Iterable[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    """Entries without repeats: an entry written twice (when it started and when it ended) counts once,
    as last written."""
    seen: dict[Any, dict[str, Any]] = {}
    loose = []
    for entry in entries:
        ident = entry.get(key)
        if isinstance(ident, str) and ident:
            seen.pop(ident, None)
            seen[ident] = entry
        else:
            loose.append(entry)
    return [*seen.values(), *loose]


def ordered(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda s: (s.start, -s.end))
    return spans


def depths(spans: list[Span]) -> dict[str, int]:
    """Each span's depth in its tree (0: its parent is not in the trace)."""
    by_id = {s.span_id: s for s in spans}
    out: dict[str, int] = {}
    for span in spans:
        chain: list[Span] = []
        node = span
        while node.span_id not in out and node.parent_id in by_id and len(chain) <= len(spans):
            chain.append(node)
            node = by_id[node.parent_id]
        base = out.get(node.span_id, 0)
        if node.span_id not in out:
            out[node.span_id] = 0
        for i, member in enumerate(reversed(chain), start=1):
            out[member.span_id] = base + i
    return out


# --------------------------------------------------------------------------- moments


def call_moments(span: Span, sent: Any, answered: Any) -> list[Moment]:
    """A model call: the messages it was sent at its start, its answer at its end (any layout)."""
    ref = f"{span.kind} {span.span_id}"
    return [Moment(span.start, span, f"{ref} input", messages=messages_in(sent, "user", f"{ref} input")),
            Moment(span.end, span, f"{ref} output", messages=messages_in(answered, "assistant", f"{ref} output"),
                   answer=True)]


def tool_moments(span: Span, name: Any, arguments: Any, result: Any, error: str | None,
                 call_id: Any = None) -> list[Moment]:
    """A tool run: its call at its start, its result at its end (`error`: the run failed, and why)."""
    text = None if result is None else (result if isinstance(result, str) else text_of(result))
    if error is not None and not text:
        text = f"Error: {error}" if error else "Error"
    run = ToolRun(name=str(name) if name not in (None, "") else "tool",
                  call_id=str(call_id) if call_id not in (None, "") else None,
                  arguments=arguments, result=text, is_error=error is not None)
    ref = f"{span.kind} {span.span_id}"
    return [Moment(span.start, span, ref, tool=run), Moment(span.end, span, ref, tool=run, ending=True)]


def note_moment(span: Span, text: str, *, at_end: bool = False) -> Moment:
    return Moment(span.end if at_end else span.start, span, f"{span.kind} {span.span_id}", note=text,
                  ending=at_end)


# --------------------------------------------------------------------------- task, answer, outcome


def io_text(value: Any, which: str) -> str | None:
    """The task (`which="input"`) or the final answer (`"output"`) in a run's recorded input or output:
    text, the usual key of an object (`question`, `input`, ... / `output`, `answer`, ...), or the last
    user (input) or assistant (output) message of a message list."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        keys = TASK_KEYS if which == "input" else _OUTPUT_KEYS
        found = next((value[k] for k in keys if k in value and value[k] not in (None, "")), None)
        if found is None and ("messages" in value or "role" in value or "choices" in value):
            found = [value]
        if found is None:
            return None
        if not isinstance(found, (list, dict)):
            return text_of(found) or None
        value = found if isinstance(found, list) else [found]
    if isinstance(value, list):
        try:
            messages = messages_in(value, "user" if which == "input" else "assistant", which)
        except TrajectoryFormatError:
            return None
        role = "user" if which == "input" else "assistant"
        texts = [text_of([p for p in m.parts if p.get("type") == "text"]) for m in messages if m.role == role]
        return next((t for t in reversed(texts) if t), None)
    return text_of(value) or None


def named_outcome(values: Iterable[tuple[str, Any]], wanted: str | None, what: str) -> Outcome | None:
    """The outcome a named value gives: the one the user named (`wanted`, see `named_choice`; a value
    that says neither success nor failure is an error), else one under a usual outcome name; None when
    there is none."""
    pairs = [(k, v) for k, v in values if isinstance(k, str)]
    offer(what, pairs)
    if wanted:
        name = named_choice(wanted)[0]
        for key, value in pairs:
            if key == name:
                return named_outcome_of(wanted, value, what)
    for key, value in pairs:
        label = label_of(value) if key.lower() in OUTCOME_NAMES else None
        if label is not None:
            return Outcome(label=label, reward=reward_of(value), detail=cut_words(f"{key}: {value}", 200, where=None))
    return None


def error_outcome(failed: Iterable[tuple[Span, str]], all_spans: list[Span]) -> Outcome | None:
    """Failure when a span ended with an error (`failed`: each with what to call it): the one nearest
    the top of the tree, the earliest among equals."""
    candidates = list(failed)
    if not candidates:
        return None
    depth = depths(all_spans)
    span, label = min(candidates, key=lambda c: (depth.get(c[0].span_id, 0), c[0].start))
    return Outcome(label="failure", detail=ended_with_error(label, span.status_message))


def trajectory(source_format: str, source_name: str, moments: list[Moment], *, task: str | None,
               final: str | None, outcome: Outcome | None, model: str | None, metadata: dict[str, Any],
               fallback_task: str | None = None) -> Trajectory:
    """The trajectory of a trace's moments. Task: `task`, else the first user message, else
    `fallback_task`; final output: `final`, else the last assistant message."""
    steps = StepBuilder().add(moments)
    require(bool(steps), "this trace holds no model calls with messages, no tool runs and nothing else an "
                         "agent did")
    return Trajectory(source_format=source_format, source_name=source_name,
                      task=Task(prompt=task or first_user_text(steps) or fallback_task or ""), steps=steps,
                      outcome=outcome or Outcome(label="unknown"), model=model,
                      final_output=final or last_assistant_text(steps),
                      metadata={k: v for k, v in metadata.items() if v not in (None, "", [], {}, 0)})


def first_text(*values: Any) -> str | None:
    """The first value that is non-empty text."""
    return next((v for v in values if isinstance(v, str) and v), None)


def count(value: Any) -> int:
    """A token count, or 0 when it is not a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
