"""OpenAI Agents SDK traces: written by the real `openai-agents` (its `TracingProcessor` writing
`Trace.export()`/`Span.export()`, `agents_samples.py`) for a front desk and a weather agent against the
loopback model server, imported through the real pipeline, CLI and upload; hand-made files only for
edge cases (Responses API spans)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agents_samples import FRONT_DESK, MAX_TURNS, RUDE, WEATHER_AGENT, agents_responder, write_agents_trace
from click.testing import CliRunner
from otel_samples import WEATHER, question_for
from trace_checks import imported, offered, roles, shape, stored

from trace2skill.cli import main
from trace2skill.ingest import import_paths, import_stream
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store import Workspace

MODEL = "desk-model-1"
RUDE_QUESTION = f"What is the {RUDE} weather in Oslo?"
QUESTIONS = [question_for("Oslo"), question_for("Atlantis"), RUDE_QUESTION]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("agents") / "traces.jsonl"
    with FakeLLMServer(agents_responder, model=MODEL) as server:
        answers = write_agents_trace(path, server.base_url, MODEL, QUESTIONS)
    return path, answers


def test_agent_runs_become_trajectories(ws, sample):
    path, answers = sample
    assert answers == [f"It is {WEATHER['Oslo']} in Oslo.", None, None]
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert {x["object"] for x in lines} == {"trace", "trace.span"}
    assert {x["span_data"]["type"] for x in lines if x["object"] == "trace.span"} >= {
        "agent", "generation", "function", "handoff", "guardrail", "custom"}
    report, by_task = imported(ws, path)
    assert report.files[0].format == "openai_agents"
    assert report.imported == 3 and report.files[0].records == 3

    oslo = by_task[question_for("Oslo")]
    assert oslo.source_format == "openai_agents" and oslo.model == MODEL
    assert roles(oslo) == ["system", "user", "assistant", "environment", "system", "tool", "assistant", "tool",
                           "assistant"]
    assert oslo.steps[0].text == FRONT_DESK and oslo.steps[4].text == WEATHER_AGENT
    handoff = oslo.steps[2].tool_calls[0]
    assert handoff.name == "transfer_to_weather_agent" and handoff.arguments == {}
    assert oslo.steps[3].text == "front_desk handed the conversation over to weather_agent"
    assert oslo.steps[5].tool_results[0].call_id == handoff.id
    call = oslo.steps[6].tool_calls[0]
    assert call.name == "get_weather" and call.arguments == {"city": "Oslo"} and call.id.startswith("call_")
    result = oslo.steps[7].tool_results[0]
    assert (result.call_id, result.content, result.is_error) == (call.id, WEATHER["Oslo"], False)
    assert oslo.final_output == answers[0] == oslo.steps[8].text
    assert oslo.outcome == "unknown" and oslo.n_tool_calls == 2
    assert oslo.metadata["trace_id"].startswith("trace_") and oslo.metadata["input_tokens"] > 0
    assert oslo.metadata | {"trace_id": "", "input_tokens": 0, "output_tokens": 0} == {
        "trace_id": "", "workflow": "weather service", "conversation_id": "conversation-1", "agent": "front_desk",
        "agents": ["front_desk", "weather_agent"], "input_tokens": 0, "output_tokens": 0}
    assert oslo.steps[1].timestamp.endswith("Z") and oslo.steps[6].raw_ref.startswith("generation span_")

    atlantis = by_task[question_for("Atlantis")]
    assert atlantis.outcome == "failure"
    assert atlantis.outcome_detail == "agent weather_agent ended with an error: Max turns exceeded"
    errors = [s.tool_results[0] for s in atlantis.steps if s.role == "tool" and s.tool_results[0].is_error]
    assert len(errors) == MAX_TURNS - 1 and len({r.call_id for r in errors}) == MAX_TURNS - 1
    assert all(r.content == "Error: no weather station in Atlantis" for r in errors)
    assert atlantis.final_output is None and {s.kind for s in atlantis.signals} >= {"tool_error"}

    rude = by_task[RUDE_QUESTION]  # the guardrail stopped the run before any model call
    assert [(s.role, s.text) for s in rude.steps] == [("environment", "Guardrail 'polite' tripped")]
    assert rude.outcome == "failure"
    assert rude.outcome_detail == "turn 1 of front_desk ended with an error: Guardrail tripwire triggered"


def _reordered(path: Path, out: Path, how: str) -> Path:
    """The same spans as other writers put them: each trace when it starts (before its spans), the SDK
    exporter's batches (`{"data": [...]}`), one JSON array."""
    items = [json.loads(x) for x in path.read_text().splitlines()]
    if how == "trace_first":
        traces = {x["id"]: x for x in items if x["object"] == "trace"}
        lines, seen = [], set()
        for item in items:
            if item["object"] == "trace.span" and item["trace_id"] not in seen:
                seen.add(item["trace_id"])
                lines.append(traces[item["trace_id"]])
            if item["object"] == "trace.span":
                lines.append(item)
        out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    elif how == "batches":
        out.write_text("".join(json.dumps({"data": items[i:i + 5]}) + "\n" for i in range(0, len(items), 5)))
    else:
        out.write_text(json.dumps(items, indent=1))
    return out


