"""LangSmith run exports: the weather agent traced by the real `langsmith` SDK (`@traceable`, `trace`,
`wrap_openai`) against the loopback model server, exported as the SDK's `schemas.Run` and
`schemas.Feedback` (`langsmith_samples.py`), imported through the real pipeline and CLI; hand-made
records only for edge cases (LangChain's message layout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from langsmith_samples import write_langsmith_export
from otel_samples import MAX_TURNS, SYSTEM, WEATHER, question_for, weather_responder
from trace_checks import imported, offered, roles, shape, stored

from trace2skill.cli import main
from trace2skill.ingest import import_paths
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store import Workspace

MODEL = "weather-model-3"
CITIES = ["Oslo", "Atlantis", "Lima"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same runs as root runs with their child runs nested, and as one run a line."""
    folder = tmp_path_factory.mktemp("langsmith")
    out = {}
    for layout in ("tree", "flat"):
        out[layout] = folder / f"{layout}.jsonl"
        with FakeLLMServer(weather_responder, model=MODEL) as server:
            write_langsmith_export(out[layout], server.base_url, MODEL, CITIES, layout=layout)
    return out


def test_runs_become_trajectories(ws, samples):
    first = json.loads(samples["tree"].read_text().splitlines()[0])
    assert first["run_type"] == "chain" and {c["run_type"] for c in first["child_runs"]} == {"llm", "tool"}
    report, by_task = imported(ws, samples["tree"])
    assert report.files[0].format == "langsmith" and report.imported == 3 and report.files[0].records == 3

    oslo = by_task[question_for("Oslo")]
    assert oslo.source_format == "langsmith" and oslo.model == MODEL
    assert roles(oslo) == ["system", "user", "assistant", "tool", "assistant"] and oslo.steps[0].text == SYSTEM
    call = oslo.steps[2].tool_calls[0]
    assert call.name == "get_weather" and call.arguments == {"city": "Oslo"} and call.id.startswith("call_")
    result = oslo.steps[3].tool_results[0]
    assert (result.call_id, result.content, result.is_error) == (call.id, WEATHER["Oslo"], False)
    assert oslo.final_output == f"It is {WEATHER['Oslo']} in Oslo." == oslo.steps[4].text
    assert (oslo.outcome, oslo.reward, oslo.outcome_detail) == ("success", 1.0, "correct: 1")
    assert oslo.metadata["agent"] == "weather-agent" and oslo.metadata["trace_id"] == first["id"]
    assert oslo.metadata["input_tokens"] > 0 and oslo.metadata["output_tokens"] > 0

    atlantis = by_task[question_for("Atlantis")]
    assert (atlantis.outcome, atlantis.reward) == ("failure", 0.0)
    errors = [s.tool_results[0] for s in atlantis.steps if s.role == "tool"]
    assert len(errors) == MAX_TURNS and all(r.is_error and r.content == "Error: no weather station in Atlantis"
                                            for r in errors)


def test_one_run_a_line_gives_the_same_trajectories(ws, tmp_path, samples):
    lines = [json.loads(x) for x in samples["flat"].read_text().splitlines()]
    assert all(x.get("child_runs") is None for x in lines if "run_type" in x)
    _, reference = imported(ws, samples["tree"])
    other = Workspace(tmp_path / "other.db")
    report, by_task = imported(other, samples["flat"])
    assert report.files[0].format == "langsmith" and set(by_task) == set(reference)
    for task, t in by_task.items():
        assert shape(t) == shape(reference[task]) and t.outcome == reference[task].outcome
    other.close()


def test_outcome_without_feedback_and_from_feedback_stats(samples, tmp_path):
    lines = [json.loads(x) for x in samples["tree"].read_text().splitlines()]
    runs = [x for x in lines if "run_type" in x]
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in runs))
    ws = Workspace(tmp_path / "runs.db")
    _, by_task = imported(ws, path)
    assert by_task[question_for("Oslo")].outcome == "unknown"
    atlantis = by_task[question_for("Atlantis")]
    assert atlantis.outcome == "failure"
    assert atlantis.outcome_detail == f"chain run weather-agent ended with an error: RuntimeError('gave up after {MAX_TURNS} model calls')"
    ws.close()

    stats = tmp_path / "stats.jsonl"  # the feedback averages read_run gives with the run
    stats.write_text("".join(json.dumps(dict(x, feedback_stats={"helpful": {"n": 2, "avg": 1.0}})) + "\n"
                             for x in runs))
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(main, ["import", str(stats), "--outcome-attribute", "helpful", "--db", db])
    assert result.exit_code == 0 and "langsmith: 3 imported" in result.output, result.output
    cli_ws = Workspace(db)
    assert {t.outcome for t in stored(cli_ws).values()} == {"success"}
    assert json.loads(cli_ws.db.execute("SELECT mapping FROM imports").fetchone()[0]) == {"outcome_attribute": "helpful"}
    cli_ws.close()


