"""OpenTelemetry GenAI traces: samples written by opentelemetry-instrumentation-openai-v2 and
opentelemetry-util-genai (a weather agent against the loopback model server, `otel_samples.py`),
imported through the real pipeline and CLI; hand-made files only for edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from otel_samples import MAX_TURNS, SYSTEM, WEATHER, question_for, weather_responder, write_genai_trace

from trace2skill.cli import main
from trace2skill.errors import MappingError
from trace2skill.ingest import import_paths
from trace2skill.ingest.pipeline import resolve_format
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store.trajectories import get_trajectory, trajectory_ids

CITIES = ["Oslo", "Atlantis", "Lima"]
MODEL = "weather-model-1"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list]]:
    """One file per way of tracing: content on spans / as log records / not captured, one export per
    batch or per span, OTLP JSON or protobuf's JSON mapping."""
    folder = tmp_path_factory.mktemp("otel")
    ways = {"span_only": {}, "event_only": {"capture": "event_only"}, "no_content": {"capture": "no_content"},
            "per_span": {"simple": True}, "protobuf": {"layout": "protobuf"}, "console": {"layout": "console"}}
    out = {}
    for name, options in ways.items():
        path = folder / f"{name}.jsonl"
        with FakeLLMServer(weather_responder, model=MODEL) as server:  # tool call ids count from 1 each time
            out[name] = (path, write_genai_trace(path, server.base_url, MODEL, CITIES, **options))
    return out


def imported(ws, path: Path, **options) -> list:
    report = import_paths(ws, [path], **options)
    assert report.errors == [], [str(e) for e in report.errors]
    by_task = {}
    for tid in trajectory_ids(ws.db):
        t = get_trajectory(ws.db, tid)
        by_task[t.task or t.metadata.get("trace_id")] = t
    return [report, by_task]


def shape(t) -> list:
    """Steps without times and span ids: what a run did, however it was traced."""
    return [(s.role, s.text, [(c.id, c.name, c.arguments) for c in s.tool_calls],
             [(r.call_id, r.content, r.is_error) for r in s.tool_results]) for s in t.steps]


def test_agent_runs_become_trajectories(ws, samples):
    path, answers = samples["span_only"]
    assert answers[0] == f"It is {WEATHER['Oslo']} in Oslo." and answers[1] is None
    report, by_task = imported(ws, path)
    assert report.files[0].format == "otel_genai"
    assert report.imported == 3 and report.files[0].records == 3

    oslo = by_task[question_for("Oslo")]
    assert oslo.source_format == "otel_genai" and oslo.model == MODEL
    assert [s.role for s in oslo.steps] == ["system", "user", "assistant", "tool", "assistant"]
    assert oslo.steps[0].text == SYSTEM
    call = oslo.steps[2].tool_calls[0]
    assert call.name == "get_weather" and call.arguments == {"city": "Oslo"} and call.id.startswith("call_")
    result = oslo.steps[3].tool_results[0]
    assert (result.call_id, result.content, result.is_error) == (call.id, WEATHER["Oslo"], False)
    assert oslo.final_output == answers[0] == oslo.steps[4].text
    assert oslo.outcome == "unknown" and oslo.n_tool_calls == 1
    assert len(oslo.metadata["trace_id"]) == 32
    assert oslo.metadata | {"trace_id": ""} == {
        "trace_id": "", "service": "weather-agent", "agent": "weather-agent", "provider": "openai",
        "input_tokens": oslo.metadata["input_tokens"], "output_tokens": oslo.metadata["output_tokens"]}
    assert oslo.steps[1].timestamp.endswith("Z") and oslo.steps[2].raw_ref.startswith("span ")

    atlantis = by_task[question_for("Atlantis")]
    assert atlantis.outcome == "failure"
    assert atlantis.outcome_detail == f"invoke_agent weather-agent ended with an error: gave up after {MAX_TURNS} model calls"
    assert [s.role for s in atlantis.steps] == ["system", "user"] + ["assistant", "tool"] * MAX_TURNS
    errors = [s.tool_results[0] for s in atlantis.steps if s.role == "tool"]
    assert all(r.is_error and r.content == "Error: no weather station in Atlantis" for r in errors)
    assert len({r.call_id for r in errors}) == MAX_TURNS and atlantis.final_output is None
    assert {s.kind for s in atlantis.signals} >= {"tool_error", "repeated_action"}


