"""Trace files' edge cases, hand-made: traces spread over lines, late and broken lines, layouts and
conventions the sample libraries no longer write (per-message log events, OpenLLMetry attributes)."""

from __future__ import annotations

import io
import json

import pytest

from trace2skill.ingest import import_stream, otlp_reader
from trace2skill.ingest.traces import TraceFormat
from trace2skill.store.trajectories import get_trajectory

A, B, C = "a" * 32, "b" * 32, "c" * 32


def value(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    return {"stringValue": v}


def span(trace, span_id, name="execute_tool lookup", parent="", start=1, status=None, **attributes):
    attributes = attributes or {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
                                "gen_ai.tool.call.id": f"call-{span_id}", "gen_ai.tool.call.result": "found"}
    return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": name, "kind": 1,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1), "status": status or {},
            "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()]}


def export(*spans):
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": list(spans)}]}]})


def run(ws, lines, fmt=None):
    report = import_stream(ws, io.BytesIO(("\n".join(lines) + "\n").encode()), "t.jsonl", fmt=fmt)
    stored = {get_trajectory(ws.db, t).metadata["trace_id"]: get_trajectory(ws.db, t) for t in report.trajectory_ids}
    return report, stored


def test_a_trace_over_several_lines_is_one_trajectory(ws):
    lines = [export(span(A, "1" * 16, parent="f" * 16, start=1)), export(span(B, "2" * 16)),
             export(span(A, "3" * 16, parent="f" * 16, start=5)), export(span(A, "f" * 16, "invoke_agent x", start=0,
                                                                              **{"gen_ai.operation.name": "invoke_agent"}))]
    report, stored = run(ws, lines)
    assert report.errors == [] and report.imported == 2 and report.records == 2
    assert [s.role for s in stored[A].steps] == ["assistant", "tool", "assistant", "tool"]
    assert [s.tool_calls[0].id for s in stored[A].steps if s.tool_calls] == ["call-" + "1" * 16, "call-" + "3" * 16]


def test_spans_long_after_their_trace_are_an_error_not_a_second_trajectory(ws):
    lines = [export(span(A, "1" * 16))] + [export(span(f"{i:032x}", "2" * 16)) for i in range(1, 12)]
    lines.append(export(span(A, "3" * 16, parent="1" * 16)))
    report, stored = run(ws, lines)
    assert report.imported == 12 and len(stored[A].steps) == 2
    [error] = report.errors
    assert error.line == 13 and "came 8+ lines after their root span and were left out" in error.problem


def test_a_broken_line_fails_the_traces_it_names_and_nothing_else(ws):
    lines = [export(span(A, "1" * 16, parent="9" * 16), span(B, "2" * 16)),
             json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span(A, "3" * 16), "junk"]}]}]}),
             "{not json", json.dumps({"hello": 1}), export(span(C, "4" * 16))]
    report, stored = run(ws, lines)
    assert set(stored) == {B, C}
    problems = {(e.line, e.problem) for e in report.errors}
    assert (2, "an entry of spans should be an object") in problems
    assert (1, "part of this trace is on line 2, which could not be read; the trace is left out") in problems
    assert any(line == 3 and "invalid JSON" in p for line, p in problems)
    assert any(line == 4 and p.startswith("not an OpenTelemetry export") for line, p in problems)
    assert all(str(e).startswith("t.jsonl: ") for e in report.errors)


def test_traces_without_agent_spans_and_broken_spans_are_errors(ws):
    http = span(A, "1" * 16, "GET /health", **{"http.method": "GET"})
    bad_time = span(B, "2" * 16)
    bad_time["startTimeUnixNano"] = "yesterday"
    report, stored = run(ws, [export(http), export(bad_time), export(span(C, "3" * 16))])
    assert report.format == "otel_genai" and set(stored) == {C}
    problems = sorted(e.problem for e in report.errors)
    assert problems[0].startswith("no span of this trace follows the GenAI")
    assert problems[1] == "span 'execute_tool lookup' has a time that is not a time: 'yesterday'"


def test_rootless_traces_wait_no_longer_than_the_memory_cap(ws, monkeypatch):
    monkeypatch.setattr(otlp_reader, "MAX_OPEN_SPANS", 3)
    lines = [export(span(f"{i:032x}", f"{i:016x}", parent="e" * 16)) for i in range(1, 11)]
    report, stored = run(ws, lines)
    assert report.errors == [] and report.imported == 10


