"""Langfuse trace exports: the weather agent traced by the real `langfuse` SDK (its OpenAI integration,
observations and events) against the loopback model server, exported in the API's shapes with the
SDK's own models (`langfuse_samples.py`), imported through the real pipeline and CLI; hand-made
records only for edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from langfuse_samples import write_langfuse_export
from otel_samples import MAX_TURNS, SYSTEM, WEATHER, question_for, weather_responder
from trace_checks import imported, offered, roles, shape, stored

from trace2skill.cli import main
from trace2skill.ingest import import_paths, import_stream
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store import Workspace

MODEL = "weather-model-2"
CITIES = ["Oslo", "Atlantis", "Lima"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same runs exported as traces with observations and scores inside, and as pages of
    observations followed by scores."""
    folder = tmp_path_factory.mktemp("langfuse")
    out = {}
    for layout in ("trace", "observations"):
        out[layout] = folder / f"{layout}.jsonl"
        with FakeLLMServer(weather_responder, model=MODEL) as server:
            write_langfuse_export(out[layout], server.base_url, MODEL, CITIES, layout=layout)
    return out


def test_traces_become_trajectories(ws, samples):
    first = json.loads(samples["trace"].read_text().splitlines()[0])
    assert {o["type"] for o in first["observations"]} == {"AGENT", "EVENT", "GENERATION", "TOOL"}
    assert {s["name"] for s in first["scores"]} == {"correct", "helpfulness"}
    report, by_task = imported(ws, samples["trace"])
    assert report.files[0].format == "langfuse" and report.imported == 3 and report.files[0].records == 3

    oslo = by_task[question_for("Oslo")]
    assert oslo.source_format == "langfuse" and oslo.model == MODEL
    assert roles(oslo) == ["environment", "system", "user", "assistant", "tool", "assistant"]
    assert oslo.steps[0].text == "forecast cache: no cached forecast for Oslo" and oslo.steps[1].text == SYSTEM
    call = oslo.steps[3].tool_calls[0]
    assert call.name == "get_weather" and call.arguments == {"city": "Oslo"} and call.id.startswith("call_")
    result = oslo.steps[4].tool_results[0]
    assert (result.call_id, result.content, result.is_error) == (call.id, WEATHER["Oslo"], False)
    assert oslo.final_output == f"It is {WEATHER['Oslo']} in Oslo." == oslo.steps[5].text
    assert (oslo.outcome, oslo.reward, oslo.outcome_detail) == ("success", 1.0, "correct: 1.0")
    assert oslo.metadata | {"trace_id": "", "input_tokens": 0, "output_tokens": 0} == {
        "trace_id": "", "trace_name": "weather-agent", "session_id": "conversation-1", "user_id": "user-7",
        "tags": ["weather"], "scores": {"correct": 1.0, "helpfulness": 0.9}, "input_tokens": 0, "output_tokens": 0}
    assert len(oslo.metadata["trace_id"]) == 32 and oslo.metadata["input_tokens"] > 0

    atlantis = by_task[question_for("Atlantis")]
    assert (atlantis.outcome, atlantis.reward) == ("failure", 0.0)
    errors = [s.tool_results[0] for s in atlantis.steps if s.role == "tool"]
    assert len(errors) == MAX_TURNS and all(r.is_error and r.content == "Error: no weather station in Atlantis"
                                            for r in errors)
    assert atlantis.final_output is None and atlantis.n_errors == MAX_TURNS


def test_observation_pages_and_scores_give_the_same_trajectories(ws, tmp_path, samples):
    first = json.loads(samples["observations"].read_text().splitlines()[0])
    assert set(first) == {"data", "meta"} and first["data"][0]["projectId"]
    _, reference = imported(ws, samples["trace"])
    other = Workspace(tmp_path / "other.db")
    report, by_task = imported(other, samples["observations"])
    assert report.files[0].format == "langfuse" and set(by_task) == set(reference)
    for task, t in by_task.items():
        assert shape(t) == shape(reference[task])
        assert (t.outcome, t.reward, t.final_output) == (reference[task].outcome, reference[task].reward,
                                                         reference[task].final_output)
    other.close()


def test_outcome_from_the_score_the_user_names_or_from_an_error(samples, tmp_path):
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(main, ["import", str(samples["trace"]), "--outcome-attribute", "helpfulness",
                                       "--db", db])
    assert result.exit_code == 0 and "langfuse: 3 imported" in result.output, result.output
    cli_ws = Workspace(db)
    oslo = stored(cli_ws)[question_for("Oslo")]
    assert (oslo.outcome, oslo.reward, oslo.outcome_detail) == ("failure", 0.9, "helpfulness: 0.9")  # below 1
    cli_ws.close()

    lines = [json.loads(x) for x in samples["trace"].read_text().splitlines()]
    unscored = tmp_path / "unscored.jsonl"
    unscored.write_text("".join(json.dumps(dict(x, scores=[])) + "\n" for x in lines))
    other = Workspace(tmp_path / "unscored.db")
    _, by_task = imported(other, unscored)
    assert by_task[question_for("Oslo")].outcome == "unknown"
    atlantis = by_task[question_for("Atlantis")]
    assert atlantis.outcome == "failure"
    assert atlantis.outcome_detail == f"agent weather-agent ended with an error: RuntimeError: gave up after {MAX_TURNS} model calls"
    other.close()