def test_reimport_adds_nothing(ws, samples):
    first = import_paths(ws, [samples["flat"]])
    again = import_paths(ws, [samples["flat"]])
    assert first.imported == 3 and again.imported == 0 and again.duplicates == 3


def _lc(kind: str, **kwargs) -> dict:
    return {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", kind], "kwargs": kwargs}


def test_langchain_runs(ws, tmp_path):
    """Hand-made, in LangChain's layout: serialised messages in a list of lists, generations, a tool run
    whose input is text and whose output is a ToolMessage; no trace_id (the root of dotted_order)."""
    root, llm, tool = "r0", "r1", "r2"
    stamp = "20260101T100000000000Z"
    human = _lc("HumanMessage", content="Weather in Cairo?", type="human")
    ai = _lc("AIMessage", content="", type="ai", tool_calls=[{"name": "get_weather", "args": {"city": "Cairo"},
                                                              "id": "call_9", "type": "tool_call"}])
    runs = [
        {"id": root, "name": "AgentExecutor", "run_type": "chain", "start_time": "2026-01-01T10:00:00",
         "end_time": "2026-01-01T10:00:05", "inputs": {"input": "Weather in Cairo?"},
         "outputs": {"output": "Hot and dry."}, "dotted_order": f"{stamp}{root}", "parent_run_id": None},
        {"id": llm, "name": "ChatOpenAI", "run_type": "llm", "start_time": "2026-01-01T10:00:01",
         "end_time": "2026-01-01T10:00:02", "parent_run_id": root, "dotted_order": f"{stamp}{root}.{stamp}{llm}",
         "inputs": {"messages": [[human]]},
         "outputs": {"generations": [[{"text": "", "type": "ChatGeneration", "message": ai}]]},
         "extra": {"invocation_params": {"model_name": "gpt-lc"}}},
        {"id": tool, "name": "get_weather", "run_type": "tool", "start_time": "2026-01-01T10:00:03",
         "end_time": "2026-01-01T10:00:04", "parent_run_id": root, "dotted_order": f"{stamp}{root}.{stamp}{tool}",
         "inputs": {"input": "{'city': 'Cairo'}"},
         "outputs": {"output": _lc("ToolMessage", content="hot and dry, 35C", tool_call_id="call_9",
                                   name="get_weather")}}]
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(runs))
    _, by_task = imported(ws, path)
    t = by_task["Weather in Cairo?"]
    assert roles(t) == ["user", "assistant", "tool"] and t.model == "gpt-lc"
    assert [(c.id, c.name, c.arguments) for c in t.steps[1].tool_calls] == [("call_9", "get_weather", {"city": "Cairo"})]
    assert (t.steps[2].tool_results[0].call_id, t.steps[2].tool_results[0].content) == ("call_9", "hot and dry, 35C")
    assert t.final_output == "Hot and dry." and t.metadata["trace_id"] == root


def test_feedback_far_from_its_runs_is_an_error(ws, samples, tmp_path):
    """Feedback written long after its trace's runs cannot join them: an error naming the line; the
    runs still import (their outcome then from the runs alone)."""
    lines = samples["flat"].read_text().splitlines()
    runs = [x for x in lines if '"run_type"' in x]
    feedback = [x for x in lines if '"run_type"' not in x]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(runs + feedback) + "\n")
    report = import_paths(ws, [path])
    assert report.imported == 3
    late = [e for e in report.errors if "came 8+ lines after their root run" in e.problem]
    assert late and late[0].line > len(runs) and str(late[0]).startswith(f"{path}: record ")
    assert "keep each trace's lines close together in the file" in late[0].problem


def test_offers_its_feedback_keys_as_the_outcome(samples):
    for layout in ("tree", "flat"):
        assert offered(samples[layout]) == [("correct", "feedback key", 3, {"success": 2, "failure": 1}, True)], layout
