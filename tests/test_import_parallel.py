"""Importing a file with worker processes (`trace2skill.ingest.parallel`) stores and reports exactly what
a one-process import does: the same trajectories in the same order, the same record count, the same
errors with their record numbers; a failing or killed worker ends the import with a clear error."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import TAU_BENCH

from trace2skill.cli import main
from trace2skill.ingest import import_paths, import_stream
from trace2skill.ingest.parallel import MIN_BYTES, PIPE_BYTES, _widen, _Worker, prepared_in_workers, worker_count
from trace2skill.ingest.records import FileReport
from trace2skill.ingest.traces import TraceFormat
from trace2skill.store import Workspace
from trace2skill.store.trajectories import get_trajectory, trajectory_ids

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_import_otlp.py"


def _otlp_writer() -> Any:
    """The OTLP file generator of the import bench (spans as the OpenTelemetry SDK's file exporter
    writes them: 512 per line, traces straddling lines)."""
    spec = importlib.util.spec_from_file_location("bench_import_otlp_for_tests", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_file


@pytest.fixture(scope="module")
def otlp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 agent traces, with a line that is not JSON and a trace none of whose spans is an agent's."""
    path = tmp_path_factory.mktemp("otlp") / "traces.jsonl"
    _otlp_writer()(path, 120, seed=5)
    lines = path.read_text().splitlines()
    stray = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "ab" * 16, "spanId": "cd" * 8, "name": "GET /health", "startTimeUnixNano": "1",
        "endTimeUnixNano": "2", "attributes": [{"key": "http.route", "value": {"stringValue": "/health"}}]}]}]}]}
    lines[1:1] = ["{not json", json.dumps(stray)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _import(tmp_path: Path, label: str, source: Any, **options: Any) -> tuple[FileReport, list[Any]]:
    ws = Workspace(tmp_path / f"{label}.db")
    try:
        report = import_stream(ws, source, "traces.jsonl" if not isinstance(source, Path) else None, **options)
        return report, [get_trajectory(ws.db, i) for i in trajectory_ids(ws.db)]
    finally:
        ws.close()


def _same(one: FileReport, other: FileReport) -> None:
    assert (other.format, other.records, other.imported, other.duplicates) == (
        one.format, one.records, one.imported, one.duplicates)
    assert [(e.problem, e.record, e.line) for e in other.errors] == [(e.problem, e.record, e.line) for e in one.errors]
    assert other.trajectory_ids == one.trajectory_ids


def test_an_otlp_file_imports_the_same_with_workers(tmp_path: Path, otlp_file: Path) -> None:
    alone, stored_alone = _import(tmp_path, "alone", otlp_file, workers=1)
    shared, stored_shared = _import(tmp_path, "shared", otlp_file, workers=2)
    _same(alone, shared)
    assert alone.imported == 120 and len(alone.errors) == 2
    problems = " | ".join(str(e) for e in shared.errors)
    assert "invalid JSON" in problems and "line 2" in problems  # the broken line, by its number
    assert "no span of this trace follows the GenAI" in problems  # the health check's trace
    assert [t.model_dump(exclude={"imported_at"}) for t in stored_shared] == [
        t.model_dump(exclude={"imported_at"}) for t in stored_alone]
    failing = [t for t in stored_shared if t.outcome == "failure"]
    assert len(failing) == 6  # every twentieth agent gave up
    assert stored_shared[0].task.startswith("Task 0:") and stored_shared[0].n_steps >= 9


def test_three_workers_and_an_upload(tmp_path: Path, otlp_file: Path) -> None:
    """More workers than the file needs, and an upload (copied to a temporary file for them)."""
    alone, _ = _import(tmp_path, "alone", otlp_file, workers=1)
    upload, _ = _import(tmp_path, "upload", io.BytesIO(otlp_file.read_bytes()), workers=3)
    _same(alone, upload)
    assert not list(tmp_path.glob("trace2skill-upload-*"))


def test_real_tau_bench_results_with_workers_and_again(tmp_path: Path) -> None:
    """The τ-bench results (a JSON array, read item by item) through two workers; importing the file
    again adds nothing."""
    alone = import_paths(Workspace(tmp_path / "alone.db"), [TAU_BENCH], workers=1).files[0]
    ws = Workspace(tmp_path / "shared.db")
    shared = import_paths(ws, [TAU_BENCH], workers=2).files[0]
    _same(alone, shared)
    assert shared.imported == 200 and shared.format == "tau_bench"
    again = import_paths(ws, [TAU_BENCH], workers=2).files[0]
    assert (again.imported, again.duplicates, again.errors) == (0, 200, [])
    ws.close()


def test_the_cli_takes_workers(tmp_path: Path, otlp_file: Path) -> None:
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(main, ["--db", str(db), "import", "--workers", "2", str(otlp_file)])
    assert "120 trajectories imported, 0 already present, 2 errors" in result.output, result.output
    assert result.exit_code == 1  # errors were reported


def test_a_failing_worker_ends_the_import_with_its_error(tmp_path: Path) -> None:
    report = FileReport(file="gone.jsonl")
    stream = prepared_in_workers(tmp_path / "gone.jsonl", TraceFormat(), "jsonl", "record", report, 2)
    with pytest.raises(RuntimeError, match="an import worker failed: FileNotFoundError"):
        list(stream)


def test_a_killed_worker_ends_the_import(otlp_file: Path) -> None:
    with _Worker(otlp_file, TraceFormat(), "jsonl", "record", "traces.jsonl", 0, 2) as worker:
        worker.process.kill()
        with pytest.raises(RuntimeError, match=r"an import worker stopped unexpectedly \(exit code -9"):
            list(worker.items())


def test_how_many_workers() -> None:
    assert worker_count(MIN_BYTES, "jsonl", "record", None) in (0, 2, 3, 4)  # one per core, when there are several
    assert worker_count(MIN_BYTES - 1, "jsonl", "record", None) == 0
    assert worker_count(10, "jsonl", "record", 3) == 3  # asked for
    assert worker_count(10, "jsonl", "record", 1) == 0
    assert worker_count(10**9, "object", "record", 4) == 0  # one document: nothing to share out
    assert worker_count(10**9, "jsonl", "document", 4) == 0


def test_a_field_mapping_goes_to_the_workers(tmp_path: Path) -> None:
    """The generic importer's mapping travels to the workers; a record without the task field is an
    error with its own record and line numbers, as in one process."""
    records = [{"question": f"What is {i} + {i}?", "run": {"answer": f"A: {2 * i}", "ok": i % 3 != 0}}
               for i in range(30)]
    records[7] = {"other": 1}
    data = tmp_path / "runs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    mapping = {"task": "question", "transcript": "run.answer", "outcome": "run.ok"}
    alone = import_paths(Workspace(tmp_path / "alone.db"), [data], mapping=mapping, workers=1).files[0]
    ws = Workspace(tmp_path / "shared.db")
    shared = import_paths(ws, [data], mapping=mapping, workers=2).files[0]
    _same(alone, shared)
    assert shared.format == "generic" and shared.imported == 29
    [issue] = shared.errors
    assert (issue.record, issue.line) == (7, 8) and "'question'" in issue.problem
    outcomes = [get_trajectory(ws.db, i).outcome for i in trajectory_ids(ws.db)]
    assert outcomes.count("failure") == 10  # i = 0, 3, ..., 27
    ws.close()


def test_rows_made_from_one_dump_are_the_rows_of_a_trajectory(otlp_file: Path) -> None:
    """`parse_prepared` dumps each trajectory once, for its id and its rows: the same rows as preparing
    the trajectory `parse_record` gives (τ-bench results and OTLP traces)."""
    from trace2skill.ingest.detect import detect
    from trace2skill.ingest.records import file_records, parse_prepared, parse_record
    from trace2skill.ingest.registry import FORMATS
    from trace2skill.signals import compute_signals
    from trace2skill.store.rows import prepare

    compared = 0
    for path in (TAU_BENCH, otlp_file):
        with open(path, "rb") as f:
            fmt, sniffed = detect(f, FORMATS)
            for raw in file_records(f, fmt, sniffed.shape, fmt.unit_for(sniffed.sample, sniffed.shape)):
                whole = [prepare(t, compute_signals(t)) for t in parse_record(fmt, raw, "f", FileReport(file="f"))]
                assert parse_prepared(fmt, raw, "f", FileReport(file="f")) == whole
                compared += len(whole)
    assert compared == 200 + 120


def test_a_workers_results_pipe_holds_several_chunks():
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("pipe sizes are a Linux call")
    import os

    read, write = os.pipe()
    with os.fdopen(read, "rb") as pipe, os.fdopen(write, "wb"):
        assert fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) < PIPE_BYTES
        _widen(pipe)
        assert fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    _widen(None)  # a worker without a pipe: nothing to do
