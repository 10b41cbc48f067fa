"""OpenAI Agents SDK traces (`openai-agents`): `Trace.export()` and `Span.export()` objects, one trajectory
per trace (docs/formats-observability.md).

A file holds, per line (array item, or the whole object), `{"object": "trace", "id", "workflow_name",
"group_id", "metadata"}` or `{"object": "trace.span", "id", "trace_id", "parent_id", "started_at",
"ended_at", "span_data": {"type", ...}, "error": {"message", "data"} | null}`, a list of those, or the
SDK exporter's batch `{"data": [...]}`; a custom `TracingProcessor` writes them. Spans by `span_data.type`:
  - `generation` (Chat Completions models): `input`, `output` (chat messages), `model`, `usage`;
  - `response` (Responses API models): the export holds only `response_id` and `usage`; a processor
    that also writes `span_data.response` (the Response) and `span_data.input` gives the messages;
  - `function`: a tool run (`name`, `input`: the arguments as JSON text, `output`; an error: it failed);
  - `handoff` (`from_agent`, `to_agent`): an environment step; `guardrail` (`name`, `triggered`): an
    environment step when it tripped; `agent`, `custom` (the SDK's task and turn spans), `mcp_tools`:
    structure only.
Outcome (`span_tree`): the named key of the trace's `metadata`, a span's `metadata` or a custom span's
`data`; else failure when a span other than a tool run ended with an error (max turns, a tripped
guardrail, a failed model call); else unknown.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Shape, expect_type, text_of
from trace2skill.ingest.grouping import Entry, ids_anywhere
from trace2skill.ingest.otlp import Span
from trace2skill.ingest.span_steps import Moment
from trace2skill.ingest.span_tree import (
    TreeFormat,
    call_moments,
    count,
    entry_list,
    error_outcome,
    first_text,
    io_text,
    last_by_id,
    named_outcome,
    note_moment,
    ordered,
    tool_moments,
    trajectory,
    utc_nanos,
)
from trace2skill.models import Trajectory

OBJECTS = ("trace", "trace.span")


def _is_item(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") in OBJECTS and isinstance(value.get("id"), str)


def _items(item: Any) -> list[Any]:
    if isinstance(item, list):
        return item
    if isinstance(item, dict) and "object" not in item and isinstance(item.get("data"), list):
        return item["data"]  # the SDK exporter's batch
    return [item]


class _Layout:
    kinds: tuple[str, ...] = ("traces", "spans")
    noun = "spans"
    root = "trace or root span"

    def entries(self, item: Any) -> list[Entry]:
        out = []
        for entry in _items(item):
            if not _is_item(entry):
                keys = ", ".join(sorted(map(str, entry))[:8]) if isinstance(entry, dict) else type(entry).__name__
                raise TrajectoryFormatError('not an OpenAI Agents SDK trace or span (no "object": "trace" or '
                                            f'"trace.span" with an id): {keys}')
            if entry["object"] == "trace":
                out.append(Entry(entry["id"], "traces", entry, root=True))
                continue
            trace_id = entry.get("trace_id")
            if not isinstance(trace_id, str) or not trace_id:
                raise TrajectoryFormatError(f"span {entry['id'][:40]!r} has no trace id")
            out.append(Entry(trace_id, "spans", entry, root=entry.get("parent_id") is None))
        return out

    def trace_ids(self, item: Any) -> set[str]:
        return ids_anywhere(item, _own_trace_id)


def _own_trace_id(item: dict[str, Any]) -> str:
    """The trace a (maybe damaged) trace or span names: a span's `trace_id`, a trace's `id`."""
    value = item.get("trace_id")
    if value is None and isinstance(item.get("id"), str) and item["id"].startswith("trace_"):
        value = item["id"]  # the SDK's trace ids: "trace_" and 32 hex digits
    return value if isinstance(value, str) else ""


def _span(raw: dict[str, Any], trace_id: str) -> Span:
    data = expect_type(raw.get("span_data"), dict, f"span {raw['id'][:40]!r} span_data")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise TrajectoryFormatError(f"span {raw['id'][:40]!r} has no span_data.type")
    where = f"span {raw['id'][:40]!r}"
    start = utc_nanos(raw.get("started_at"), where)
    error = raw.get("error")
    message = ""
    if error is not None:
        error = expect_type(error, dict, f"{where} error")
        detail = error.get("data").get("error") if isinstance(error.get("data"), dict) else None
        message = ": ".join(text_of(x) for x in (error.get("message"), detail) if x not in (None, ""))
    parent = raw.get("parent_id")
    metadata = raw.get("metadata")
    return Span(trace_id=trace_id, span_id=raw["id"], parent_id=parent if isinstance(parent, str) else "",
                name=str(data.get("name") or kind), kind=kind, start=start,
                end=max(start, utc_nanos(raw.get("ended_at"), where)), attributes=data,
                status="ERROR" if error is not None else "UNSET", status_message=message,
                resource=metadata if isinstance(metadata, dict) else {})  # the span's own metadata


def _moments(span: Span) -> list[Moment]:
    data = span.attributes
    if span.kind == "generation":
        return call_moments(span, data.get("input"), data.get("output"))
    if span.kind == "response":
        response = data.get("response")
        if not isinstance(response, dict) and data.get("input") is None:
            return []  # the SDK's own export: no content
        output = response.get("output") if isinstance(response, dict) else None
        return call_moments(span, data.get("input"), output)
    if span.kind == "function":
        error = span.status_message if span.status == "ERROR" else None
        return tool_moments(span, data.get("name"), data.get("input"), data.get("output"), error)
    if span.kind == "handoff":
        return [note_moment(span, f"{data.get('from_agent') or 'An agent'} handed the conversation over to "
                                  f"{data.get('to_agent') or 'another agent'}")]
    if span.kind == "guardrail" and data.get("triggered") is True:
        return [note_moment(span, f"Guardrail {text_of(data.get('name')) or 'check'!r} tripped", at_end=True)]
    return []


def _label(span: Span) -> str:
    data = span.attributes
    if span.kind == "agent":
        return f"agent {span.name}"
    if span.kind == "custom" and isinstance(data.get("data"), dict):
        inner = data["data"]
        if inner.get("sdk_span_type") == "turn":
            return f"turn {inner.get('turn')} of {inner.get('agent_name') or 'the agent'}"
        if inner.get("sdk_span_type") == "task":
            return f"run {inner.get('name') or ''}".strip()
    if span.kind in ("generation", "response"):
        return "a model call"
    return f"{span.kind} {span.name}" if span.name != span.kind else span.kind


def _values(trace: dict[str, Any], spans: list[Span]) -> list[tuple[str, Any]]:
    """Named values an outcome may be under: the trace's metadata, spans' metadata, custom spans' data."""
    out: list[tuple[str, Any]] = []
    if isinstance(trace.get("metadata"), dict):
        out += list(trace["metadata"].items())
    for span in spans:
        out += list(span.resource.items())
        inner = span.attributes.get("data")
        if span.kind == "custom" and isinstance(inner, dict) and "sdk_span_type" not in inner:
            out += list(inner.items())
    return out


