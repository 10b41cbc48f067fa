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
from trace2skill.ingest.outcomes import label_of, listing_names, named_choice, reward_of
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
    low: float | None = None  # its numbers, when it holds numbers
    high: float | None = None
    graded: bool = False  # a number other than 0 and 1: where success starts is the user's to say

    def add(self, value: Any, label: str) -> None:
        self.traces += 1
        self.labels[label] += 1
        number = reward_of(value)
        if number is None:
            return
        self.low = number if self.low is None else min(self.low, number)
        self.high = number if self.high is None else max(self.high, number)
        self.graded = self.graded or number not in (0.0, 1.0)

    @property
    def suggested_threshold(self) -> float:
        """Where success could start, for a graded name: 0.5 on a 0-1 scale, else halfway."""
        low, high = self.low or 0.0, self.high or 0.0
        if low >= 0 and high <= 1:
            return 0.5
        return round((low + high) / 2, 2)

    @property
    def usual(self) -> bool:
        """Read without being named (a tracing tool's score or key under a usual outcome name)."""
        return self.what != "span attribute" and self.name.lower() in OUTCOME_NAMES

    def describe(self, read: int) -> str:
        """ "weather.answered (span attribute; in 6 of 6 traces: 4 success, 2 failure)"; a graded one:
        "helpfulness (score; in 3 of 3 traces: 0.2 to 0.9; you say where success starts)" """
        said = ", ".join(f"{self.labels[k]} {k}" for k in ("success", "failure", "unknown") if self.labels[k])
        if self.graded:
            said = f"{self.low:g} to {self.high:g}; you say where success starts"
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
        name = named_choice(wanted)[0] if wanted else ""
        if not name or not self.read or name in self.seen:
            return []
        return [f"outcome attribute {name!r}: in none of the first {self.read} traces (is it spelt as in the "
                "file?); their outcomes are read as if none were named"]

    def described(self) -> list[str]:
        return [o.describe(self.read) for o in self.offered]

    def as_list(self) -> list[dict[str, Any]]:
        return [{"name": o.name, "what": o.what, "traces": o.traces, "of": self.read, "outcomes": dict(o.labels),
                 "read_when_none_is_named": o.usual, "numbers": [o.low, o.high] if o.graded else None}
                for o in self.offered]

    def graded(self, name: str) -> OutcomeName | None:
        """The offered name `name` when it holds numbers other than 0 and 1 (a grade that needs a
        threshold: `NAME>=X`)."""
        return next((o for o in self.offered if o.name == name and o.graded), None)


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
            found.setdefault(name, OutcomeName(name, what)).add(value, label)
    result.offered = sorted(found.values(), key=lambda o: (-o.traces, o.name))


def _label(what: str, name: str, value: Any) -> str | None:
    if name.lower().startswith(CONVENTIONS):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and what not in GRADES:
        return None  # a count or a setting, not a grade
    if isinstance(value, (list, dict)):
        return None
    return label_of(value)
