"""Files of trace entries as a stream of traces, one record per trace, whatever wrote them.

Tracing tools write a run as many entries (OpenTelemetry spans and log records, OpenAI Agents SDK
spans, Langfuse observations and scores, LangSmith runs and feedback), often one per line, the
entries of several runs interleaved. A *layout* says which entries a line holds, which trace each
belongs to and which is a trace's root; this module groups them by trace id, wherever they are in
the file. A trace is handed on when its root has arrived and `grace` further lines brought nothing
more for it, or at the end of the file. Exporters write a trace's root when it ends, last, so a trace
is complete by then; memory holds only the traces still open, whatever the file's size. A trace that
never shows a root waits until the end of the file, or until more than `max_open` entries wait, when
the traces open longest go first.

Nothing is half-imported: a line the layout cannot read is an error record and none of its entries
are used; the traces it names are then errors too ("part of this trace is on line N, which could
not be read"). Entries that come after their trace was handed on are an error record; they never
start a second trajectory. A line that is not JSON at all cannot name its traces: those import
without it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.reader import RawRecord

GRACE_ITEMS = 8
MAX_OPEN_ENTRIES = 20_000  # about 200 MB of parsed entries at most
DONE_MEMORY = 200_000  # trace ids remembered after they were handed on (to report late entries)


@dataclass(slots=True)
class Entry:
    """One entry of a line: its trace (empty: outside any trace, left out), the list of the trace
    record it goes to (`kind`), whether it is the trace's root. With `many`, `data` is a list of
    entries that come one after another in the line (a layout may hand a run of one trace's entries
    at once; `root`: one of them is the root)."""

    trace_id: str
    kind: str
    data: Any
    root: bool = False
    many: bool = False


class Layout(Protocol):
    kinds: tuple[str, ...]  # the lists of a trace record, besides "traceId"
    noun: str  # what the entries are called in messages ("spans")
    root: str  # what a trace's root is called ("root span")

    def entries(self, item: Any) -> list[Entry]:
        """The entries of one line; TrajectoryFormatError when the line is not of this layout."""
        ...

    def trace_ids(self, item: Any) -> set[str]:
        """The trace ids a line that could not be read names, as far as they can be found."""
        ...


@dataclass
class _Open:
    first_line: int | None
    entries: dict[str, list[Any]]
    root_seen: bool = False
    last_item: int = 0
    bad_line: int | None = None  # a line naming this trace could not be read


class _Grouper:
    def __init__(self, layout: Layout, grace: int, max_open: int) -> None:
        self.layout = layout
        self.grace = grace
        self.max_open = max_open
        self.open: dict[str, _Open] = {}
        self.ready_queue: deque[str] = deque()
        self.done: OrderedDict[str, int | None] = OrderedDict()
        self.open_entries = 0
        self.index = 0

    def record(self, *, data: Any = None, line: int | None = None, error: str | None = None) -> RawRecord:
        raw = RawRecord(self.index, data=data, line=line, error=error)
        self.index += 1
        return raw

    def _new(self, line: int | None) -> _Open:
        return _Open(first_line=line, entries={kind: [] for kind in self.layout.kinds})

    def add(self, item: Any, item_no: int, line: int | None) -> Iterator[RawRecord]:
        try:
            entries = self.layout.entries(item)
        except TrajectoryFormatError as exc:
            self._taint(item, line)
            yield self.record(line=line, error=exc.problem)
            return
        late: set[str] = set()
        for entry in entries:
            if not entry.trace_id:
                continue  # outside any trace: nothing an agent did
            if entry.trace_id in self.done:
                late.add(entry.trace_id)
                continue
            trace = self.open.get(entry.trace_id)
            if trace is None:
                trace = self.open[entry.trace_id] = self._new(line)
            trace.last_item = item_no
            if entry.many:
                trace.entries[entry.kind].extend(entry.data)
                self.open_entries += len(entry.data)
            else:
                trace.entries[entry.kind].append(entry.data)
                self.open_entries += 1
            if entry.root and not trace.root_seen:
                trace.root_seen = True
                self.ready_queue.append(entry.trace_id)
        if late:
            yield self.record(line=line, error=(
                f"{self.layout.noun} of {len(late)} trace(s) already read came {self.grace}+ lines after their "
                f"{self.layout.root} and were left out (keep each trace's lines close together in the file)"))

    def _taint(self, item: Any, line: int | None) -> None:
        """Mark the traces a bad line names, as far as they can be read, so they are not half-imported."""
        for trace_id in self.layout.trace_ids(item):
            if trace_id in self.done:
                continue
            trace = self.open.setdefault(trace_id, self._new(line))
            trace.bad_line = trace.bad_line or line or 0

    def ready(self, item_no: int) -> Iterator[RawRecord]:
        while self.ready_queue:
            trace = self.open.get(self.ready_queue[0])
            if trace is not None and item_no - trace.last_item < self.grace:
                break
            trace_id = self.ready_queue.popleft()
            if trace is not None:
                yield self._emit(trace_id)
        while self.open_entries > self.max_open and self.open:
            yield self._emit(next(iter(self.open)))

    def flush(self) -> Iterator[RawRecord]:
        while self.open:
            yield self._emit(next(iter(self.open)))

    def _emit(self, trace_id: str) -> RawRecord:
        trace = self.open.pop(trace_id)
        self.open_entries -= sum(len(v) for v in trace.entries.values())
        self.done[trace_id] = trace.first_line
        if len(self.done) > DONE_MEMORY:
            self.done.popitem(last=False)
        if trace.bad_line is not None:
            where = f"line {trace.bad_line}" if trace.bad_line else "an entry"
            return self.record(line=trace.first_line, error=(
                f"part of this trace is on {where}, which could not be read; the trace is left out"))
        return self.record(line=trace.first_line, data={"traceId": trace_id, **trace.entries})


def group_traces(items: Iterable[RawRecord], layout: Layout, *, grace: int = GRACE_ITEMS,
                 max_open: int = MAX_OPEN_ENTRIES) -> Iterator[RawRecord]:
    """One record per trace (`{"traceId", <kind>: [entries], ...}`), or an error record, from the
    file's items (lines, array items or the object, as `reader.iter_records` yields them)."""
    grouper = _Grouper(layout, grace, max_open)
    for item_no, raw in enumerate(items):
        if raw.error:
            yield grouper.record(line=raw.line, error=raw.error)
            continue
        yield from grouper.add(raw.data, item_no, raw.line)
        yield from grouper.ready(item_no)
    yield from grouper.flush()


def ids_anywhere(item: Any, id_of: Any, depth: int = 0) -> set[str]:
    """Trace ids found anywhere in a (possibly malformed) line: `id_of(dict)` says a dict's own, or ""."""
    found: set[str] = set()
    if depth > 12:
        return found
    if isinstance(item, dict):
        try:
            trace_id = id_of(item)
        except TrajectoryFormatError:
            trace_id = ""
        if trace_id:
            found.add(trace_id)
        for value in item.values():
            if isinstance(value, (dict, list)):
                found |= ids_anywhere(value, id_of, depth + 1)
    elif isinstance(item, list):
        for value in item:
            found |= ids_anywhere(value, id_of, depth + 1)
    return found
