"""The fast way through plain OTLP span exports (`trace2skill.ingest.otlp_fast`) finds and reports
exactly what the usual reading does: the same trajectories with the same steps, the same errors with
their record and line numbers, whether a line is read the fast way, falls back part way (a span the
usual reading rejects) or is not that kind of line at all (log records, snake_case names)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from trace2skill.ingest import import_stream, otlp_fast, reader
from trace2skill.store import Workspace

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_import_otlp.py"
T1, T2, T3, T4, T5, T6 = "1" * 32, "2" * 32, "3" * 32, "4a" * 16, "5" * 32, "6" * 32


def _bench_writer() -> Any:
    spec = importlib.util.spec_from_file_location("bench_import_otlp_for_fast_tests", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_file


def _tool_span(trace: str, span: str, result: str, **more: Any) -> dict[str, Any]:
    attributes = [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
                  {"key": "gen_ai.tool.name", "value": {"stringValue": "lookup"}},
                  {"key": "gen_ai.tool.call.result", "value": {"stringValue": result}}]
    return {"traceId": trace, "spanId": span, "name": "execute_tool lookup", "kind": 1,
            "startTimeUnixNano": "1000", "endTimeUnixNano": "2000", "attributes": attributes, **more}


def _line(*spans: dict[str, Any], **export: Any) -> str:
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "svc"}}]}, "scopeSpans": [{"spans": list(spans)}]}],
        **export})


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bench traces, then lines of every kind: two traces interleaved, an event and a 70-bit integer
    (fast), a trace id that is a number (fast, then the usual reading's error), snake_case names and log
    records (usual), and spans of unusual values (upper-case ids, named kinds and statuses, a numeric or
    empty time)."""
    path = tmp_path_factory.mktemp("fast") / "traces.jsonl"
    _bench_writer()(path, 40, seed=3)
    event = {"name": "exception", "timeUnixNano": "1500", "attributes": [
        {"key": "exception.message", "value": {"stringValue": "timed out"}}]}
    big = {"key": "retries", "value": {"intValue": 2**70}}
    fast = _tool_span(T1, "a" * 16, "found", events=[event], status={"code": 2, "message": "timed out"})
    fast["attributes"].append(big)
    snake = {"trace_id": T2, "span_id": "b" * 16, "name": "execute_tool lookup", "kind": "SPAN_KIND_INTERNAL",
             "start_time_unix_nano": "1000", "end_time_unix_nano": "2000",
             "attributes": [{"key": "gen_ai.tool.name", "value": {"stringValue": "lookup"}},
                            {"key": "gen_ai.tool.call.result", "value": {"stringValue": "none"}}]}
    odd = [_tool_span(T4.upper(), "E" * 16, "one", kind="SPAN_KIND_CLIENT", startTimeUnixNano=1000),
           _tool_span(T4, "f" * 16, "two", parentSpanId="E" * 16, status={"code": "STATUS_CODE_ERROR"}),
           _tool_span(T4, "0" * 16, "three", kind=True, endTimeUnixNano="")]
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": T3, "spanId": "c" * 16, "body": {}}]}]}]}
    # two traces' spans interleaved on one line, runs of each (read as one entry the fast way), the
    # second trace's root first: it is handed on first either way (once the grace lines have passed)
    interleaved = [_tool_span(T5, "51" * 8, "a", parentSpanId="50" * 8),
                   _tool_span(T5, "52" * 8, "b", parentSpanId="50" * 8),
                   _tool_span(T6, "61" * 8, "c", parentSpanId="60" * 8), _tool_span(T6, "60" * 8, "d"),
                   _tool_span(T5, "53" * 8, "e", parentSpanId="50" * 8), _tool_span(T5, "50" * 8, "f")]
    fillers = [_line(_tool_span(f"{n:032x}", f"{n:016x}", "g")) for n in range(101, 109)]  # the grace lines
    lines = [*path.read_text().splitlines(), _line(*interleaved), *fillers, _line(fast),
             _line(_tool_span(12345, "d" * 16, "x")),
             json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [snake]}]}]}),
             _line(_tool_span(T3, "c" * 16, "sunny")), json.dumps(logs), _line(*odd)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _stored(tmp_path: Path, label: str, path: Path) -> tuple[Any, list[tuple], list[tuple]]:
    ws = Workspace(tmp_path / f"{label}.db")
    try:
        report = import_stream(ws, path, workers=1)
        trajectories = ws.db.execute("SELECT id, task, outcome, outcome_detail, metadata, n_steps, n_errors "
                                     "FROM trajectories ORDER BY rowid").fetchall()
        steps = ws.db.execute("SELECT trajectory_id, idx, role, text, tool_calls, tool_results, is_error, timestamp, "
                              "raw_ref FROM steps ORDER BY rowid").fetchall()
        return report, trajectories, steps
    finally:
        ws.close()