@pytest.mark.parametrize("how", ["trace_first", "batches", "array"])
def test_every_way_of_writing_gives_the_same_trajectories(ws, tmp_path, sample, how):
    _, reference = imported(ws, sample[0])
    other = Workspace(tmp_path / "other.db")
    report, by_task = imported(other, _reordered(sample[0], tmp_path / f"{how}.json", how))
    assert report.files[0].format == "openai_agents" and set(by_task) == set(reference)
    for task, t in by_task.items():
        assert shape(t) == shape(reference[task]) and t.outcome_detail == reference[task].outcome_detail
    other.close()


def test_outcome_from_a_metadata_key_the_user_names(sample, tmp_path):
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(main, ["import", str(sample[0]), "--outcome-attribute", "answered", "--db", db])
    assert result.exit_code == 0, result.output
    assert "openai_agents: 3 imported" in result.output
    cli_ws = Workspace(db)
    by_task = stored(cli_ws)
    assert by_task[question_for("Oslo")].outcome == "success"
    assert by_task[question_for("Oslo")].outcome_detail == "answered: true"
    assert by_task[question_for("Atlantis")].outcome == "failure"
    history = cli_ws.db.execute("SELECT mapping FROM imports").fetchone()[0]
    assert json.loads(history) == {"outcome_attribute": "answered"}
    cli_ws.close()
    named = CliRunner().invoke(main, ["import", str(sample[0]), "--format", "openai_agents", "--outcome-attribute",
                                      "answered", "--db", str(tmp_path / "named.db")])
    assert named.exit_code == 0 and "openai_agents: 3 imported" in named.output, named.output


def test_reimport_adds_nothing_and_uploads_detect(ws, sample):
    from trace2skill.ui.uploads import import_upload, preview_upload

    first = import_paths(ws, [sample[0]])
    again = import_paths(ws, [sample[0]])
    assert first.imported == 3 and again.imported == 0 and again.duplicates == 3
    other = Workspace(ws.path.parent / "upload.db")
    data = sample[0].read_bytes()
    preview = preview_upload(other, "agents.jsonl", data)
    assert preview.format == "openai_agents" and preview.new == 3 and preview.errors == []
    upload = import_upload(other, "agents.jsonl", data)
    assert upload.report.format == "openai_agents" and upload.report.imported == 3
    other.close()


def test_a_bad_line_fails_its_trace_only(ws, sample, tmp_path):
    lines = sample[0].read_text().splitlines()
    first_trace = json.loads(lines[0])["trace_id"]
    broken = json.loads(lines[1])
    assert broken["trace_id"] == first_trace
    broken["span_data"] = {"name": "no type"}
    lines[1] = json.dumps(broken)
    lines.insert(3, json.dumps({"note": "not a span"}))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = import_stream(ws, path, "bad.jsonl")
    problems = sorted(str(e) for e in report.errors)
    assert report.imported == 2 and len(problems) == 2, problems
    assert problems[0].startswith('bad.jsonl: record 0 (line 4): not an OpenAI Agents SDK trace or span (no "object"')
    assert problems[1] == f"bad.jsonl: record 1 (line 1): span {broken['id']!r} has no span_data.type"


