"""Property-based fuzzing of detection and every importer: hostile input never crashes an import,
always yields either stored trajectories or clear located errors, and never half-writes."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trace2skill.ingest import import_stream
from trace2skill.ingest.registry import FORMATS

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["role", "content", "tool_calls", "messages", "traj", "task_id", "info",
                                       "type", "steps", "schema_version", "trajectory", "history", "id",
                                       "source", "action", "observation", "message", "sessionId", "uuid",
                                       "function", "name", "arguments", "cause", "args"]) | st.text(max_size=8),
                      children, max_size=6),
    max_leaves=30,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _counts(ws) -> tuple:
    return tuple(ws.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("trajectories", "steps"))


def _check(ws, payload: bytes) -> None:
    report = import_stream(ws, io.BytesIO(payload), "fuzz.json")
    for issue in report.errors:
        assert str(issue).startswith("fuzz.json"), str(issue)
        assert issue.problem
    _complete(ws, report)


def _complete(ws, report) -> None:
    """Every stored trajectory has all its steps."""
    for tid in report.trajectory_ids:
        n_steps, = ws.db.execute("SELECT n_steps FROM trajectories WHERE id = ?", [tid]).fetchone()
        stored, = ws.db.execute("SELECT count(*) FROM steps WHERE trajectory_id = ?", [tid]).fetchone()
        assert n_steps == stored


@FUZZ
@given(payload=st.binary(max_size=300))
def test_random_bytes(ws, payload):
    before = _counts(ws)
    report = import_stream(ws, io.BytesIO(payload), "fuzz.json")
    if report.imported == 0:
        assert _counts(ws) == before
    _check(ws, payload)


@FUZZ
@given(value=json_values, as_lines=st.booleans())
def test_random_json_documents(ws, value, as_lines):
    if as_lines and isinstance(value, list):
        payload = "\n".join(json.dumps(v) for v in value).encode()
    else:
        payload = json.dumps(value).encode()
    _check(ws, payload)


@FUZZ
@given(value=json_values, shape=st.sampled_from(["jsonl", "array", "object"]))
def test_every_sniffer_and_parser_fails_only_with_format_errors(value, shape):
    from trace2skill.errors import TrajectoryFormatError

    for fmt in FORMATS:
        assert fmt.sniff(value, shape) in (True, False)
        try:
            fmt.parse(value, "fuzz")
        except TrajectoryFormatError:
            pass


@FUZZ
@given(cut=st.integers(min_value=1, max_value=2000))
def test_truncated_real_records(ws, cut):
    from conftest import TAU_BENCH

    text = TAU_BENCH.read_bytes()[:20000]
    _check(ws, text[:cut])


REACT_LINES = st.lists(st.sampled_from(["=== Episode x", "Question: q?", "Thought: hmm", "Action: search[a]",
                                        "Action: sql", "Action Input: {\"q\": 1}", "Action Input: {broken",
                                        "Observation: Error: nope", "Observation: fine", "Final Answer: 4",
                                        "Gold answer: 4", "Result: correct", "Result: maybe", "", "   ",
                                        "Action: ", "Action: (", "Thought:"]) | st.text(max_size=30), max_size=25)


@FUZZ
@given(lines=REACT_LINES, noise=st.binary(max_size=40))
def test_text_logs_fail_only_with_located_errors(ws, lines, noise):
    from trace2skill.ingest.text_log import TextLogFormat, TextMapping

    mapping = TextMapping(record_start="^=== Episode", markers={
        "user": "Question:", "thought": "Thought:", "action": "Action:", "action_input": "Action Input:",
        "observation": "Observation:", "answer": "Final Answer:"}, gold=r"^Gold answer:\s*(.+)",
        outcome=r"^Result:\s*(\w+)")
    payload = "\n".join(lines).encode() + noise
    before = _counts(ws)
    report = import_stream(ws, io.BytesIO(payload), "fuzz.log", fmt=TextLogFormat(mapping))
    assert all(str(issue).startswith("fuzz.log") and issue.problem for issue in report.errors)
    assert not any("could not read record" in issue.problem for issue in report.errors)  # no importer bug
    if report.imported == 0:
        assert _counts(ws) == before
    _complete(ws, report)
