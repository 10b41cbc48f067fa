"""An OpenTelemetry trace file uploaded in a real browser: spans as the SDK's file exporter writes them
(traces straddling lines, read the fast way) plus a line that is not JSON; the report names the bad
line and the format in words, and the Trajectories table lists the traces in the file's order."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.e2e.conftest import full_screenshot, grid_text, open_app, wait_idle

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