@pytest.mark.parametrize("way", ["event_only", "per_span", "protobuf", "console"])
def test_every_way_of_tracing_gives_the_same_trajectories(ws, tmp_path, samples, way):
    """Content as log records joined to their spans; one span per line (a trace over many lines);
    base64 ids and enum names; the console exporter's layout: the same steps as content on the spans."""
    _, reference = imported(ws, samples["span_only"][0])
    path, _ = samples[way]
    if way == "per_span":
        lines = path.read_text().splitlines()
        assert len(lines) > 10 and all(len(json.loads(x)["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 1
                                       for x in lines)
    if way == "protobuf":
        span = json.loads(path.read_text().splitlines()[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert span["traceId"].endswith("==") and span["kind"].startswith("SPAN_KIND_")
    if way == "console":
        assert json.loads(path.read_text().splitlines()[0])["context"]["trace_id"].startswith("0x")
    from trace2skill.store import Workspace

    other = Workspace(tmp_path / "other.db")
    _, by_task = imported(other, path)
    assert set(by_task) == set(reference)
    for task, t in by_task.items():
        assert shape(t) == shape(reference[task]) and t.outcome == reference[task].outcome
        assert t.final_output == reference[task].final_output and len(t.metadata["trace_id"]) == 32
    other.close()


def test_without_content_capture_tool_spans_still_give_calls_and_results(ws, samples):
    _, by_task = imported(ws, samples["no_content"][0])
    assert len(by_task) == 3
    runs = sorted(by_task.values(), key=lambda t: len(t.steps))
    oslo = runs[0]
    assert oslo.task == "" and [s.role for s in oslo.steps] == ["assistant", "tool"]
    assert oslo.steps[0].tool_calls[0].name == "get_weather" and oslo.steps[0].tool_calls[0].arguments == {}
    failed = runs[-1]
    assert failed.outcome == "failure" and failed.n_errors == MAX_TURNS


def test_reimport_adds_nothing(ws, samples):
    path, _ = samples["span_only"]
    first = import_paths(ws, [path])
    again = import_paths(ws, [path])
    assert first.imported == 3 and again.imported == 0 and again.duplicates == 3


def test_outcome_from_an_attribute_the_user_names(ws, samples, tmp_path):
    path, _ = samples["span_only"]
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(main, ["import", str(path), "--outcome-attribute", "weather.answered", "--db", db])
    assert result.exit_code == 0, result.output
    assert "otel_genai: 3 imported" in result.output
    from trace2skill.store import Workspace

    cli_ws = Workspace(db)
    outcomes = {get_trajectory(cli_ws.db, t).task: get_trajectory(cli_ws.db, t) for t in trajectory_ids(cli_ws.db)}
    assert outcomes[question_for("Oslo")].outcome == "success"
    assert outcomes[question_for("Oslo")].outcome_detail == "weather.answered: True"
    assert outcomes[question_for("Atlantis")].outcome == "failure"
    history = cli_ws.db.execute("SELECT mapping FROM imports").fetchone()[0]
    assert json.loads(history) == {"outcome_attribute": "weather.answered"}
    cli_ws.close()


def test_the_names_that_may_say_the_outcome_are_offered_and_a_misspelt_one_is_said(samples, tmp_path):
    from trace2skill.ingest.outcome_names import outcome_names

    path, _ = samples["span_only"]
    names = outcome_names(path)
    assert (names.format, names.read) == ("otel_genai", 3)
    assert [(o.name, o.what, o.traces, dict(o.labels)) for o in names.offered] == [
        ("weather.answered", "span attribute", 3, {"success": 2, "failure": 1})]
    assert "gen_ai.operation.name" in names.seen  # read, never offered: the convention's own
    db = str(tmp_path / "w.db")
    dry = CliRunner().invoke(main, ["import", str(path), "--dry-run", "--db", db])
    assert ("may say each trace's outcome (name one with --outcome-attribute NAME):\n"
            "    weather.answered (span attribute; in 3 of 3 traces: 2 success, 1 failure)") in dry.output, dry.output
    misspelt = CliRunner().invoke(main, ["import", str(path), "--outcome-attribute", "weather.answerd", "--db", db])
    assert misspelt.exit_code == 0, misspelt.output  # imported: their outcomes as if none were named
    assert ("warning: " + str(path) + ": outcome attribute 'weather.answerd': in none of the first 3 traces (is it "
            "spelt as in the file?); their outcomes are read as if none were named") in misspelt.output
    spelt = CliRunner().invoke(main, ["import", str(path), "--outcome-attribute", "weather.answered", "--db", db])
    assert "in none of" not in spelt.output and "relabelled" in spelt.output, spelt.output


def test_outcome_attribute_errors(tmp_path):
    with pytest.raises(MappingError, match="not --format tau_bench"):
        resolve_format("tau_bench", None, None, "passed")
    with pytest.raises(MappingError, match="neither --mapping"):
        resolve_format(None, {"task": "q"}, None, "passed")
    assert resolve_format("openinference", None, None, " passed ").outcome_attribute == "passed"
    path = tmp_path / "t.jsonl"
    span = {"traceId": "a" * 32, "spanId": "b" * 16, "name": "invoke_agent x", "kind": 1,
            "startTimeUnixNano": "1", "endTimeUnixNano": "2", "status": {},
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
                           {"key": "gen_ai.tool.name", "value": {"stringValue": "t"}},
                           {"key": "verdict", "value": {"stringValue": "maybe"}}]}
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    result = CliRunner().invoke(main, ["import", str(path), "--outcome-attribute", "verdict",
                                       "--db", str(tmp_path / "w.db")])
    assert result.exit_code == 1
    assert "t.jsonl: record 0: the outcome attribute 'verdict' holds 'maybe', which says neither" in result.output


def test_cli_detects_and_dry_runs(samples, tmp_path):
    path, _ = samples["event_only"]
    db = str(tmp_path / "w.db")
    dry = CliRunner().invoke(main, ["import", str(path), "--dry-run", "--db", db])
    assert dry.exit_code == 0 and "would import 3 trajectories of 3" in dry.output, dry.output
    assert not Path(db).exists()
    done = CliRunner().invoke(main, ["import", str(path), "--db", db])
    assert done.exit_code == 0 and "otel_genai: 3 imported" in done.output, done.output


def test_logs_in_their_own_file_import_alone(ws, samples, tmp_path):
    """Content exported as log records to a file of their own: each call's record stands for its span."""
    lines = samples["event_only"][0].read_text().splitlines()
    logs = tmp_path / "logs.jsonl"
    logs.write_text("\n".join(x for x in lines if "resourceLogs" in json.loads(x)) + "\n")
    _, by_task = imported(ws, logs)
    oslo = by_task[question_for("Oslo")]
    assert [s.role for s in oslo.steps] == ["system", "user", "assistant", "tool", "assistant"]
    assert oslo.steps[3].tool_results[0].content == WEATHER["Oslo"] and oslo.outcome == "unknown"


def test_uploads_detect_traces_and_preview_them(ws, samples):
    from trace2skill.ui.uploads import import_upload, preview_upload

    data = samples["per_span"][0].read_bytes()
    preview = preview_upload(ws, "traces.jsonl", data)
    assert preview.format == "otel_genai" and preview.new == 3 and preview.errors == []
    upload = import_upload(ws, "traces.jsonl", data)
    assert upload.report.format == "otel_genai" and upload.report.imported == 3 and not upload.unrecognised