class OpenAIAgentsFormat(TreeFormat):
    name: ClassVar[str] = "openai_agents"
    layout = _Layout()

    def sniff(self, sample: Any, shape: Shape) -> bool:
        items = _items(sample)
        return bool(items) and _is_item(items[0])

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        expect_type(record, dict, "a trace")
        trace_id = record.get("traceId")
        if not isinstance(trace_id, str) or not trace_id:
            raise TrajectoryFormatError("a trace has no trace id")
        traces = entry_list(record.get("traces"), "traces")
        trace = traces[-1] if traces else {}
        raws = last_by_id(entry_list(record.get("spans"), "spans"))
        if not all(_is_item(raw) and raw["object"] == "trace.span" for raw in raws):
            raise TrajectoryFormatError('a span has no "object": "trace.span" or no id')
        spans = ordered([_span(raw, trace_id) for raw in raws])
        moments = [m for span in spans for m in _moments(span)]
        outcome = named_outcome(_values(trace, spans), self.outcome_attribute, "metadata key") or error_outcome(
            ((s, _label(s)) for s in spans if s.status == "ERROR" and s.kind != "function"), spans)
        models = [s.attributes.get("model") for s in spans if s.kind == "generation"]
        models += [s.attributes["response"].get("model") for s in spans
                   if s.kind == "response" and isinstance(s.attributes.get("response"), dict)]
        agents = list(dict.fromkeys(s.name for s in spans if s.kind == "agent"))
        usage: list[dict[str, Any]] = [s.attributes["usage"] for s in spans if s.kind in ("generation", "response")
                                       and isinstance(s.attributes.get("usage"), dict)]
        metadata = {"trace_id": trace_id, "workflow": first_text(trace.get("workflow_name")),
                    "conversation_id": first_text(trace.get("group_id")),
                    "agent": agents[0] if agents else None, "agents": agents if len(agents) > 1 else None,
                    "input_tokens": sum(count(u.get("input_tokens")) for u in usage),
                    "output_tokens": sum(count(u.get("output_tokens")) for u in usage)}
        return [trajectory(self.name, source_name, moments, task=None, final=None, outcome=outcome,
                           model=first_text(*models), metadata=metadata,
                           fallback_task=io_text(trace.get("metadata"), "input"))]
