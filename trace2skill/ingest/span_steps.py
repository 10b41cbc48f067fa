"""Steps from spans: what a trace's spans say happened, on one timeline (every trace importer).

A convention turns its spans into *moments*: the messages a model call was sent (at its start), the
messages it answered (at its end), a tool run starting and ending, something the agent's framework did
(a handoff, a guardrail that tripped: an environment step). Every model call is sent the whole
conversation so far, so messages already seen are not repeated: an input message becomes a step only
the first time it appears (counting repeats, so a user who says "ok" twice says it twice); a model's
answer is always new. A tool span gives the tool call (when no model answer showed it, e.g. content
capture was off) and its result (a tool span without a call id answers the oldest open call of its
tool); the same result quoted in the next model call's input is not repeated, and fills in the tool
span's result when that was not captured.

Messages use the GenAI "parts" shape: `Message(role, [{"type": "text", "content": ...},
{"type": "tool_call", "id", "name", "arguments"}, {"type": "tool_call_response", "id", "response"},
{"type": "reasoning", "content"}, ...])`; each convention converts its own layout to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import parse_arguments, text_of
from trace2skill.ingest.openai_chat import looks_like_error
from trace2skill.ingest.otlp import Span
from trace2skill.ingest.outcomes import ended_with_error, named_choice, named_outcome_of, offer
from trace2skill.models import Outcome, Step

ROLES = {"system": "system", "developer": "system", "user": "user", "human": "user", "assistant": "assistant",
         "model": "assistant", "ai": "assistant", "tool": "tool", "function": "tool", "ipython": "tool"}


@dataclass(slots=True)
class Message:
    role: str
    parts: list[dict[str, Any]]


@dataclass(slots=True)
class ToolRun:
    name: str
    call_id: str | None
    arguments: Any = None
    result: str | None = None
    is_error: bool = False


@dataclass(slots=True)
class Moment:
    """Something that happened at `time`: messages sent or answered, or a tool run starting/ending."""

    time: int
    span: Span
    ref: str
    messages: list[Message] = field(default_factory=list)
    answer: bool = False  # a model's answer: always new
    request: bool = False  # an agent's request: held until the next model call shows whether it repeats it
    follows: Moment | None = None  # `messages` continue what this earlier moment was sent
    counts: dict[bytes, int] | None = None  # each message's occurrences in what was sent (set when added)
    tool: ToolRun | None = None
    ending: bool = False  # ends come before starts at the same instant
    note: str | None = None  # something the agent's framework did (a handoff...): an environment step

    def key(self) -> tuple[int, int, int, int]:
        return (self.time, 0 if self.ending else 1, self.span.start, -self.span.end)


_SECONDS: dict[int, str] = {}


def iso(nanos: int) -> str | None:
    """'2026-01-01T10:00:00.123Z' (the date and time part kept for the next steps of the same second)."""
    if nanos <= 0:
        return None
    seconds, rest = divmod(nanos, 1_000_000_000)
    prefix = _SECONDS.get(seconds)
    if prefix is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        try:
            prefix = _SECONDS[seconds] = datetime.fromtimestamp(seconds, UTC).isoformat()[:19]  # to the second
        except (OverflowError, OSError, ValueError):
            return None
    return f"{prefix}.{rest // 1_000_000:03d}Z"


def _part_text(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind in ("blob", "file", "uri", "image", "image_url"):
        modality = part.get("modality") or part.get("mime_type") or "file"
        where = part.get("uri") or part.get("file_id")
        return f"[{modality}: {where}]" if isinstance(where, str) else f"[{modality}]"
    if "content" in part:
        return text_of(part["content"])
    return text_of({k: v for k, v in part.items() if k != "type"})


def _joined(texts: list[str]) -> str:
    """The non-empty ones, a line each (a single text as it is: most messages have one part)."""
    return texts[0] if len(texts) == 1 else "\n".join([t for t in texts if t])


def _signature(message: Message) -> bytes:
    try:
        return orjson.dumps([message.role, message.parts], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return repr((message.role, message.parts)).encode()


_STEPS = TypeAdapter(list[Step])


class StepBuilder:
    """Collects steps from moments in time order (see the module docstring).

    Steps, tool calls and results are plain dicts (the fields of `Step`, `ToolCall`, `ToolResult`)
    until all moments are in, then validated as `Step`s at once: one pydantic call per trace instead
    of one per object (a result may still change when the model's next input quotes it)."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.seen: dict[bytes, int] = {}
        self.calls: dict[str, dict[str, Any]] = {}  # call id -> its ToolCall fields
        self.unanswered: dict[str, deque[str]] = {}  # tool name -> call ids without a result yet
        self.results: dict[str, dict[str, Any]] = {}  # call id -> its ToolResult fields

    def add(self, moments: Iterable[Moment]) -> list[Step]:
        held: list[Moment] = []
        for moment in sorted(moments, key=Moment.key):
            if moment.request:
                held.append(moment)
                continue
            if held:  # an agent's request comes out unless the model call it led to repeats it
                sent = {_signature(m) for m in moment.messages} if not (moment.answer or moment.tool) else set()
                for request in held:
                    rest = [m for m in request.messages if _signature(m) not in sent]
                    self._messages(rest, request.time, request.ref, answer=False)
                held = []
            when = moment.time
            if moment.note is not None:
                self._append({"role": "environment", "text": moment.note, "timestamp": iso(when),
                              "raw_ref": moment.ref})
            elif moment.tool is not None:
                (self._tool_end if moment.ending else self._tool_start)(moment.tool, when, moment.ref)
            else:
                prior = moment.follows.counts if moment.follows is not None else None
                moment.counts = self._messages(moment.messages, when, moment.ref, answer=moment.answer, prior=prior)
        for request in held:
            self._messages(request.messages, request.time, request.ref, answer=False)
        return _STEPS.validate_python(self.steps)

    def _messages(self, messages: list[Message], when: int, ref: str, *, answer: bool,
                  prior: dict[bytes, int] | None = None) -> dict[bytes, int]:
        """Add the new ones among `messages` (following the `prior` ones, already counted); returns
        each message's occurrences in the whole."""
        occurrence = dict(prior) if prior else {}
        seen = self.seen
        for i, message in enumerate(messages):
            signature = _signature(message)
            count = occurrence[signature] = occurrence.get(signature, 0) + 1
            if answer:
                seen[signature] = seen.get(signature, 0) + 1
            elif count <= seen.get(signature, 0):
                continue
            else:
                seen[signature] = count
            self._message(message, when, f"{ref}[{i}]" if len(messages) > 1 else ref)
        return occurrence

    def _message(self, message: Message, when: int, ref: str) -> None:
        role = ROLES.get(message.role.lower(), "user")
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for part in message.parts:
            if not isinstance(part, dict):
                raise TrajectoryFormatError(f"{ref}: a message part should be an object, got {type(part).__name__}")
            kind = part.get("type")
            if kind == "tool_call" and role == "assistant":
                calls.append(self._call(part))
            elif kind == "tool_call_response":
                result = self._result(part)
                if result is not None:
                    results.append(result)
            elif kind in ("reasoning", "thinking"):
                reasoning.append(_part_text(part))
            else:
                texts.append(_part_text(part))
        text = _joined(texts)
        if role == "tool" and not results and text and not any(p.get("type") == "tool_call_response"
                                                               for p in message.parts):
            results = [{"call_id": None, "content": text, "is_error": looks_like_error(text)}]
        if results:
            self._append({"role": "tool", "tool_results": results, "timestamp": iso(when), "raw_ref": ref})
        if role == "tool" or (results and not text):
            return
        thought = _joined(reasoning) if role == "assistant" else ""
        if role == "assistant" and not (text or thought or calls):
            return
        self._append({"role": role, "text": text, "reasoning": thought, "tool_calls": calls, "timestamp": iso(when),
                      "raw_ref": ref})

    def _call(self, part: dict[str, Any]) -> dict[str, Any]:
        raw_id, raw_name = part.get("id"), part.get("name")
        call_id = str(raw_id) if raw_id not in (None, "") else None
        name = str(raw_name) if raw_name not in (None, "") else "tool"
        call = {"id": call_id, "name": name, "arguments": parse_arguments(part.get("arguments"))}
        if call_id is not None and call_id not in self.calls:
            self.calls[call_id] = call
            self.unanswered.setdefault(name, deque()).append(call_id)
        return call

    def _result(self, part: dict[str, Any]) -> dict[str, Any] | None:
        """A result quoted in a model's input; None when its tool span gave it already."""
        raw_id = part.get("id")
        call_id = str(raw_id) if raw_id not in (None, "") else None
        response = part.get("response", part.get("result"))
        content = response if isinstance(response, str) else text_of(response)
        known = self.results.get(call_id) if call_id is not None else None
        if known is not None:
            if not known["content"] and content:
                known["content"] = content
                known["is_error"] = known["is_error"] or looks_like_error(content)
            return None
        result = {"call_id": call_id, "content": content, "is_error": looks_like_error(content)}
        if call_id is not None:
            self.results[call_id] = result
            self._answered(call_id)
        return result

    def _answered(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        waiting = self.unanswered.get(call["name"]) if call is not None else None
        if waiting is not None and call_id in waiting:
            waiting.remove(call_id)

    def _tool_start(self, run: ToolRun, when: int, ref: str) -> None:
        if run.call_id is None:  # OpenInference tool spans carry no call id: the oldest open call of that name
            waiting = self.unanswered.get(run.name)
            if waiting:
                run.call_id = waiting[0]
        if run.call_id is not None and run.call_id in self.calls:
            return
        call = {"id": run.call_id, "name": run.name or "tool", "arguments": parse_arguments(run.arguments)}
        if run.call_id is not None:
            self.calls[run.call_id] = call
        self._append({"role": "assistant", "tool_calls": [call], "timestamp": iso(when), "raw_ref": ref})

    def _tool_end(self, run: ToolRun, when: int, ref: str) -> None:
        content = run.result or ""
        is_error = run.is_error or looks_like_error(content)
        known = self.results.get(run.call_id) if run.call_id is not None else None
        if known is not None:
            known["is_error"] = known["is_error"] or is_error
            if not known["content"]:
                known["content"] = content
            return
        result = {"call_id": run.call_id, "content": content, "is_error": is_error}
        if run.call_id is not None:
            self.results[run.call_id] = result
            self._answered(run.call_id)
        self._append({"role": "tool", "tool_results": [result], "timestamp": iso(when), "raw_ref": ref})

    def _append(self, step: dict[str, Any]) -> None:
        step["index"] = len(self.steps)
        self.steps.append(step)


# --------------------------------------------------------------------------- trace-level facts


def roots(spans: list[Span]) -> list[Span]:
    """Spans whose parent is not in the trace (the root, or the top of a service's part)."""
    ids = {s.span_id for s in spans}
    return [s for s in spans if not s.parent_id or s.parent_id not in ids]


def outcome_of(spans: list[Span], attribute: str | None) -> Outcome:
    """The user's outcome attribute when a span (the root first) or the resource has it; else failure
    when a top-level span ended with an error; else unknown (an OK status is set on every finished
    call by some instrumentations, so it says nothing about the task)."""
    tops = roots(spans)
    offer("span attribute", ((k, v) for span in [*tops, *reversed(spans)] for source in (span.attributes, span.resource)
                             for k, v in source.items()))
    if attribute:
        name = named_choice(attribute)[0]
        for span in [*tops, *reversed(spans)]:
            for source in (span.attributes, span.resource):
                if name in source:
                    return named_outcome_of(attribute, source[name], "attribute")
    for span in tops:
        if span.status == "ERROR":
            why = span.status_message or str(span.attributes.get("error.type") or "")
            return Outcome(label="failure", detail=ended_with_error(span.name, why))
    return Outcome(label="unknown")


def first_user_text(steps: list[Step]) -> str:
    return next((s.text for s in steps if s.role == "user" and s.text), "")


def last_assistant_text(steps: list[Step]) -> str | None:
    return next((s.text for s in reversed(steps) if s.role == "assistant" and s.text), None)
