"""Langfuse trace exports, one trajectory per trace (docs/formats-observability.md).

Read, per line (array item, or the whole object), in Langfuse's public API shapes:
  - a trace with its observations and scores (`GET /api/public/traces/{id}`: `id`, `name`, `input`,
    `output`, `sessionId`, `userId`, `tags`, `observations: [...]`, `scores: [...]`);
  - observations on their own (`GET /api/public/v2/observations`, or a page of them `{"data": [...],
    "meta": ...}`): `id`, `traceId`, `type`, `name`, `startTime`, `endTime`, `parentObservationId`,
    `input`, `output`, `model`, `level`, `statusMessage`, usage;
  - scores on their own (`id`, `traceId`, `name`, `value`, `stringValue`, `dataType`, `source`);
grouped by trace id. Observations by `type`: GENERATION a model call (`input`: the messages sent,
often `{"messages", "tools"}`; `output`: the assistant's message); TOOL and RETRIEVER a tool run
(arguments in `input`, result in `output`, `level` ERROR: it failed); EVENT an environment step; SPAN,
AGENT, CHAIN, EVALUATOR, GUARDRAIL, EMBEDDING structure only. Task and final answer: the trace's
`input`/`output`, else the root observation's, else the first user and last assistant messages.
Outcome (`span_tree`): the score the user names, else one under a usual outcome name (`correct`,
`success`, ...), else failure when an observation other than a tool run ended at level ERROR.
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
    depths,
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

TYPES = frozenset({"SPAN", "GENERATION", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR", "EMBEDDING",
                   "GUARDRAIL"})
TOOLS = ("TOOL", "RETRIEVER")


def _is_trace(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and isinstance(
        value.get("observations"), list) and any(k in value for k in ("timestamp", "scores", "htmlPath"))


def _is_observation(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and isinstance(value.get("type"), str) and (
        value["type"].upper() in TYPES) and "startTime" in value


def _is_score(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("name"), str) and "dataType" in value and (
        "value" in value or "stringValue" in value)


def _items(item: Any) -> list[Any]:
    if isinstance(item, list):
        return item
    if isinstance(item, dict) and isinstance(item.get("data"), list) and not _is_observation(item):
        return item["data"]  # a page of the public API
    return [item]


class _Layout:
    kinds: tuple[str, ...] = ("traces", "observations", "scores")
    noun = "observations and scores"
    root = "trace or root observation"

    def entries(self, item: Any) -> list[Entry]:
        out = []
        for entry in _items(item):
            if _is_trace(entry):  # its observations in full, or only their ids (then they follow)
                whole = all(isinstance(o, dict) for o in entry["observations"])
                out.append(Entry(entry["id"], "traces", entry, root=whole))
            elif _is_observation(entry):
                trace_id = entry.get("traceId")
                if not isinstance(trace_id, str) or not trace_id:
                    raise TrajectoryFormatError(f"observation {entry['id'][:40]!r} has no traceId")
                root = entry.get("isRootObservation") is True or not entry.get("parentObservationId")
                out.append(Entry(trace_id, "observations", entry, root=root))
            elif _is_score(entry):
                trace_id = entry.get("traceId")
                out.append(Entry(trace_id if isinstance(trace_id, str) else "", "scores", entry))
            else:
                keys = ", ".join(sorted(map(str, entry))[:8]) if isinstance(entry, dict) else type(entry).__name__
                raise TrajectoryFormatError(f"not a Langfuse trace, observation or score: {keys}")
        return out

    def trace_ids(self, item: Any) -> set[str]:
        return ids_anywhere(item, _own_trace_id)


def _own_trace_id(item: dict[str, Any]) -> str:
    value = item.get("id") if _is_trace(item) else item.get("traceId")
    return value if isinstance(value, str) else ""


def _span(raw: dict[str, Any], trace_id: str) -> Span:
    where = f"observation {raw['id'][:40]!r}"
    start = utc_nanos(raw.get("startTime"), where)
    end = utc_nanos(raw.get("endTime"), where) if raw.get("endTime") else start
    parent = raw.get("parentObservationId")
    message = raw.get("statusMessage")
    return Span(trace_id=trace_id, span_id=raw["id"], parent_id=parent if isinstance(parent, str) else "",
                name=str(raw.get("name") or raw["type"]), kind=str(raw["type"]).upper(), start=start,
                end=max(start, end), attributes=raw, status="ERROR" if raw.get("level") == "ERROR" else "UNSET",
                status_message=text_of(message) if message not in (None, "") else "")


def _moments(span: Span) -> list[Moment]:
    data = span.attributes
    if span.kind == "GENERATION":
        return call_moments(span, data.get("input"), data.get("output"))
    if span.kind in TOOLS:
        error = span.status_message if span.status == "ERROR" else None
        return tool_moments(span, span.name, data.get("input"), data.get("output"), error)
    if span.kind == "EVENT":
        said = data.get("output") if data.get("output") is not None else data.get("input")
        text = text_of(said)
        return [note_moment(span, f"{span.name}: {text}" if text else span.name)]
    return []


def _score_value(score: dict[str, Any]) -> Any:
    if score.get("dataType") == "CATEGORICAL" or score.get("value") is None:
        return score.get("stringValue")
    return score.get("value")


def _scores(scores: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(name, value) of each score: the trace's own scores before its observations', newest first."""
    newest = sorted(scores, key=lambda s: str(s.get("timestamp") or ""), reverse=True)
    newest.sort(key=lambda s: bool(s.get("observationId")))
    return [(s["name"], _score_value(s)) for s in newest]


