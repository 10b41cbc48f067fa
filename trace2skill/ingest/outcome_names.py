"""Which named values in a trace file could say each trace's outcome: the choices offered for
`--outcome-attribute` (and the upload's "Outcome of each trace"), found by reading the file's first
traces the way an import reads them.

A name is offered when, in at least one of those traces, its value reads as success or failure: true/
false or a word such as "passed" for a span attribute or a metadata key; any number too for a score
(Langfuse) or a feedback key (LangSmith), which exist to grade a run. The attributes of the tracing
conventions themselves (`gen_ai.*`, `llm.*`, `otel.*`...) are never offered: a temperature of 1 or a
status "OK" says nothing about the task."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format
from trace2skill.ingest.detect import detect_for
from trace2skill.ingest.outcomes import label_of, listing_names
from trace2skill.ingest.reader import open_binary
from trace2skill.ingest.records import FileReport, file_records, parse_record
from trace2skill.ingest.registry import FORMATS
from trace2skill.ingest.span_tree import OUTCOME_NAMES
from trace2skill.ingest.traces import trace_format_names

SAMPLE = 200  # traces read
GRADES = ("score", "feedback key")  # made to grade a run: a number is an outcome too
CONVENTIONS = ("gen_ai.", "llm.", "openinference.", "otel.", "telemetry.", "service.", "process.", "host.", "os.",
               "http.", "server.", "url.", "input.", "output.", "tool.", "retrieval.", "embedding.", "session.")


@dataclass
class OutcomeName:
    name: str
    what: str  # "span attribute", "metadata key", "score", "feedback key"
    traces: int = 0  # traces read that have it
    labels: Counter[str] = field(default_factory=Counter)  # what it would make of them

    @property
    def usual(self) -> bool:
        """Read without being named (a tracing tool's score or key under a usual outcome name)."""
        return self.what != "span attribute" and self.name.lower() in OUTCOME_NAMES

    def describe(self, read: int) -> str:
        """ "weather.answered (span attribute; in 6 of 6 traces: 4 success, 2 failure)" """
        said = ", ".join(f"{self.labels[k]} {k}" for k in ("success", "failure", "unknown") if self.labels[k])
        usual = ", read when none is named" if self.usual else ""
        return f"{self.name} ({self.what}{usual}; in {self.traces} of {read} traces: {said})"


@dataclass
class TraceNames:
    format: str | None = None  # None: not a trace file
    read: int = 0  # traces read
    offered: list[OutcomeName] = field(default_factory=list)  # most traces first
    seen: set[str] = field(default_factory=set)  # every name any trace read has

    def missing(self, wanted: str | None) -> list[str]:
        """The warning when `wanted` (the outcome attribute named) is in none of the traces read."""
        if not wanted or not self.read or wanted in self.seen:
            return []
        return [f"outcome attribute {wanted!r}: in none of the first {self.read} traces (is it spelt as in the "
                "file?); their outcomes are read as if none were named"]

    def described(self) -> list[str]:
        return [o.describe(self.read) for o in self.offered]

    def as_list(self) -> list[dict[str, Any]]:
        return [{"name": o.name, "what": o.what, "traces": o.traces, "of": self.read, "outcomes": dict(o.labels),
                 "read_when_none_is_named": o.usual} for o in self.offered]


def outcome_names(source: str | Path | IO[bytes], fmt: Format | None = None, sample: int = SAMPLE) -> TraceNames:
    """The names a trace file's first `sample` traces offer as their outcome, the file read as an
    import with `fmt` would read it (nothing is written; a file that is not a trace file, or cannot be
    read, offers none)."""
    result = TraceNames()
    try:
        f = open_binary(source)
    except OSError:
        return result
    try:
        try:
            fmt, sniffed = detect_for(f, fmt, FORMATS)
        except TrajectoryFormatError:
            return result
        if fmt.name not in trace_format_names():
            return result
        result.format = fmt.name
        scratch = FileReport(file="sample")
        with listing_names() as collected:
            for raw in islice(file_records(f, fmt, sniffed.shape, fmt.unit_for(sniffed.sample, sniffed.shape)),
                              sample):
                before = len(collected)
                parse_record(fmt, raw, "sample", scratch)
                result.read += len(collected) > before
        _count(result, collected)
    finally:
        if isinstance(source, (str, Path)):
            f.close()
    return result


def _count(result: TraceNames, collected: list[tuple[str, dict[str, Any]]]) -> None:
    found: dict[str, OutcomeName] = {}
    for what, values in collected:
        result.seen.update(values)
        for name, value in values.items():
            label = _label(what, name, value)
            if label is None:
                continue
            entry = found.setdefault(name, OutcomeName(name, what))
            entry.traces += 1
            entry.labels[label] += 1
    result.offered = sorted(found.values(), key=lambda o: (-o.traces, o.name))


def _label(what: str, name: str, value: Any) -> str | None:
    if name.lower().startswith(CONVENTIONS):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and what not in GRADES:
        return None  # a count or a setting, not a grade
    if isinstance(value, (list, dict)):
        return None
    return label_of(value)