def _response_span(trace_id: str, span_id: str, parent: str, start: str, end: str, **data) -> dict:
    return {"object": "trace.span", "id": span_id, "trace_id": trace_id, "parent_id": parent, "started_at": start,
            "ended_at": end, "span_data": {"type": "response", "response_id": "resp_1", "usage": None, **data},
            "error": None}


def test_responses_api_spans(ws, tmp_path):
    """Hand-made: spans of a Responses API model. The SDK's own export has no content (then the
    function spans still give the calls and results); a processor that adds the response and its
    input gives the messages."""
    from openai.types.responses import Response

    response = Response.model_validate({
        "id": "resp_1", "object": "response", "created_at": 1.0, "model": "gpt-x", "parallel_tool_calls": True,
        "tool_choice": "auto", "tools": [], "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look it up."}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "get_weather",
             "arguments": "{\"city\": \"Lima\"}", "status": "completed"}]}).model_dump(mode="json")
    t1, t2 = "trace_" + "1" * 32, "trace_" + "2" * 32
    function = {"object": "trace.span", "id": "span_f", "trace_id": t1, "parent_id": "span_a",
                "started_at": "2026-01-01T10:00:02+00:00", "ended_at": "2026-01-01T10:00:03+00:00",
                "span_data": {"type": "function", "name": "get_weather", "input": "{\"city\": \"Lima\"}",
                              "output": "sunny, 24C", "mcp_data": None}, "error": None}
    agent = {"object": "trace.span", "id": "span_a", "trace_id": t1, "parent_id": None,
             "started_at": "2026-01-01T10:00:00+00:00", "ended_at": "2026-01-01T10:00:04+00:00",
             "span_data": {"type": "agent", "name": "weather", "handoffs": [], "tools": ["get_weather"],
                           "output_type": "str"}, "error": None}
    lines = [_response_span(t1, "span_r", "span_a", "2026-01-01T10:00:00.5+00:00", "2026-01-01T10:00:01+00:00",
                            response=response, input=[{"role": "user", "content": question_for("Lima")}]),
             function, agent, {"object": "trace", "id": t1, "workflow_name": "w", "group_id": None, "metadata": None}]
    bare = [dict(x, trace_id=t2, id=x["id"] + "2", parent_id=x["parent_id"] and x["parent_id"] + "2")
            for x in lines[:3]]
    bare[0]["span_data"] = {"type": "response", "response_id": "resp_1", "usage": None}
    path = tmp_path / "responses.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines + bare))
    _, by_task = imported(ws, path)
    full = by_task[question_for("Lima")]
    assert roles(full) == ["user", "assistant", "assistant", "tool"]
    assert full.steps[1].reasoning == "Look it up." and full.steps[2].tool_calls[0].id == "call_a"
    assert full.steps[3].tool_results[0].call_id == "call_a" and full.steps[3].tool_results[0].content == "sunny, 24C"
    assert full.model == "gpt-x"
    content_free = by_task["trace_" + "2" * 32]
    assert roles(content_free) == ["assistant", "tool"] and content_free.task == ""
    assert content_free.steps[0].tool_calls[0].arguments == {"city": "Lima"}


def test_large_files_stream(ws, sample, tmp_path):
    """Traces are handed on while the file is read: the first one comes long before the end, and every
    one imports."""
    import io

    from trace2skill.ingest.openai_agents import OpenAIAgentsFormat

    lines = sample[0].read_text().splitlines()
    trace_id = json.loads(lines[0])["trace_id"]
    oslo = [x for x in lines if trace_id in x]
    copies = "".join(line.replace(trace_id, f"trace_{n:032x}") + "\n" for n in range(200) for line in oslo)
    f = io.BytesIO(copies.encode())
    first = next(iter(OpenAIAgentsFormat().records(f, "jsonl", "record")))
    assert first.error is None and f.tell() < len(copies) / 10
    path = tmp_path / "many.jsonl"
    path.write_text(copies)
    report = import_paths(ws, [path])
    assert report.errors == [] and report.imported == report.files[0].records == 200


def test_offers_its_metadata_keys_as_the_outcome(sample):
    assert offered(sample[0]) == [("answered", "metadata key", 3, {"success": 1, "failure": 2}, False)]
