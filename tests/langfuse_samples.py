"""Langfuse exports of the weather agent's runs, for the langfuse importer's tests.

Langfuse exports through its server's public API, which the tests cannot run, so the sample is made
in two halves, each with the real SDK (`langfuse`, 4.x):
  1. what an application sends: the weather agent (`otel_samples.run_agent`) runs with Langfuse's
     OpenAI integration (`langfuse.openai.OpenAI`: a GENERATION per model call), its runs and tool
     calls traced as AGENT and TOOL observations (`start_as_current_observation`), a cache lookup as
     an EVENT (`create_event`), trace attributes set with `propagate_attributes`; the SDK's OpenTelemetry spans are kept in memory (the client's
     `span_exporter`) instead of being sent;
  2. what the API gives back: each span becomes an observation as the server stores it (`langfuse.
     observation.*` attributes: type, input, output, model, usage, level, status message; the span's
     ids, parent and times), built with the SDK's API models and serialised by them (`.json()`, the
     API's camelCase JSON): `TraceWithFullDetails` (`GET /api/public/traces/{id}`: observations and
     scores inside) one a line, or `ObservationsV2Response` pages (`GET /api/public/v2/observations`)
     followed by each trace's scores. Scores (`correct`: BOOLEAN, `helpfulness`: NUMERIC) are made
     directly as API models, since the SDK sends them to the server, not as spans.

Langfuse's OpenAI integration patches the `openai` package when imported and installs a global
tracer provider, so this runs in a process of its own: `python tests/langfuse_samples.py OUT BASE_URL
MODEL LAYOUT CITY...` (`write_langfuse_export` starts it).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = "project-1"


def write_langfuse_export(path: Path, base_url: str, model: str, cities: Sequence[str], *,
                          layout: str = "trace") -> None:
    """Run the agent once per city and write the export (`layout`: "trace" or "observations") to `path`."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(path), base_url, model, layout,
                           *cities], capture_output=True, text=True, timeout=300, cwd=HERE.parent)
    if done.returncode != 0:
        raise RuntimeError(f"the Langfuse sample failed:\n{done.stdout}\n{done.stderr}")


# --------------------------------------------------------------------------- in the sample's process


def _runs(base_url: str, model: str, cities: Sequence[str]) -> list[Any]:
    """The agent's runs through the Langfuse SDK; its OpenTelemetry spans."""
    from langfuse import Langfuse, propagate_attributes
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from otel_samples import question_for, run_agent

    exporter = InMemorySpanExporter()
    langfuse = Langfuse(public_key="pk-lf-test", secret_key="sk-lf-test", base_url="http://127.0.0.1:9",
                        span_exporter=exporter)
    from langfuse.openai import OpenAI  # the SDK's drop-in client: a GENERATION per call

    client = OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)

    @contextlib.contextmanager
    def tool_span(name: str, call_id: str, arguments: dict[str, Any]) -> Iterator[Any]:
        with langfuse.start_as_current_observation(as_type="tool", name=name, input=arguments) as tool:
            def record(result: str, error: BaseException | None) -> None:
                failed = {"level": "ERROR", "status_message": str(error)} if error is not None else {}
                tool.update(output=result, **failed)

            yield record

    for city in cities:
        question = question_for(city)
        with propagate_attributes(session_id="conversation-1", user_id="user-7", tags=["weather"],
                                  trace_name="weather-agent"):
            try:
                with langfuse.start_as_current_observation(as_type="agent", name="weather-agent",
                                                           input={"question": question}) as agent:
                    langfuse.create_event(name="forecast cache", output=f"no cached forecast for {city}")
                    agent.update(output=run_agent(client, model, question, tool_span))
            except RuntimeError:
                pass  # the agent gave up: its observation ends with an error
    langfuse.flush()
    return list(exporter.get_finished_spans())


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _time(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, UTC)


def _usage(raw: Any) -> dict[str, int]:
    """The OpenAI usage the SDK recorded, in Langfuse's usage keys."""
    usage = _json(raw) if raw else {}
    names = {"prompt_tokens": "input", "completion_tokens": "output", "total_tokens": "total"}
    return {names.get(k, k): v for k, v in usage.items() if isinstance(v, int)}


