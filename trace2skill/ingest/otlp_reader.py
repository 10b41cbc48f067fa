"""Reading a file of OpenTelemetry exports as a stream of traces, one record per trace.

Each JSONL line (array item, or the whole object) is an OTLP export (`resourceSpans` and/or
`resourceLogs`), a bare OTLP span, a console span, or a list of those. Spans and log records are
grouped by trace id (`grouping`: a trace is handed on once its root span, the one without a parent,
has arrived and a few more lines brought nothing for it). A root whose parent lives in another
service never shows: its trace waits until the end of the file, or until more than `MAX_OPEN_SPANS`
spans wait. A line that is not an export is an error record, and so is every trace it names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest import otlp_fast
from trace2skill.ingest.base import Shape
from trace2skill.ingest.grouping import Entry, group_traces, ids_anywhere
from trace2skill.ingest.otlp import is_bare_span, is_console_span, norm_id, pick, trace_id_of
from trace2skill.ingest.otlp_fast import FastExport
from trace2skill.ingest.reader import RawRecord, iter_records

MAX_OPEN_SPANS = 20_000  # about 200 MB of parsed spans at most
_SCOPES = (("scopeSpans", "scope_spans"), ("instrumentationLibrarySpans", "instrumentation_library_spans"))
_LOG_SCOPES = (("scopeLogs", "scope_logs"), ("instrumentationLibraryLogs", "instrumentation_library_logs"))


def is_export(item: Any) -> bool:
    return isinstance(item, dict) and any(
        pick(item, camel, snake) is not None
        for camel, snake in (("resourceSpans", "resource_spans"), ("resourceLogs", "resource_logs")))


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TrajectoryFormatError(f"{what} should be a list, got {type(value).__name__}")
    return value


def entries_of(item: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The spans and log records of one line; TrajectoryFormatError when the line is not an export."""
    if isinstance(item, list):
        spans: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []
        for part in item:
            if isinstance(part, list):
                raise TrajectoryFormatError("a list of lists is not an OpenTelemetry export")
            more_spans, more_logs = entries_of(part)
            spans += more_spans
            logs += more_logs
        return spans, logs
    if is_console_span(item) or is_bare_span(item):
        return [item], []
    if not is_export(item):
        keys = ", ".join(sorted(map(str, item))[:8]) if isinstance(item, dict) else type(item).__name__
        raise TrajectoryFormatError(f"not an OpenTelemetry export (no resourceSpans, resourceLogs or span): {keys}")
    spans, logs = [], []
    for group, scopes, key, out in (("resourceSpans", _SCOPES, "spans", spans),
                                    ("resourceLogs", _LOG_SCOPES, "logRecords", logs)):
        snake = "resource_spans" if group == "resourceSpans" else "resource_logs"
        for resource_entry in _list(pick(item, group, snake), group):
            if not isinstance(resource_entry, dict):
                raise TrajectoryFormatError(f"an entry of {group} should be an object")
            resource = resource_entry.get("resource")
            attributes = resource.get("attributes") if isinstance(resource, dict) else None
            shared = {"attributes": attributes}  # one object for all its spans (read once, `span_of`)
            for camel, snake_scope in scopes:
                for scope in _list(pick(resource_entry, camel, snake_scope), camel):
                    if not isinstance(scope, dict):
                        raise TrajectoryFormatError(f"an entry of {camel} should be an object")
                    entries = _list(pick(scope, key, "log_records" if key == "logRecords" else key), key)
                    for entry in entries:
                        if not isinstance(entry, dict):
                            raise TrajectoryFormatError(f"an entry of {key} should be an object")
                        if attributes is not None:
                            entry["resource"] = shared
                        out.append(entry)
    return spans, logs


class _OtlpLayout:
    """Spans and log records, by trace id; a span without a parent is its trace's root."""

    kinds: tuple[str, ...] = ("spans", "logs")
    noun = "spans"
    root = "root span"

    def entries(self, item: Any) -> list[Entry]:
        if isinstance(item, FastExport):
            try:
                return _fast_entries(item)
            except TrajectoryFormatError:  # said as the usual reading says it
                item = item.plain()
        spans, logs = entries_of(item)
        out = [Entry(_trace_id(trace_id_of(s), required=True), "spans", s,
                     root=not pick(s, "parentSpanId", "parent_span_id") and not s.get("parent_id")) for s in spans]
        return out + [Entry(_trace_id(trace_id_of(r), required=False), "logs", r) for r in logs]

    def trace_ids(self, item: Any) -> set[str]:
        return ids_anywhere(item.plain() if isinstance(item, FastExport) else item, _any_trace_id)


def _fast_entries(item: FastExport) -> list[Entry]:
    """The spans of a line read the fast way (`otlp_fast`: only OTLP's own field names), each run of
    one trace's spans as one entry (exporters write a trace's spans together, as they end); a line
    holds a few spans of each of its traces, so each trace id is normalised once."""
    ids: dict[Any, str] = {}
    out: list[Entry] = []
    run: Entry | None = None
    for span in item.spans():
        raw = span.traceId
        trace_id = ids.get(raw) if type(raw) is str else None
        if trace_id is None:
            trace_id = _trace_id(raw, required=True)
            if type(raw) is str:
                ids[raw] = trace_id
        if run is not None and run.trace_id == trace_id:
            run.data.append(span)
            run.root = run.root or not span.parentSpanId
        else:
            run = Entry(trace_id, "spans", [span], root=not span.parentSpanId, many=True)
            out.append(run)
    return out


def _trace_id(raw: Any, *, required: bool) -> str:
    trace_id = norm_id(raw, 16)
    if required and not trace_id:
        raise TrajectoryFormatError("a span has no trace id")
    return trace_id


def _any_trace_id(item: dict[str, Any]) -> str:
    raw = trace_id_of(item)
    return norm_id(raw, 16) if isinstance(raw, str) else ""


def iter_trace_records(f: IO[bytes], shape: Shape) -> Iterator[RawRecord]:
    """One record per trace (`{"traceId", "spans", "logs"}`, raw entries), or an error record."""
    return group_traces(iter_records(f, shape, "record", loads=otlp_fast.loads), _OtlpLayout(),
                        max_open=MAX_OPEN_SPANS)