def test_array_and_single_object_files(ws):
    payload = json.dumps([json.loads(export(span(A, "1" * 16))), json.loads(export(span(B, "2" * 16)))])
    report = import_stream(ws, io.BytesIO(payload.encode()), "t.json")
    assert report.format == "otel_genai" and report.imported == 2 and report.errors == []
    one = import_stream(ws, io.BytesIO(export(span(C, "3" * 16)).encode()), "one.json")
    assert one.imported == 1


def test_per_message_log_events_of_older_conventions(ws):
    """opentelemetry-instrumentation-openai-v2 before util-genai: content as log records
    gen_ai.{system,user,tool}.message and gen_ai.choice, joined to the chat span by span id."""
    chat = span(A, "1" * 16, "chat gpt-4o", **{"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                                               "gen_ai.request.model": "gpt-4o"})

    def log(name, body, t):
        return {"timeUnixNano": str(t), "traceId": A, "spanId": "1" * 16, "eventName": name,
                "attributes": [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}],
                "body": {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in body.items()]}}}

    call = {"kvlistValue": {"values": [
        {"key": "id", "value": {"stringValue": "c1"}}, {"key": "type", "value": {"stringValue": "function"}},
        {"key": "function", "value": {"kvlistValue": {"values": [
            {"key": "name", "value": {"stringValue": "lookup"}},
            {"key": "arguments", "value": {"stringValue": "{\"q\": \"x\"}"}}]}}}]}}
    logs = [log("gen_ai.system.message", {"content": {"stringValue": "Be brief."}}, 1),
            log("gen_ai.user.message", {"content": {"stringValue": "Find x"}}, 2),
            log("gen_ai.choice", {"index": {"intValue": "0"}, "finish_reason": {"stringValue": "tool_calls"},
                                  "message": {"kvlistValue": {"values": [
                                      {"key": "tool_calls", "value": {"arrayValue": {"values": [call]}}}]}}}, 3)]
    lines = [export(chat), json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": logs}]}]})]
    report, stored = run(ws, lines)
    assert report.errors == []
    t = stored[A]
    assert [(s.role, s.text) for s in t.steps] == [("system", "Be brief."), ("user", "Find x"), ("assistant", "")]
    assert t.steps[2].tool_calls[0].model_dump() == {"id": "c1", "name": "lookup", "arguments": {"q": "x"}}
    assert t.model == "gpt-4o" and t.metadata["provider"] == "openai"


def test_openllmetry_flattened_attributes(ws):
    chat = span(A, "1" * 16, "openai.chat", status={"code": 2, "message": "boom"}, **{
        "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Weather in Oslo?",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.id": "c1", "gen_ai.completion.0.tool_calls.0.name": "get_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": "{\"city\": \"Oslo\"}"})
    report, stored = run(ws, [export(chat)], fmt=TraceFormat())
    t = stored[A]
    assert [s.role for s in t.steps] == ["user", "assistant"] and t.task == "Weather in Oslo?"
    assert t.steps[1].tool_calls[0].name == "get_weather" and t.steps[1].tool_calls[0].arguments == {"city": "Oslo"}
    assert t.outcome == "failure" and t.outcome_detail == "openai.chat ended with an error: boom"


@pytest.mark.parametrize("raw,expected", [("0af7651916cd43dd8448eb211c80319c", "0af7651916cd43dd8448eb211c80319c"),
                                          ("0x0AF7651916CD43DD8448EB211C80319C", "0af7651916cd43dd8448eb211c80319c"),
                                          ("CvdlGRbNQ92ESOshHIAxnA==", "0af7651916cd43dd8448eb211c80319c")])
def test_trace_ids_in_every_layout(raw, expected):
    from trace2skill.ingest.otlp import norm_id

    assert norm_id(raw, 16) == expected


def test_console_exporter_default_output_gets_a_clear_error(ws):
    """The SDK's ConsoleSpanExporter prints pretty objects one after another, which is not JSONL."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    with provider.get_tracer("t").start_as_current_span("execute_tool lookup"):
        provider.get_tracer("t").start_span("inner").end()
    provider.shutdown()
    report = import_stream(ws, io.BytesIO(out.getvalue().encode()), "console.txt")
    [error] = report.errors
    assert "Extra data (several JSON values one after another? Write one per line (JSONL))" in error.problem
