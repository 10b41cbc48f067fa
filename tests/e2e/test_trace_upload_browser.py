"""An OpenTelemetry trace file uploaded in a real browser: spans as the SDK's file exporter writes them
(traces straddling lines, read the fast way) plus a line that is not JSON; the report names the bad
line and the format in words, and the Trajectories table lists the traces in the file's order. Then
the outcome of each trace chosen from what the files hold (a span attribute, a Langfuse score)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.e2e.conftest import full_screenshot, grid_text, open_app, open_page, wait_idle
from tests.langfuse_samples import write_langfuse_export
from tests.otel_samples import weather_responder, write_genai_trace
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store import Workspace
from trace2skill.store.imports import list_imports
from trace2skill.store.trajectories import get_trajectory, trajectory_ids

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_import_otlp.py"


def _write_traces(path: Path, n: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_import_otlp_for_browser", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_file(path, n, seed=7)


def test_upload_an_otlp_file(app, page, tmp_path):
    data = tmp_path / "traces.jsonl"
    _write_traces(data, 30)
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    open_app(page, app, "Trajectories")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(data))
    page.get_by_role("button", name="Import 1 file(s)").click()
    page.get_by_text("Import report: 30 trajectories imported, 0 already present, 1 error in 1 file.").wait_for(
        timeout=60000)
    page.get_by_text("traces.jsonl: record").first.wait_for(timeout=10000)
    page.get_by_text("30 trajectories match").wait_for()
    wait_idle(page)
    listed = grid_text(page, "task")
    first, second, last_shown = listed.find("Task 0:"), listed.find("Task 1:"), listed.find("Task 9:")
    assert -1 < first < second < last_shown, listed[:400]  # the file's order
    assert "OpenTelemetry GenAI trace" in listed and "otel_genai" not in listed
    report = grid_text(page, "already present")
    assert "traces.jsonl" in report and "OpenTelemetry GenAI trace" in report  # the format in words there too
    full_screenshot(page, "trace-upload")


def test_the_outcome_of_each_trace_is_chosen_from_what_the_files_hold(app, page, tmp_path):
    genai, langfuse = tmp_path / "agent.jsonl", tmp_path / "langfuse.jsonl"
    with FakeLLMServer(weather_responder, model="weather-model") as server:  # real instrumentation, as a user's
        write_genai_trace(genai, server.base_url, "weather-model", ["Oslo", "Atlantis", "Lima"])
        write_langfuse_export(langfuse, server.base_url, "weather-model", ["Cairo", "Atlantis"])
    open_page(page, app, "trajectories?reviewer=Dana")
    page.get_by_text("Reviewing as").wait_for(timeout=60000)
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files([str(genai), str(langfuse)])
    page.get_by_text("agent.jsonl (OpenTelemetry GenAI trace): 3 records → 3 trajectories (success 0, failure 1, "
                     "unknown 2)").wait_for(timeout=60000)
    page.get_by_test_id("stSelectbox").filter(has_text="Outcome of each trace").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    assert [o.strip() for o in options.all_inner_texts()] == [
        "as the data says (a score or key under a usual name, else from errors)",
        "weather.answered (span attribute; in 3 of 3 traces: 2 success, 1 failure)",
        "correct (score, read when none is named; in 2 of 2 traces: 1 success, 1 failure)",
        "helpfulness (score; in 2 of 2 traces: 0.2 to 0.9; you say where success starts)"]
    box = page.get_by_test_id("stSelectbox").filter(has_text="Outcome of each trace").locator("input")
    box.fill("weather.answerd")  # typed, misspelt: named for both files, and both previews say so
    box.press("Enter")
    page.get_by_text("outcome attribute 'weather.answerd': in none of the first 3 traces (is it spelt as in the "
                     "file?); their outcomes are read as if none were named").wait_for(timeout=30000)
    page.get_by_text("outcome attribute 'weather.answerd': in none of the first 2 traces").wait_for()
    page.get_by_test_id("stSelectbox").filter(has_text="Outcome of each trace").click()
    page.get_by_role("option", name="weather.answered (span attribute").click()
    page.get_by_text("agent.jsonl (OpenTelemetry GenAI trace): 3 records → 3 trajectories (success 2, failure 1, "
                     "unknown 0)").wait_for(timeout=30000)  # the preview reads it
    page.get_by_text("weather.answered is read in agent.jsonl; langfuse.jsonl has no such name and keeps its "
                     "outcomes as the data says.").wait_for()
    full_screenshot(page, "trace-outcome-choice")
    page.get_by_role("button", name="Import 2 file(s)").click()
    page.get_by_text("Import report: 5 trajectories imported, 0 already present, 0 errors in 2 files.").wait_for(
        timeout=60000)
    ws = Workspace(app.db)
    assert {r.actor for r in list_imports(ws.db)} == {"Dana"}  # who imported them, as the history shows
    outcomes = {}
    for tid in trajectory_ids(ws.db):
        t = get_trajectory(ws.db, tid, with_steps=False)
        outcomes[(t.source_format, t.task)] = (t.outcome, t.outcome_detail)
    ws.close()
    assert outcomes[("otel_genai", "What is the weather in Oslo right now?")] == ("success", "weather.answered: True")
    assert outcomes[("otel_genai", "What is the weather in Atlantis right now?")] == (
        "failure", "weather.answered: False")
    assert outcomes[("langfuse", "What is the weather in Cairo right now?")][0] == "success"  # its usual score