def test_reimport_adds_nothing(ws, samples):
    first = import_paths(ws, [samples["observations"]])
    again = import_paths(ws, [samples["observations"]])
    assert first.imported == 3 and again.imported == 0 and again.duplicates == 3


def test_a_bad_observation_fails_its_trace_only(ws, samples, tmp_path):
    lines = [json.loads(x) for x in samples["trace"].read_text().splitlines()]
    lines[0]["observations"][1]["startTime"] = "yesterday"
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"id": "x", "name": "not a score"}\n')
    report = import_stream(ws, path, "bad.jsonl")
    problems = [str(e) for e in report.errors]
    assert report.imported == 2 and len(problems) == 2, problems
    assert problems[0] == "bad.jsonl: record 0 (line 4): not a Langfuse trace, observation or score: id, name"
    assert problems[1].startswith("bad.jsonl: record 1 (line 1): observation ")
    assert problems[1].endswith("has a time that is not a time: 'yesterday'")


def test_categorical_scores_and_a_single_trace_file(ws, tmp_path):
    """Hand-made: one trace as a .json file; a CATEGORICAL score says the outcome in words; a TOOL
    observation without a model call before it still gives the call and its result."""
    trace = {"id": "t-1", "timestamp": "2026-01-01T10:00:00Z", "name": "lookup", "input": "Find the Lima weather",
             "output": {"answer": "Sunny."}, "scores": [
                 {"id": "s1", "traceId": "t-1", "name": "verdict", "value": 0, "stringValue": "pass",
                  "dataType": "CATEGORICAL", "source": "ANNOTATION", "timestamp": "2026-01-01T10:01:00Z"}],
             "observations": [
                 {"id": "o1", "traceId": "t-1", "type": "TOOL", "name": "get_weather", "input": {"city": "Lima"},
                  "output": "sunny, 24C", "startTime": "2026-01-01T10:00:01Z", "endTime": "2026-01-01T10:00:02Z",
                  "level": "DEFAULT", "parentObservationId": None}]}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    _, by_task = imported(ws, path, outcome_attribute="verdict")
    t = by_task["Find the Lima weather"]
    assert roles(t) == ["assistant", "tool"] and t.steps[0].tool_calls[0].arguments == {"city": "Lima"}
    assert t.final_output == "Sunny." and (t.outcome, t.outcome_detail) == ("success", "verdict: pass")


def test_offers_its_scores_as_the_outcome(samples):
    for layout in ("trace", "observations"):
        assert offered(samples[layout]) == [("correct", "score", 3, {"success": 2, "failure": 1}, True),
                                            ("helpfulness", "score", 3, {"failure": 3}, False)], layout


def test_a_graded_score_reads_as_success_from_where_the_user_says(samples, tmp_path):
    # helpfulness is 0.9 for an answered question, 0.2 for Atlantis: read as a number alone, 0.9 would
    # be a failure (below 1), so it is offered with its range and a threshold is asked for.
    db = str(tmp_path / "graded.db")
    result = CliRunner().invoke(main, ["import", str(samples["trace"]), "--dry-run", "--db", db])
    assert "    helpfulness (score; in 3 of 3 traces: 0.2 to 0.9; you say where success starts)" in result.output
    assert "--outcome-attribute 'NAME>=X'" in result.output
    result = CliRunner().invoke(main, ["import", str(samples["trace"]), "--outcome-attribute", "helpfulness>=0.5",
                                       "--db", db])
    assert result.exit_code == 0, result.output
    ws = Workspace(db)
    by_task = stored(ws)
    oslo, atlantis = by_task[question_for("Oslo")], by_task[question_for("Atlantis")]
    assert (oslo.outcome, oslo.reward, oslo.outcome_detail) == ("success", 0.9, "helpfulness: 0.9 (success from 0.5)")
    assert (atlantis.outcome, atlantis.reward) == ("failure", 0.2)
    ws.close()
    result = CliRunner().invoke(main, ["import", str(samples["trace"]), "--outcome-attribute", "helpfulness>=most",
                                       "--db", db])
    assert result.exit_code != 0 and "write NAME>=X with a number X" in result.output


def test_the_upload_asks_where_success_starts_on_a_graded_score(samples):
    from streamlit.testing.v1 import AppTest

    from tests.helpers import REPO

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/trajectories.py")
    at.run()
    at.file_uploader[0].set_value([("scored.jsonl", samples["trace"].read_bytes(), "application/json")])
    at.run()
    assert not [n for n in at.number_input if n.key.startswith("traj_outcome_at_least")]  # nothing chosen yet
    at.selectbox(key="traj_outcome_attr").set_value("helpfulness").run()
    assert not at.exception
    threshold = at.number_input(key="traj_outcome_at_least:helpfulness")
    assert threshold.value == 0.5 and threshold.label == "Success when helpfulness is at least"
    captions = [c.value for c in at.caption]
    assert "helpfulness runs from 0.2 to 0.9 in the traces read." in captions
    assert any("3 trajectories (success 2, failure 1, unknown 0)" in c for c in captions), captions
    threshold.set_value(0.95).run()
    assert any("3 trajectories (success 0, failure 3, unknown 0)" in c.value for c in at.caption)
    at.button(key="traj_import").click().run()
    assert not at.exception
    ws = Workspace()
    assert {t.outcome_detail for t in stored(ws).values()} == {
        "helpfulness: 0.9 (success from 0.95)", "helpfulness: 0.2 (success from 0.95)"}
    ws.close()