def _tokens(call: dict[str, Any], key: str, openai_key: str) -> int:
    """A generation's token count (`usageDetails`, else the older `usage`)."""
    for field in ("usageDetails", "usage"):
        usage = call.get(field)
        if isinstance(usage, dict) and (count(usage.get(key)) or count(usage.get(openai_key))):
            return count(usage.get(key)) or count(usage.get(openai_key))
    return 0


class LangfuseFormat(TreeFormat):
    name: ClassVar[str] = "langfuse"
    layout = _Layout()

    def sniff(self, sample: Any, shape: Shape) -> bool:
        items = _items(sample)
        return bool(items) and (_is_trace(items[0]) or _is_observation(items[0]))

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        expect_type(record, dict, "a trace")
        trace_id = record.get("traceId")
        if not isinstance(trace_id, str) or not trace_id:
            raise TrajectoryFormatError("a trace has no trace id")
        traces = entry_list(record.get("traces"), "traces")
        trace = traces[-1] if traces else {}
        observations = [o for t in traces if isinstance(t.get("observations"), list)
                        for o in t["observations"] if isinstance(o, dict)]
        observations = last_by_id([*observations, *entry_list(record.get("observations"), "observations")])
        for o in observations:
            if not _is_observation(o):
                raise TrajectoryFormatError("an observation has no id, type or startTime")
        scores = [s for t in traces if isinstance(t.get("scores"), list) for s in t["scores"] if isinstance(s, dict)]
        scores = [s for s in last_by_id([*scores, *entry_list(record.get("scores"), "scores")]) if _is_score(s)]
        spans = ordered([_span(o, trace_id) for o in observations])
        depth = depths(spans)
        top = min(spans, key=lambda s: (depth[s.span_id], s.start)) if spans else None
        root = top.attributes if top is not None else {}
        outcome = named_outcome(_scores(scores), self.outcome_attribute, "score") or error_outcome(
            ((s, f"{s.kind.lower()} {s.name}") for s in spans if s.status == "ERROR" and s.kind not in TOOLS),
            spans)
        calls = [s.attributes for s in spans if s.kind == "GENERATION"]
        metadata = {"trace_id": trace_id, "trace_name": first_text(trace.get("name"), root.get("traceName")),
                    "session_id": first_text(trace.get("sessionId"), root.get("sessionId")),
                    "user_id": first_text(trace.get("userId"), root.get("userId")),
                    "tags": next((t for t in (trace.get("tags"), root.get("tags")) if isinstance(t, list) and t), None),
                    "scores": dict(reversed(_scores(scores))),
                    "input_tokens": sum(_tokens(c, "input", "prompt_tokens") for c in calls),
                    "output_tokens": sum(_tokens(c, "output", "completion_tokens") for c in calls)}
        return [trajectory(self.name, source_name, [m for s in spans for m in _moments(s)],
                           task=io_text(trace.get("input"), "input") or io_text(root.get("input"), "input"),
                           final=io_text(trace.get("output"), "output") or io_text(root.get("output"), "output"),
                           outcome=outcome, model=first_text(*(c.get("model") for c in calls)), metadata=metadata)]
