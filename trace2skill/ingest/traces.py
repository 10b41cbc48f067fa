"""OpenTelemetry trace importers: files of spans (OTLP JSON, console output), one trajectory per trace.

Two formats share the reading (`otlp_reader`: spans grouped by trace, streamed) and the step
building (`span_steps`); they differ in the conventions they look for first: `otel_genai` reads the
GenAI semantic conventions (`otel_genai.py`), `openinference` Arize's (`openinference.py`). A trace
whose spans follow only the other convention is read with that one (the trajectory's
`source_format` says which), so a file mixing both imports whole.

Outcome: the attribute the user names (`--outcome-attribute NAME`: on the root span, any span or
the resource; success/failure words, booleans, 1/0 or a reward), else failure when a top-level span
ended with status ERROR, else unknown. `--outcome-attribute` goes with the tracing tools' exports too
(`trace_format`: OpenAI Agents SDK, Langfuse, LangSmith; `span_tree.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, ClassVar

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.ingest import openinference, otel_genai
from trace2skill.ingest.base import Format, Shape, Unit, expect_type, require
from trace2skill.ingest.langfuse import LangfuseFormat
from trace2skill.ingest.langsmith import LangSmithFormat
from trace2skill.ingest.openai_agents import OpenAIAgentsFormat
from trace2skill.ingest.otlp import Event, Span, is_bare_span, is_console_span, log_of, span_of
from trace2skill.ingest.otlp_reader import entries_of, is_export, iter_trace_records
from trace2skill.ingest.outcomes import named_choice
from trace2skill.ingest.reader import RawRecord
from trace2skill.ingest.span_steps import StepBuilder, first_user_text, last_assistant_text, outcome_of, roots
from trace2skill.ingest.span_tree import TreeFormat
from trace2skill.models import Task, Trajectory

SNIFF_SPANS = 500


def _sample_spans(sample: Any) -> list[dict[str, Any]]:
    if not (is_export(sample) or is_console_span(sample) or is_bare_span(sample) or isinstance(sample, list)):
        return []
    try:
        spans, _ = entries_of(sample)
    except TrajectoryFormatError:
        return []
    return spans


def _has_attribute(span: dict[str, Any], key: str) -> bool:
    raw = span.get("attributes")
    if isinstance(raw, dict):
        return key in raw
    return isinstance(raw, list) and any(isinstance(a, dict) and a.get("key") == key for a in raw)


def _spans_with_logs(record: dict[str, Any]) -> list[Span]:
    resources: dict[int, dict[str, Any]] = {}
    trace_id = str(record.get("traceId"))
    spans = [span_of(raw, resources, trace_id) for raw in expect_type(record.get("spans", []), list, "spans")]
    by_id = {s.span_id: s for s in spans}
    orphans: dict[str, list[Event]] = {}
    for raw in expect_type(record.get("logs") or [], list, "logs"):
        log = log_of(raw)
        if not log.name.startswith("gen_ai."):
            continue
        span = by_id.get(log.span_id)
        if span is not None:
            span.events.append(log)
        else:
            orphans.setdefault(log.span_id, []).append(log)
    for span_id, logs in orphans.items():  # a logs-only file: each call's records stand for its span
        details = next((e for e in logs if e.name == otel_genai.DETAILS), None)
        attributes = dict(details.attributes) if details else {"gen_ai.operation.name": "chat"}
        when = min(e.time for e in logs)
        spans.append(Span(trace_id=str(record.get("traceId")), span_id=span_id, parent_id="",
                          name=logs[0].name, kind="INTERNAL", start=when, end=max(e.time for e in logs),
                          attributes=attributes, events=logs))
    spans.sort(key=lambda s: (s.start, -s.end))
    return spans


class TraceFormat(Format):
    """Spans following the GenAI semantic conventions (detected on any OpenTelemetry file)."""

    name: ClassVar[str] = "otel_genai"
    unit: ClassVar[Unit] = "record"
    one_task: ClassVar[bool] = True  # a trace is one request; earlier turns in its messages are history

    def __init__(self, outcome_attribute: str | None = None, *, detect: bool = False) -> None:
        self.outcome_attribute = outcome_attribute
        self.detect = detect  # stands for every trace format: which one is detected per file

    def among(self) -> list[Format] | None:
        if not self.detect:
            return None
        return [cls(self.outcome_attribute) for cls in _trace_formats()]

    def sniff(self, sample: Any, shape: Shape) -> bool:
        return bool(_sample_spans(sample)) or is_export(sample)

    def records(self, f: IO[bytes], shape: Shape, unit: Unit) -> Iterator[RawRecord]:
        return iter_trace_records(f, shape)

    def _order(self) -> tuple[str, str]:
        return "otel_genai", "openinference"

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        expect_type(record, dict, "a trace")
        require(isinstance(record.get("traceId"), str) and bool(record.get("traceId")), "a trace has no trace id")
        spans = _spans_with_logs(record)
        follows = {"otel_genai": otel_genai.is_genai, "openinference": openinference.is_openinference}
        convention, chosen = None, []
        for name in self._order():  # the first convention any span follows
            chosen = [s for s in spans if follows[name](s)]
            if chosen:
                convention = name
                break
        if convention is None:
            raise TrajectoryFormatError("no span of this trace follows the GenAI (gen_ai.*) or OpenInference "
                                        "(openinference.span.kind) conventions: nothing an agent did")
        module: Any = otel_genai if convention == "otel_genai" else openinference
        steps = StepBuilder().add(module.trace_moments(chosen))
        require(bool(steps), "this trace's model calls hold no messages and it has no tool runs (was message "
                             "content capture on when it was traced?)")
        facts = module.facts(spans)
        tops = roots(spans)
        prompt = final = None
        if convention == "openinference" and tops:
            prompt, final = openinference.root_text(tops[0], "input"), openinference.root_text(tops[0], "output")
        service = next((s.resource.get("service.name") for s in spans if s.resource.get("service.name")), None)
        metadata: dict[str, Any] = {"trace_id": record["traceId"]}
        if isinstance(service, str) and not service.startswith("unknown_service"):
            metadata["service"] = service
        metadata.update({k: v for k, v in facts.items() if k != "model"})
        return [Trajectory(source_format=convention, source_name=source_name,
                           task=Task(prompt=prompt or first_user_text(steps)),
                           outcome=outcome_of(spans, self.outcome_attribute), steps=steps, model=facts.get("model"),
                           final_output=final or last_assistant_text(steps), metadata=metadata)]


def _trace_formats() -> list[type[TraceFormat] | type[TreeFormat]]:
    """Every trace format, in detection order."""
    return [OpenInferenceFormat, TraceFormat, OpenAIAgentsFormat, LangfuseFormat, LangSmithFormat]


def trace_format_names() -> list[str]:
    """The formats an outcome attribute goes with."""
    return [cls.name for cls in _trace_formats()]


def trace_format(name: str | None, outcome_attribute: str) -> Format:
    """The trace format an outcome attribute goes with (`--outcome-attribute NAME`: a span attribute, a
    trace's metadata key, a Langfuse score, a LangSmith feedback key): the one named, or any trace
    format, detected per file."""
    known = {cls.name: cls for cls in _trace_formats()}
    if name is not None and name not in known:
        raise MappingError(f"--outcome-attribute reads traces (formats {', '.join(known)}), not --format {name}")
    if not named_choice(outcome_attribute)[0]:
        raise MappingError("--outcome-attribute needs a name: a span attribute, a metadata key, a score or a "
                           "feedback key")
    if name is None:
        return TraceFormat(outcome_attribute.strip(), detect=True)
    return known[name](outcome_attribute.strip())


class OpenInferenceFormat(TraceFormat):
    """Spans following the OpenInference conventions (`openinference.span.kind`)."""

    name: ClassVar[str] = "openinference"

    def sniff(self, sample: Any, shape: Shape) -> bool:
        return any(_has_attribute(s, openinference.KIND) for s in _sample_spans(sample)[:SNIFF_SPANS])

    def _order(self) -> tuple[str, str]:
        return "openinference", "otel_genai"