def test_the_fast_reading_stores_and_reports_what_the_usual_one_does(tmp_path: Path, mixed_file: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fast, fast_rows, fast_steps = _stored(tmp_path, "fast", mixed_file)
    monkeypatch.setattr(otlp_fast, "loads", reader._loads)  # every line the usual way
    usual, usual_rows, usual_steps = _stored(tmp_path, "usual", mixed_file)
    assert (fast.records, fast.imported) == (usual.records, usual.imported) == (54, 54)
    assert [(e.problem, e.record, e.line) for e in fast.errors] == [(e.problem, e.record, e.line) for e in usual.errors]
    assert [e.problem for e in fast.errors] == ["an id should be text, got int"]
    assert fast_rows == usual_rows and fast_steps == usual_steps
    by_trace = {json.loads(row[4])["trace_id"]: row for row in fast_rows}
    order = list(by_trace)  # in the order stored
    assert order.index(T6) + 1 == order.index(T5) and by_trace[T5][5] == 8  # all four of its spans
    assert by_trace[T1][2:4] == ("failure", "execute_tool lookup ended with an error: timed out")
    assert json.loads(by_trace[T1][4])["service"] == "svc"  # the resource, as the usual reading gives it
    assert by_trace[T2][5] == by_trace[T3][5] == 2  # snake_case and the log record's trace: read the usual way
    assert by_trace[T4][2] == "unknown" and by_trace[T4][5:] == (6, 1)  # the failed tool is not a top span


def test_which_lines_take_the_fast_way(mixed_file: Path) -> None:
    lines = mixed_file.read_bytes().splitlines()
    read = [otlp_fast.loads(line) for line in lines]
    fast = [isinstance(item, otlp_fast.FastExport) for item in read]
    assert all(fast[:-4]) and fast[-4:] == [False, True, False, True]  # snake_case and logs go the usual way
    spans, first = read[0].spans(), json.loads(lines[0])["resourceSpans"][0]
    assert len(spans) == len(first["scopeSpans"][0]["spans"]) and spans[0].as_dict() == {
        **{k: v for k, v in first["scopeSpans"][0]["spans"][0].items()
           if k in ("traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano",
                    "status", "attributes", "events")},
        "resource": {"attributes": first["resource"]["attributes"]}}


def test_a_time_of_infinity_is_an_error_of_its_trace(tmp_path: Path) -> None:
    """JSON's Infinity (which Python's reader takes) is no time: that trace is an error, the other imports."""
    path = tmp_path / "traces.jsonl"
    bad = _line(_tool_span(T1, "a" * 16, "x")).replace('"startTimeUnixNano": "1000"', '"startTimeUnixNano": Infinity')
    path.write_text(bad + "\n" + _line(_tool_span(T2, "b" * 16, "y")) + "\n")
    report, _, _ = _stored(tmp_path, "infinity", path)
    assert report.imported == 1
    assert [(e.problem, e.line) for e in report.errors] == [
        ("span 'execute_tool lookup' has a time that is not a number: inf", 1)]


def test_a_span_the_fast_way_cannot_read_is_reported_as_the_usual_way_says_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attribute without a key fails its trace with the span's name either way; a span that ends
    before it starts ends when it starts; a status as a number or a name is the same status."""
    keyless = _tool_span(T1, "a" * 16, "x")
    keyless["attributes"].append({"value": {"stringValue": "no key"}})
    backwards = _tool_span(T2, "b" * 16, "y", startTimeUnixNano="5000000000", endTimeUnixNano="4000000000",
                           status={"code": 2, "message": "broke"})
    named = _tool_span(T3, "c" * 16, "z", status={"code": "STATUS_CODE_ERROR"})
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join(_line(span) for span in (keyless, backwards, named)) + "\n")
    fast = _stored(tmp_path, "fast", path)
    monkeypatch.setattr(otlp_fast, "loads", reader._loads)
    usual = _stored(tmp_path, "usual", path)
    assert fast[1:] == usual[1:] and len(fast[1]) == 2
    assert [(e.problem, e.line) for e in fast[0].errors] == [(e.problem, e.line) for e in usual[0].errors] == [
        ("span 'execute_tool lookup' has an attribute without a key", 1)]
    assert [row[2:4] for row in fast[1]] == [("failure", "execute_tool lookup ended with an error: broke"),
                                            ("failure", "execute_tool lookup ended with an error")]
    assert [step[7] for step in fast[2][:2]] == ["1970-01-01T00:00:05.000Z"] * 2  # call and result at its start
