"""Reading a file of OpenTelemetry exports as a stream of traces, one record per trace.

Each JSONL line (array item, or the whole object) is an OTLP export (`resourceSpans` and/or
`resourceLogs`), a bare OTLP span, a console span, or a list of those. Spans and log records are
grouped by trace id, wherever they are in the file. A trace is handed on when its root span (one
without a parent) has arrived and `GRACE_ITEMS` further lines brought nothing more for it, or at the
end of the file. Exporters write a trace's root span last (it ends last), so a trace is complete by
then; memory holds only the traces still open, whatever the file's size. A trace that never shows a
root (its parent lives in another service) waits until the end of the file, or until more than
`MAX_OPEN_SPANS` spans wait, when the traces open longest go first.

Nothing is half-imported: a line that is not an export is an error record and none of its spans
are used; the traces it names are then errors too ("part of this trace is on line N, which could
not be read"). Spans that come after their trace was handed on are an error record; they never
start a second trajectory. A line that is not JSON at all cannot name its traces: those import
without its spans.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Shape
from trace2skill.ingest.otlp import is_bare_span, is_console_span, norm_id, pick, trace_id_of
from trace2skill.ingest.reader import RawRecord, iter_records

GRACE_ITEMS = 8
MAX_OPEN_SPANS = 20_000  # about 200 MB of parsed spans at most
DONE_MEMORY = 200_000  # trace ids remembered after they were handed on (to report late spans)
_SCOPES = (("scopeSpans", "scope_spans"), ("instrumentationLibrarySpans", "instrumentation_library_spans"))
_LOG_SCOPES = (("scopeLogs", "scope_logs"), ("instrumentationLibraryLogs", "instrumentation_library_logs"))


def is_export(item: Any) -> bool:
    return isinstance(item, dict) and any(
        pick(item, camel, snake) is not None
        for camel, snake in (("resourceSpans", "resource_spans"), ("resourceLogs", "resource_logs")))


@dataclass
class _Open:
    first_line: int | None
    spans: list[Any] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    root_seen: bool = False
    last_item: int = 0
    bad_line: int | None = None  # a line naming this trace could not be read


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


class _Grouper:
    def __init__(self) -> None:
        self.open: dict[str, _Open] = {}
        self.ready_queue: deque[str] = deque()
        self.done: OrderedDict[str, int | None] = OrderedDict()
        self.open_spans = 0
        self.index = 0

    def record(self, *, data: Any = None, line: int | None = None, error: str | None = None) -> RawRecord:
        raw = RawRecord(self.index, data=data, line=line, error=error)
        self.index += 1
        return raw

    def add(self, item: Any, item_no: int, line: int | None) -> Iterator[RawRecord]:
        try:
            spans, logs = entries_of(item)
            keyed_spans = [(self._trace_id(s, required=True), s) for s in spans]
            keyed_logs = [(self._trace_id(r, required=False), r) for r in logs]
        except TrajectoryFormatError as exc:
            self._taint(item, line)
            yield self.record(line=line, error=exc.problem)
            return
        late: set[str] = set()
        for (trace_id, entry), is_span in [*((k, True) for k in keyed_spans), *((k, False) for k in keyed_logs)]:
            if not trace_id:
                continue  # a log record outside any trace: nothing an agent did
            if trace_id in self.done:
                late.add(trace_id)
                continue
            trace = self.open.get(trace_id)
            if trace is None:
                trace = self.open[trace_id] = _Open(first_line=line)
            trace.last_item = item_no
            if is_span:
                trace.spans.append(entry)
                self.open_spans += 1
                if not trace.root_seen and not pick(entry, "parentSpanId", "parent_span_id") and (
                        not entry.get("parent_id")):
                    trace.root_seen = True
                    self.ready_queue.append(trace_id)
            else:
                trace.logs.append(entry)
        if late:
            yield self.record(line=line, error=(
                f"spans of {len(late)} trace(s) already read came {GRACE_ITEMS}+ lines after their root span "
                "and were left out (keep each trace's spans and logs close together in the file)"))

    def _trace_id(self, entry: dict[str, Any], *, required: bool) -> str:
        trace_id = norm_id(trace_id_of(entry), 16)
        if required and not trace_id:
            raise TrajectoryFormatError("a span has no trace id")
        return trace_id

    def _taint(self, item: Any, line: int | None) -> None:
        """Mark the traces a bad line names, as far as they can be read, so they are not half-imported."""
        for trace_id in _trace_ids_anywhere(item):
            if trace_id in self.done:
                continue
            trace = self.open.setdefault(trace_id, _Open(first_line=line))
            trace.bad_line = trace.bad_line or line or 0

    def ready(self, item_no: int) -> Iterator[RawRecord]:
        while self.ready_queue:
            trace = self.open.get(self.ready_queue[0])
            if trace is not None and item_no - trace.last_item < GRACE_ITEMS:
                break
            trace_id = self.ready_queue.popleft()
            if trace is not None:
                yield self._emit(trace_id)
        while self.open_spans > MAX_OPEN_SPANS and self.open:
            yield self._emit(next(iter(self.open)))

    def flush(self) -> Iterator[RawRecord]:
        while self.open:
            yield self._emit(next(iter(self.open)))

    def _emit(self, trace_id: str) -> RawRecord:
        trace = self.open.pop(trace_id)
        self.open_spans -= len(trace.spans)
        self.done[trace_id] = trace.first_line
        if len(self.done) > DONE_MEMORY:
            self.done.popitem(last=False)
        if trace.bad_line is not None:
            where = f"line {trace.bad_line}" if trace.bad_line else "an entry"
            return self.record(line=trace.first_line, error=(
                f"part of this trace is on {where}, which could not be read; the trace is left out"))
        return self.record(line=trace.first_line, data={"traceId": trace_id, "spans": trace.spans, "logs": trace.logs})


def _trace_ids_anywhere(item: Any, depth: int = 0) -> set[str]:
    """Trace ids found anywhere in a (possibly malformed) export, for `_Grouper._taint`."""
    found: set[str] = set()
    if depth > 12:
        return found
    if isinstance(item, dict):
        try:
            raw = trace_id_of(item)
            trace_id = norm_id(raw, 16) if isinstance(raw, str) else ""
        except TrajectoryFormatError:
            trace_id = ""
        if trace_id:
            found.add(trace_id)
        for value in item.values():
            if isinstance(value, (dict, list)):
                found |= _trace_ids_anywhere(value, depth + 1)
    elif isinstance(item, list):
        for value in item:
            found |= _trace_ids_anywhere(value, depth + 1)
    return found


def iter_trace_records(f: IO[bytes], shape: Shape) -> Iterator[RawRecord]:
    """One record per trace (`{"traceId", "spans", "logs"}`, raw entries), or an error record."""
    grouper = _Grouper()
    for item_no, raw in enumerate(iter_records(f, shape, "record")):
        if raw.error:
            yield grouper.record(line=raw.line, error=raw.error)
            continue
        yield from grouper.add(raw.data, item_no, raw.line)
        yield from grouper.ready(item_no)
    yield from grouper.flush()
