"""OpenInference spans: samples written by openinference-instrumentation-openai and
openinference-instrumentation's OITracer (a weather agent against the loopback model server,
`otel_samples.py`), imported through the real pipeline; hand-made spans only for edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from otel_samples import MAX_TURNS, SYSTEM, WEATHER, question_for, weather_responder, write_openinference_trace

from trace2skill.ingest import import_paths
from trace2skill.ingest.otlp import span_of
from trace2skill.ingest.traces import OpenInferenceFormat
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store.trajectories import get_trajectory, trajectory_ids

CITIES = ["Oslo", "Atlantis", "Lima", "Tromsø"]
MODEL = "weather-model-2"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list]]:
    folder = tmp_path_factory.mktemp("openinference")
    out = {}
    for name, simple in (("batched", False), ("per_span", True)):
        path = folder / f"{name}.jsonl"
        with FakeLLMServer(weather_responder, model=MODEL) as server:
            out[name] = (path, write_openinference_trace(path, server.base_url, MODEL, CITIES, simple=simple))
    return out


def by_task(ws, path: Path, **options) -> dict:
    report = import_paths(ws, [path], **options)
    assert report.errors == [], [str(e) for e in report.errors]
    assert report.files[0].format == "openinference" and report.imported == len(CITIES)
    return {t.task: t for t in (get_trajectory(ws.db, tid) for tid in trajectory_ids(ws.db))}


def test_agent_runs_become_trajectories(ws, samples):
    path, answers = samples["batched"]
    runs = by_task(ws, path)
    oslo = runs[question_for("Oslo")]
    assert oslo.source_format == "openinference" and oslo.model == MODEL
    assert [(s.role, s.text) for s in oslo.steps] == [
        ("system", SYSTEM), ("user", question_for("Oslo")), ("assistant", ""), ("tool", ""), ("assistant", answers[0])]
    call, result = oslo.steps[2].tool_calls[0], oslo.steps[3].tool_results[0]
    assert (call.name, call.arguments) == ("get_weather", {"city": "Oslo"})
    assert (result.call_id, result.content, result.is_error) == (call.id, WEATHER["Oslo"], False)
    assert oslo.final_output == answers[0] and oslo.outcome == "unknown"
    assert oslo.metadata["agent"] == "weather-agent" and oslo.metadata["provider"] == "openai"
    assert oslo.metadata["input_tokens"] > 0 and len(oslo.metadata["trace_id"]) == 32

    tromso = runs[question_for("Tromsø")]
    assert tromso.steps[3].tool_results[0].content == WEATHER["Tromsø"]

    atlantis = runs[question_for("Atlantis")]
    assert atlantis.outcome == "failure" and "gave up after 3 model calls" in atlantis.outcome_detail
    assert [s.role for s in atlantis.steps] == ["system", "user"] + ["assistant", "tool"] * MAX_TURNS
    results = [s.tool_results[0] for s in atlantis.steps if s.role == "tool"]
    calls = [s.tool_calls[0] for s in atlantis.steps if s.role == "assistant"]
    assert [r.call_id for r in results] == [c.id for c in calls] and len({r.call_id for r in results}) == 3
    assert all(r.is_error and r.content == "Error: no weather station in Atlantis" for r in results)


def test_one_span_per_line_gives_the_same_trajectories(ws, samples, tmp_path):
    from trace2skill.store import Workspace

    reference = by_task(ws, samples["batched"][0])
    other = Workspace(tmp_path / "other.db")
    runs = by_task(other, samples["per_span"][0])
    for task, t in runs.items():
        assert [(s.role, s.text, [c.model_dump() for c in s.tool_calls], [r.model_dump() for r in s.tool_results])
                for s in t.steps] == [(s.role, s.text, [c.model_dump() for c in s.tool_calls],
                                       [r.model_dump() for r in s.tool_results]) for s in reference[task].steps]
    other.close()


def test_outcome_attribute_and_reimport(ws, samples):
    path, _ = samples["batched"]
    runs = by_task(ws, path, outcome_attribute="weather.answered")
    assert runs[question_for("Lima")].outcome == "success"
    assert runs[question_for("Atlantis")].outcome == "failure"
    again = import_paths(ws, [path], outcome_attribute="weather.answered")
    assert again.imported == 0 and again.duplicates == len(CITIES) and again.relabelled == 0


def test_flattened_messages_contents_and_tool_ids():
    """Multi-part contents, a tool span carrying `tool.id`, and a root CHAIN span's JSON input/output."""
    def attrs(**values):
        return [{"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": str(v)}}
                for k, v in values.items()]

    tid = "0af7651916cd43dd8448eb211c80319c"
    root = {"traceId": tid, "spanId": "00f067aa0ba902b7", "name": "chain", "startTimeUnixNano": "100",
            "endTimeUnixNano": "900", "attributes": attrs(**{
                "openinference.span.kind": "CHAIN", "input.value": json.dumps({"question": "Sum 2 and 3?"}),
                "input.mime_type": "application/json", "output.value": "5"})}
    llm = {"traceId": tid, "spanId": "00f067aa0ba902b8", "parentSpanId": "00f067aa0ba902b7", "name": "llm",
           "startTimeUnixNano": "200", "endTimeUnixNano": "300", "attributes": attrs(**{
               "openinference.span.kind": "LLM", "llm.model_name": "m",
               "llm.input_messages.0.message.role": "user",
               "llm.input_messages.0.message.contents.0.message_content.type": "text",
               "llm.input_messages.0.message.contents.0.message_content.text": "Sum 2 and 3?",
               "llm.output_messages.0.message.role": "assistant",
               "llm.output_messages.0.message.contents.0.message_content.type": "reasoning",
               "llm.output_messages.0.message.contents.0.message_content.text": "Use the adder.",
               "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c9",
               "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "add",
               "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"a": 2, "b": 3}'})}
    tool = {"traceId": tid, "spanId": "00f067aa0ba902b9", "parentSpanId": "00f067aa0ba902b7", "name": "add",
            "startTimeUnixNano": "400", "endTimeUnixNano": "500", "attributes": attrs(**{
                "openinference.span.kind": "TOOL", "tool.name": "add", "tool.id": "c9", "output.value": "5"})}
    [t] = OpenInferenceFormat().parse({"traceId": tid, "spans": [root, llm, tool]}, "x")
    assert t.task.prompt == "Sum 2 and 3?" and t.final_output == "5"
    assert [s.role for s in t.steps] == ["user", "assistant", "tool"]
    assert t.steps[1].reasoning == "Use the adder." and t.steps[1].tool_calls[0].arguments == {"a": 2, "b": 3}
    assert t.steps[2].tool_results[0].call_id == "c9" and t.steps[2].tool_results[0].content == "5"
    assert span_of(llm).attributes["llm.model_name"] == "m" and t.model == "m"