def _observation(span: Any) -> dict[str, Any]:
    """A span as the server keeps the observation (the fields both API models share)."""
    a = span.attributes
    failed = span.status.status_code.name == "ERROR"
    return {"id": format(span.context.span_id, "016x"), "trace_id": format(span.context.trace_id, "032x"),
            "type": str(a.get("langfuse.observation.type", "span")).upper(), "name": span.name,
            "start_time": _time(span.start_time), "end_time": _time(span.end_time),
            "parent_observation_id": format(span.parent.span_id, "016x") if span.parent else None,
            "input": _json(a.get("langfuse.observation.input")), "output": _json(a.get("langfuse.observation.output")),
            "model": a.get("langfuse.observation.model.name"),
            "model_parameters": _json(a.get("langfuse.observation.model.parameters")),
            "usage_details": _usage(a.get("langfuse.observation.usage_details")),
            "level": a.get("langfuse.observation.level") or ("ERROR" if failed else "DEFAULT"),
            "status_message": a.get("langfuse.observation.status_message") or span.status.description,
            "environment": "default", "metadata": {}}


def _scores(trace_id: str, answered: bool, when: datetime) -> list[Any]:
    from langfuse.api import ScoreV1_Boolean, ScoreV1_Numeric

    common = {"trace_id": trace_id, "source": "ANNOTATION", "timestamp": when, "created_at": when,
              "updated_at": when, "environment": "default"}
    return [ScoreV1_Boolean(id=f"{trace_id[:8]}-correct", name="correct", value=1.0 if answered else 0.0,
                            string_value=str(answered), **common),
            ScoreV1_Numeric(id=f"{trace_id[:8]}-helpful", name="helpfulness", value=0.9 if answered else 0.2,
                            **common)]


def _traces(spans: list[Any]) -> dict[str, list[Any]]:
    by_trace: dict[str, list[Any]] = {}
    for span in sorted(spans, key=lambda s: s.start_time):
        by_trace.setdefault(format(span.context.trace_id, "032x"), []).append(span)
    return by_trace


def _trace_lines(spans: list[Any]) -> list[str]:
    from langfuse.api import ObservationsView, TraceWithFullDetails, Usage

    lines = []
    for trace_id, members in _traces(spans).items():
        root = next(s for s in members if s.parent is None)
        a = root.attributes
        observations = []
        for span in members:
            fields = _observation(span)
            usage = fields["usage_details"]
            observations.append(ObservationsView(**fields, usage=Usage(input=usage.get("input", 0),
                                                                       output=usage.get("output", 0),
                                                                       total=usage.get("total", 0), unit="TOKENS"),
                                                 cost_details={}, latency=(span.end_time - span.start_time) / 1e9))
        answer = _json(root.attributes.get("langfuse.observation.output"))
        when = _time(root.start_time)
        trace = TraceWithFullDetails(
            id=trace_id, timestamp=when, name=a.get("langfuse.trace.name"),
            input=_json(a.get("langfuse.observation.input")), output=answer, session_id=a.get("session.id"),
            user_id=a.get("user.id"), tags=list(a.get("langfuse.trace.tags", ())), metadata={}, public=False,
            environment="default", html_path=f"/project/{PROJECT}/traces/{trace_id}",
            latency=(root.end_time - root.start_time) / 1e9, total_cost=0.0, observations=observations,
            scores=_scores(trace_id, answer is not None, when))
        lines.append(trace.json())
    return lines


def _observation_lines(spans: list[Any]) -> list[str]:
    from langfuse.api import ObservationsV2Response, ObservationV2
    from langfuse.api.observations import ObservationsV2Meta

    lines = []
    for trace_id, members in _traces(spans).items():
        page = []
        for span in members:
            fields = _observation(span)
            a = span.attributes
            page.append(ObservationV2(**fields, project_id=PROJECT, is_root_observation=span.parent is None,
                                      session_id=a.get("session.id"), user_id=a.get("user.id"),
                                      trace_name=a.get("langfuse.trace.name"), tags=list(a.get("langfuse.trace.tags", ()))))
        lines.append(ObservationsV2Response(data=page, meta=ObservationsV2Meta(cursor=None)).json())
        root = next(s for s in members if s.parent is None)
        answered = root.attributes.get("langfuse.observation.output") is not None
        lines += [score.json() for score in _scores(trace_id, answered, _time(root.start_time))]
    return lines


def main(argv: list[str]) -> None:
    out, base_url, model, layout, *cities = argv
    spans = _runs(base_url, model, cities)
    lines = _trace_lines(spans) if layout == "trace" else _observation_lines(spans)
    Path(out).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main(sys.argv[1:])
