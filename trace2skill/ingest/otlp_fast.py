"""A fast way through the usual OTLP/JSON line: an export of spans exactly as the OpenTelemetry SDK's
and the Collector's JSON exporters write it (`resourceSpans` > `scopeSpans` > `spans`, only the
OTLP field names).

Such a line is decoded into typed structs (msgspec) whose heavy fields (a span's attributes, events
and links) are kept as JSON text, not turned into Python objects: grouping spans by trace needs only
their ids, and an import that parses in several processes has each of them read the whole file but
parse only its share of the traces (`parallel`), so most spans are never looked at closely. A span's
heavy fields are decoded when its trace is parsed (`otlp.span_of`: a usual span straight into a
`Span`, any other through `LazySpan.as_dict`, the same dict a plain JSON decoding of the line gives).

Any other line (log records, snake_case or older field names, a bare span, invalid JSON, a field of
an unexpected type...) is read as before (`reader._loads`), so what an import finds and reports is the
same either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from trace2skill.ingest.reader import _loads

_ABSENT = msgspec.Raw()


class LazySpan(msgspec.Struct, forbid_unknown_fields=True, dict=True):
    """A span whose attributes, events and links are still JSON text (`dict=True`: the reader gives
    it a `resource` of its own, outside the JSON's fields)."""

    traceId: Any = None
    spanId: Any = None
    parentSpanId: Any = None
    traceState: Any = None
    flags: Any = None
    name: Any = None
    kind: Any = None
    startTimeUnixNano: Any = None
    endTimeUnixNano: Any = None
    attributes: msgspec.Raw = _ABSENT
    droppedAttributesCount: Any = None
    events: msgspec.Raw = _ABSENT
    droppedEventsCount: Any = None
    links: msgspec.Raw = _ABSENT
    droppedLinksCount: Any = None
    status: Any = None

    def keep(self) -> None:
        """Copy the JSON text out of the line it came in (so an open trace holds its spans, not lines)."""
        self.attributes = self.attributes.copy()
        self.events = self.events.copy()
        self.links = _ABSENT  # never read

    def attributes_value(self) -> Any:
        """Its attributes, decoded (None when it has none)."""
        return _value(self.attributes) if len(self.attributes) else None

    def as_dict(self) -> dict[str, Any]:
        """The span as a plain JSON decoding of it gives it (the fields `otlp.span_of` reads)."""
        out: dict[str, Any] = {
            "traceId": self.traceId, "spanId": self.spanId, "parentSpanId": self.parentSpanId, "name": self.name,
            "kind": self.kind, "startTimeUnixNano": self.startTimeUnixNano,
            "endTimeUnixNano": self.endTimeUnixNano, "status": self.status}
        if len(self.attributes):
            out["attributes"] = self.attributes_value()
        if len(self.events):
            out["events"] = _value(self.events)
        resource = self.__dict__.get("resource")
        if resource is not None:
            out["resource"] = resource
        return out


def _value(raw: msgspec.Raw) -> Any:
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError:  # valid JSON orjson does not take (an integer beyond 64 bits)
        return json.loads(bytes(raw))


class _ScopeSpans(msgspec.Struct, forbid_unknown_fields=True):
    scope: Any = None
    spans: list[LazySpan] | None = None
    schemaUrl: Any = None


class _ResourceSpans(msgspec.Struct, forbid_unknown_fields=True):
    resource: Any = None
    scopeSpans: list[_ScopeSpans] | None = None
    schemaUrl: Any = None


class _Export(msgspec.Struct, forbid_unknown_fields=True):
    resourceSpans: list[_ResourceSpans]


_DECODER = msgspec.json.Decoder(_Export)


@dataclass(slots=True)
class FastExport:
    """A line read the fast way, and its text (to read it the usual way should anything be amiss)."""

    export: _Export
    line: bytes

    def plain(self) -> Any:
        return _loads(self.line)

    def spans(self) -> list[LazySpan]:
        """Its spans, each with its resource's attributes (one object for all spans of a resource, as
        `otlp_reader.entries_of` gives them)."""
        out: list[LazySpan] = []
        for group in self.export.resourceSpans:
            resource = group.resource
            attributes = resource.get("attributes") if isinstance(resource, dict) else None
            shared = {"attributes": attributes} if attributes is not None else None
            for scope in group.scopeSpans or ():
                for span in scope.spans or ():
                    span.keep()
                    if shared is not None:
                        span.resource = shared  # type: ignore[attr-defined]  # its own, outside the JSON fields
                    out.append(span)
        return out


def loads(line: bytes) -> Any:
    """A JSONL line: a `FastExport` when it is a plain span export, else what `reader._loads` gives."""
    try:
        return FastExport(_DECODER.decode(line), line)
    except msgspec.DecodeError:  # not that kind of line (ValidationError is a DecodeError)
        return _loads(line)
