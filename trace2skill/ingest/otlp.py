"""OpenTelemetry spans and log records as JSON, normalised for the trace importers.

Three layouts are read (docs/formats-observability.md):
  - OTLP/JSON, as the SDK's `FileSpanExporter`/`FileLogExporter` and the Collector's `file` exporter
    write it: `{"resourceSpans": [{"resource", "scopeSpans": [{"scope", "spans": [...]}]}]}` and
    `{"resourceLogs": [... "scopeLogs": [{"logRecords": [...]}]]}`, one export per line. Ids in hex (the
    spec) or base64 (protobuf's generic JSON mapping), enums as numbers or names, 64-bit numbers as
    strings or numbers, snake_case field names too;
  - a bare OTLP span (`traceId`, `spanId`, ...) per line or array item;
  - the Python SDK's `ConsoleSpanExporter` objects (`context.trace_id`, `0x` ids, ISO times, flat
    attributes).

The reader (`otlp_reader`) only looks at trace ids to group; the rest is checked here, when a
trace is parsed, so a broken span fails its own trace and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.otlp_fast import LazySpan

_HEX = re.compile(r"[0-9a-fA-F]+")
_LOWER_HEX = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUSES = ("UNSET", "OK", "ERROR")


@dataclass(slots=True)
class Event:
    """A span event, or a log record joined to its span (`span_id`)."""

    name: str
    time: int
    attributes: dict[str, Any]
    body: Any = None
    span_id: str = ""


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    start: int  # nanoseconds since the epoch
    end: int
    attributes: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    status: str = "UNSET"
    status_message: str = ""
    resource: dict[str, Any] = field(default_factory=dict)


def pick(data: dict[str, Any], camel: str, snake: str) -> Any:
    """A field under its JSON name, or its protobuf field name."""
    value = data.get(camel)
    return data.get(snake) if value is None else value


# --------------------------------------------------------------------------- values


def any_value(value: Any) -> Any:
    """An OTLP AnyValue (`{"stringValue": "x"}`, ...) as a plain value."""
    if not isinstance(value, dict):
        return value  # flat attributes (console layout) are plain already
    if not value:
        return None
    key, inner = next(iter(value.items()))
    if key in ("stringValue", "string_value", "boolValue", "bool_value"):
        return inner
    if key in ("intValue", "int_value"):
        return int(inner) if isinstance(inner, str) and inner.lstrip("-").isdigit() else inner
    if key in ("doubleValue", "double_value"):
        return float(inner) if isinstance(inner, str) else inner
    if key in ("arrayValue", "array_value"):
        values = inner.get("values", []) if isinstance(inner, dict) else []
        return [any_value(v) for v in values] if isinstance(values, list) else []
    if key in ("kvlistValue", "kvlist_value"):
        values = inner.get("values", []) if isinstance(inner, dict) else []
        return attributes_of(values, "a key-value list")
    if key in ("bytesValue", "bytes_value"):
        return inner
    return value


def attributes_of(raw: Any, what: str) -> dict[str, Any]:
    """OTLP's `[{"key", "value"}]` list, or an already flat object, as a dict."""
    if raw is None:
        return {}
    if isinstance(raw, dict):  # the console layout: plain values already
        return {str(k): v for k, v in raw.items()}
    if not isinstance(raw, list):
        raise TrajectoryFormatError(f"{what} attributes should be a list, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for item in raw:
        key = item.get("key") if type(item) is dict else None
        if type(key) is not str:
            raise TrajectoryFormatError(f"{what} has an attribute without a key")
        value = item.get("value")
        text = value.get("stringValue") if type(value) is dict else None  # the common case, inline
        out[key] = text if type(text) is str and len(value) == 1 else any_value(value)
    return out


def norm_id(raw: Any, size: int) -> str:
    """A trace (size 16) or span (size 8) id as lowercase hex; '' when absent."""
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise TrajectoryFormatError(f"an id should be text, got {type(raw).__name__}")
    if len(raw) == 2 * size and _LOWER_HEX.fullmatch(raw):  # the OTLP/JSON spec's form, as exporters write it
        return raw
    text = raw[2:] if raw.startswith(("0x", "0X")) else raw
    if len(text) == 2 * size and _HEX.fullmatch(text):
        return text.lower()
    if len(text) in (4 * ((size + 2) // 3),):
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == size:
            return decoded.hex()
    if _HEX.fullmatch(text):
        return text.lower()
    return text


def nanos(raw: Any, what: str) -> int:
    """Nanoseconds from an OTLP number or decimal string, or an ISO-8601 time (console layout)."""
    if type(raw) is str and raw.isdigit():  # the usual: a decimal string
        return int(raw)
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool):
        raise TrajectoryFormatError(f"{what} has a time that is a boolean")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):  # JSON's Infinity and NaN, which Python's reader takes
            raise TrajectoryFormatError(f"{what} has a time that is not a number: {raw}")
        return int(raw)
    if isinstance(raw, str):
        if raw.isdigit():
            return int(raw)
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise TrajectoryFormatError(f"{what} has a time that is not a time: {raw[:40]!r}") from None
        if moment.tzinfo is None:
            raise TrajectoryFormatError(f"{what} has a time without a time zone: {raw[:40]!r}")
        return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    raise TrajectoryFormatError(f"{what} has a time that is {type(raw).__name__}, not a number or text")


def _enum(raw: Any, names: tuple[str, ...], prefix: str) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(names):
        return names[raw]
    if isinstance(raw, str):
        name = raw.rsplit(".", 1)[-1].upper().removeprefix(prefix)
        if name in names:
            return name
    return names[0]


# --------------------------------------------------------------------------- spans and logs


def trace_id_of(item: dict[str, Any]) -> Any:
    """The raw trace id of a span or log record in any layout (None when it has none)."""
    context = item.get("context")
    if isinstance(context, dict):
        return context.get("trace_id")
    return pick(item, "traceId", "trace_id")


def is_console_span(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("context"), dict) and "trace_id" in item["context"]


def is_bare_span(item: Any) -> bool:
    return isinstance(item, dict) and pick(item, "traceId", "trace_id") is not None and (
        pick(item, "spanId", "span_id") is not None) and "name" in item


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def span_of(raw: Any, resources: dict[int, dict[str, Any]] | None = None, known_trace: str = "") -> Span:
    """One span, any layout; `raw["resource"]` may hold its resource's attributes (`resources`: those
    already read, by the id of their list, as the spans of one export share it; `known_trace`: the
    trace id as the reader normalised it)."""
    if isinstance(raw, LazySpan):  # read the fast way (`otlp_fast`)
        usual = _usual_span(raw, resources, known_trace)
        if usual is not None:
            return usual
        raw = raw.as_dict()  # anything unusual is read the general way, below
    if not isinstance(raw, dict):
        raise TrajectoryFormatError(f"a span should be an object, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str):
        raise TrajectoryFormatError("a span has no name")
    context = raw.get("context")
    if isinstance(context, dict):  # ConsoleSpanExporter
        trace_id, span_id, parent = context.get("trace_id"), context.get("span_id"), raw.get("parent_id")
        start, end = raw.get("start_time"), raw.get("end_time")
        status = _dict(raw.get("status"))
        code, message = status.get("status_code"), status.get("description")
    else:
        trace_id, span_id = pick(raw, "traceId", "trace_id"), pick(raw, "spanId", "span_id")
        parent = pick(raw, "parentSpanId", "parent_span_id")
        start, end = pick(raw, "startTimeUnixNano", "start_time_unix_nano"), pick(
            raw, "endTimeUnixNano", "end_time_unix_nano")
        status = _dict(raw.get("status"))
        code, message = status.get("code"), status.get("message")
    where = f"span {name[:60]!r}"
    span = Span(trace_id=trace_id if trace_id == known_trace else norm_id(trace_id, 16),
                span_id=norm_id(span_id, 8), parent_id=norm_id(parent, 8),
                name=name, kind=_enum(raw.get("kind"), KINDS, "SPAN_KIND_"),
                start=nanos(start, where), end=nanos(end, where),
                attributes=attributes_of(raw.get("attributes"), where),
                status=_enum(code, STATUSES, "STATUS_CODE_"),
                status_message=message if isinstance(message, str) else "")
    if not span.trace_id or not span.span_id:
        raise TrajectoryFormatError(f"{where} has no trace id or span id")
    span.end = max(span.end, span.start)
    events = raw.get("events") or []
    if not isinstance(events, list):
        raise TrajectoryFormatError(f"{where} events should be a list")
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise TrajectoryFormatError(f"{where} has an event without a name")
        when = pick(event, "timeUnixNano", "time_unix_nano") if "timestamp" not in event else event["timestamp"]
        span.events.append(Event(event["name"], nanos(when, f"{where} event"),
                                 attributes_of(event.get("attributes"), f"{where} event")))
    _add_resource(span, raw.get("resource"), resources)
    return span


def _add_resource(span: Span, resource: Any, resources: dict[int, dict[str, Any]] | None) -> None:
    if isinstance(resource, dict):
        listed = resource.get("attributes")
        known = resources.get(id(listed)) if resources is not None else None
        if known is None:
            known = attributes_of(listed, "the resource")
            if resources is not None:
                resources[id(listed)] = known
        span.resource = known


def _span_id(raw: Any) -> bool:
    """A span id as OTLP/JSON writes it (16 lowercase hex digits)."""
    return type(raw) is str and len(raw) == 16 and _LOWER_HEX.fullmatch(raw) is not None


def _usual_span(raw: LazySpan, resources: dict[int, dict[str, Any]] | None, known_trace: str) -> Span | None:
    """A span of the usual kind, quickly: its trace's id, ids in lowercase hex, times as decimal text, a
    numeric kind, no events, attributes as OTLP writes them; None for any other (read the general way:
    `span_of`, which gives the same span for these, or says what is wrong with it)."""
    name, parent, start, end, kind = raw.name, raw.parentSpanId, raw.startTimeUnixNano, raw.endTimeUnixNano, raw.kind
    if not (type(name) is str and known_trace and raw.traceId == known_trace and _span_id(raw.spanId)
            and (parent is None or parent == "" or _span_id(parent)) and type(start) is str and start.isdigit()
            and type(end) is str and end.isdigit() and type(kind) is int and 0 <= kind < len(KINDS)
            and not len(raw.events)):
        return None
    try:
        attributes = attributes_of(raw.attributes_value(), "")
    except TrajectoryFormatError:
        return None  # the general way says what is wrong, naming the span
    status = raw.status
    code = message = None
    if type(status) is dict and status:
        code, message = status.get("code"), status.get("message")
    begins, ends = int(start), int(end)
    span = Span(known_trace, raw.spanId, parent or "", name, KINDS[kind], begins, ends if ends > begins else begins,
                attributes, [], _enum(code, STATUSES, "STATUS_CODE_"), message if type(message) is str else "")
    _add_resource(span, raw.__dict__.get("resource"), resources)
    return span


def log_of(raw: Any) -> Event:
    """A log record (the GenAI events some instrumentations send as logs), joined by its span id."""
    if not isinstance(raw, dict):
        raise TrajectoryFormatError(f"a log record should be an object, got {type(raw).__name__}")
    attributes = attributes_of(raw.get("attributes"), "a log record")
    name = pick(raw, "eventName", "event_name") or attributes.get("event.name") or ""
    when = pick(raw, "timeUnixNano", "time_unix_nano") or pick(raw, "observedTimeUnixNano", "observed_time_unix_nano")
    return Event(str(name), nanos(when, "a log record"), attributes, body=any_value(raw.get("body")),
                 span_id=norm_id(pick(raw, "spanId", "span_id"), 8))
