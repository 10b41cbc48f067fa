"""Property-based fuzzing of detection and every importer: hostile input never crashes an import,
always yields either stored trajectories or clear located errors, and never half-writes."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate

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


# --------------------------------------------------------------------------- OpenTelemetry traces

OTLP_KEYS = ["traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano",
             "attributes", "events", "status", "context", "parent_id", "resource", "timeUnixNano", "body", "eventName"]
ATTRIBUTE_KEYS = ["gen_ai.operation.name", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.name",
                  "gen_ai.tool.call.id", "gen_ai.system_instructions", "openinference.span.kind", "input.value",
                  "llm.input_messages.0.message.role", "llm.output_messages.0.message.tool_calls.0.tool_call.id",
                  "gen_ai.prompt.0.content", "tool.name", "output.value", "input.mime_type"]
attribute_values = json_values | st.sampled_from(["chat", "execute_tool", "invoke_agent", "LLM", "TOOL", "AGENT",
                                                  "application/json", "[{\"role\": \"user\", \"parts\": 1}]",
                                                  "[{\"role\": 5, \"parts\": [{\"type\": \"tool_call\"}]}]", "{"])
otlp_attributes = st.lists(st.fixed_dictionaries({"key": st.sampled_from(ATTRIBUTE_KEYS), "value": st.one_of(
    st.builds(lambda v: {"stringValue": v}, attribute_values), st.dictionaries(
        st.sampled_from(["stringValue", "intValue", "arrayValue", "kvlistValue", "boolValue"]), json_values,
        max_size=2))}), max_size=5) | json_values
otlp_spans = st.dictionaries(st.sampled_from(OTLP_KEYS), json_values | otlp_attributes | st.sampled_from(
    ["a" * 32, "b" * 16, "CvdlGRbNQ92ESOshHIAxnA==", "0x" + "c" * 16, "12", "2026-01-01T00:00:00Z"]), max_size=10)


@FUZZ
@given(spans=st.lists(otlp_spans, max_size=4), logs=st.lists(otlp_spans, max_size=2), trace=st.text(max_size=8))
def test_trace_parsers_fail_only_with_format_errors(spans, logs, trace):
    from trace2skill.errors import TrajectoryFormatError
    from trace2skill.ingest.traces import OpenInferenceFormat, TraceFormat

    for fmt in (TraceFormat("verdict"), OpenInferenceFormat()):
        try:
            fmt.parse({"traceId": trace or "t", "spans": spans, "logs": logs}, "fuzz")
        except TrajectoryFormatError:
            pass


@pytest.fixture(scope="module")
def otel_lines(tmp_path_factory) -> list[str]:
    """A real trace file (opentelemetry-instrumentation-openai-v2, one span a line)."""
    from otel_samples import weather_responder, write_genai_trace

    from trace2skill.llm.fake_server import FakeLLMServer

    path = tmp_path_factory.mktemp("fuzz-otel") / "traces.jsonl"
    with FakeLLMServer(weather_responder) as server:
        write_genai_trace(path, server.base_url, "m", ["Oslo", "Atlantis", "Lima"], simple=True)
    return path.read_text().splitlines()


def _trace_ids(line: str) -> set[str]:
    return {span["traceId"] for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"]
            for span in ss["spans"]}


@FUZZ
@given(data=st.data())
def test_damaged_trace_files_import_the_undamaged_traces_whole(ws, otel_lines, data):
    """One line of a real trace file damaged (a value replaced or removed): every error names the file,
    no importer breaks, and every trace the damaged line does not touch imports exactly as it would
    from the intact file; nothing is half-written."""
    from trace2skill.ingest.traces import TraceFormat

    def parsed(lines: list[str]) -> dict[str, str]:
        fmt, out = TraceFormat(), {}
        for raw in fmt.records(io.BytesIO("\n".join(lines).encode()), "jsonl", "record"):
            if raw.data is not None:
                out[raw.data["traceId"]] = fmt.parse(raw.data, "fuzz.jsonl")[0].with_id().id
        return out

    clean = parsed(otel_lines)
    which = data.draw(st.integers(0, len(otel_lines) - 1))
    lines = list(otel_lines)
    lines[which] = json.dumps(mutate(json.loads(lines[which]), data))
    before = _counts(ws)
    report = import_stream(ws, io.BytesIO("\n".join(lines).encode()), "fuzz.jsonl")
    assert all(str(issue).startswith("fuzz.jsonl: ") and issue.problem for issue in report.errors)
    assert not any("could not read record" in issue.problem for issue in report.errors)
    _complete(ws, report)
    if report.format is None:  # the first line decides the format: damaged past recognition, nothing is read
        assert which == 0 and _counts(ws) == before and report.errors[0].record is None
        return
    untouched = set(clean) - _trace_ids(otel_lines[which])
    assert untouched <= {t for t in clean if clean[t] in report.trajectory_ids}
    if report.imported == 0 and not report.duplicates:
        assert _counts(ws) == before


# --------------------------------------------------------------------------- tracing tools' exports

TREE_KEYS = {
    "openai_agents": ["object", "id", "trace_id", "parent_id", "started_at", "ended_at", "span_data", "error",
                      "type", "input", "output", "name", "from_agent", "to_agent", "triggered", "data", "response",
                      "message", "metadata", "workflow_name", "group_id", "model", "usage", "role", "content",
                      "tool_calls", "function", "arguments", "call_id"],
    "langfuse": ["id", "traceId", "type", "name", "startTime", "endTime", "parentObservationId", "input", "output",
                 "level", "statusMessage", "observations", "scores", "value", "stringValue", "dataType", "timestamp",
                 "isRootObservation", "usageDetails", "model", "messages", "role", "content", "tool_calls"],
    "langsmith": ["id", "run_type", "trace_id", "parent_run_id", "dotted_order", "start_time", "end_time", "inputs",
                  "outputs", "error", "child_runs", "key", "score", "run_id", "feedback_stats", "messages",
                  "generations", "choices", "message", "lc", "kwargs", "extra", "name", "output", "input"],
}
TREE_VALUES = st.sampled_from(["trace", "trace.span", "generation", "function", "handoff", "guardrail", "response",
                               "custom", "agent", "GENERATION", "TOOL", "EVENT", "AGENT", "ERROR", "CATEGORICAL",
                               "llm", "tool", "chain", "trace_" + "a" * 32, "span_1", "2026-01-01T00:00:00Z",
                               "2026-01-01 00:00:00", "20260101T000000000000Zr0.20260101T000000000001Zr1", "r0",
                               "assistant", "tool", "user", "{\"city\": 1}", "yesterday"])


_T0, _T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"
_CHAT = {"input": [{"role": "user", "content": "q"}],
         "output": [{"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}]}
_SPAN_DATA = [("generation", _CHAT), ("function", {"name": "f", "input": "{}", "output": "ok"}),
              ("handoff", {"from_agent": "a", "to_agent": "b"}), ("guardrail", {"name": "g", "triggered": True}),
              ("response", {"response": {"output": [{"type": "function_call", "call_id": "c1", "name": "f"}]},
                            "input": "q"}), ("agent", {"name": "a"}), ("custom", {"name": "c", "data": {"x": 1}})]
_RUN = {"name": "f", "trace_id": "r-chain", "start_time": _T0, "end_time": _T1, "parent_run_id": "r-chain",
        "inputs": {"messages": _CHAT["input"]}, "outputs": {"choices": [{"message": _CHAT["output"][0]}]},
        "error": None, "child_runs": []}
TREE_TEMPLATES = {  # entries that read, by the list of the trace record they go to, for the fuzzer to damage
    "openai_agents": {
        "traces": [{"object": "trace", "id": "trace_1", "workflow_name": "w", "group_id": None,
                    "metadata": {"verdict": "yes"}}],
        "spans": [{"object": "trace.span", "id": f"span_{kind}", "trace_id": "trace_1", "parent_id": None,
                   "started_at": _T0, "ended_at": _T1, "span_data": {"type": kind, **extra}, "error": None}
                  for kind, extra in _SPAN_DATA]},
    "langfuse": {
        "traces": [{"id": "t", "timestamp": _T0, "observations": [], "scores": [], "input": {"question": "q"}}],
        "observations": [{"id": f"o-{kind}", "traceId": "t", "type": kind, "name": "f", "startTime": _T0,
                          "endTime": _T1, "parentObservationId": None, "level": "DEFAULT", **_CHAT}
                         for kind in ("GENERATION", "TOOL", "EVENT", "AGENT")],
        "scores": [{"id": "s", "traceId": "t", "name": "verdict", "value": 1, "dataType": "BOOLEAN",
                    "timestamp": _T0}]},
    "langsmith": {
        "runs": [{**_RUN, "id": "r-chain", "run_type": "chain", "parent_run_id": None},
                 {**_RUN, "id": "r-llm", "run_type": "llm"}, {**_RUN, "id": "r-tool", "run_type": "tool"}],
        "feedback": [{"id": "f", "key": "verdict", "score": 1, "run_id": "r-chain", "trace_id": "r-chain"}]},
}


def _tree_entries(fmt_name: str, kind: str):
    """Lists of entries: templates of the format's entries with fields replaced, or made-up objects with
    the format's keys (three levels deep: an entry, its data, the messages in it)."""
    keys = st.sampled_from(TREE_KEYS[fmt_name])
    leaf = json_scalars | TREE_VALUES | st.lists(json_scalars | TREE_VALUES, max_size=2)
    inner = st.dictionaries(keys, leaf, max_size=4)
    middle = st.dictionaries(keys, leaf | inner | st.lists(inner, max_size=2), max_size=5)
    made_up = st.dictionaries(keys, leaf | middle | st.lists(middle, max_size=3), max_size=8)
    damaged = st.builds(lambda template, changes: {**template, **changes}, st.sampled_from(TREE_TEMPLATES[fmt_name][kind]),
                        st.dictionaries(keys, leaf | middle, max_size=1))
    return st.lists(st.one_of(damaged, damaged, damaged, made_up), max_size=5)


@pytest.mark.parametrize("fmt_name", sorted(TREE_KEYS))
@FUZZ
@given(data=st.data(), trace=st.text(max_size=8))
def test_tracing_tool_parsers_fail_only_with_format_errors(fmt_name, data, trace):
    """A trace record of hostile entries: a trajectory or a TrajectoryFormatError, nothing else; each
    line of entries: the layout reads it or says why not."""
    from trace2skill.errors import TrajectoryFormatError
    from trace2skill.ingest.registry import BY_NAME

    fmt = type(BY_NAME[fmt_name])("verdict")
    record = {"traceId": trace or "t", **{kind: data.draw(_tree_entries(fmt_name, kind)) for kind in fmt.layout.kinds}}
    try:
        fmt.parse(record, "fuzz")
    except TrajectoryFormatError:
        pass
    try:
        fmt.layout.entries(data.draw(_tree_entries(fmt_name, data.draw(st.sampled_from(fmt.layout.kinds)))))
    except TrajectoryFormatError:
        pass


@pytest.fixture(scope="module")
def tracing_lines(tmp_path_factory) -> dict[str, list[str]]:
    """Real files of each tracing tool (openai-agents, langfuse, langsmith), one entry or trace a line."""
    from agents_samples import agents_responder, write_agents_trace
    from langfuse_samples import write_langfuse_export
    from langsmith_samples import write_langsmith_export
    from otel_samples import question_for, weather_responder

    from trace2skill.llm.fake_server import FakeLLMServer

    folder = tmp_path_factory.mktemp("fuzz-tracing")
    cities = ["Oslo", "Atlantis", "Lima"]
    paths = {name: folder / f"{name}.jsonl" for name in ("openai_agents", "langfuse", "langsmith")}
    with FakeLLMServer(agents_responder) as server:
        write_agents_trace(paths["openai_agents"], server.base_url, "m", [question_for(c) for c in cities])
    with FakeLLMServer(weather_responder) as server:
        write_langfuse_export(paths["langfuse"], server.base_url, "m", cities, layout="observations")
    with FakeLLMServer(weather_responder) as server:
        write_langsmith_export(paths["langsmith"], server.base_url, "m", cities, layout="flat")
    return {name: path.read_text().splitlines() for name, path in paths.items()}


@pytest.mark.parametrize("fmt_name", ["openai_agents", "langfuse", "langsmith"])
@FUZZ
@given(data=st.data())
def test_damaged_tracing_files_import_the_undamaged_traces_whole(ws, tracing_lines, fmt_name, data):
    """One line of a real export damaged (a value replaced or removed): every error names the file, no
    importer breaks, every trace the damaged line does not name imports exactly as from the intact
    file, and nothing is half-written."""
    from trace2skill.ingest.registry import BY_NAME

    fmt = BY_NAME[fmt_name]
    original = tracing_lines[fmt_name]

    def parsed(lines: list[str]) -> dict[str, str]:
        out = {}
        for raw in fmt.records(io.BytesIO("\n".join(lines).encode()), "jsonl", "record"):
            if raw.data is not None:
                out[raw.data["traceId"]] = fmt.parse(raw.data, "fuzz.jsonl")[0].with_id().id
        return out

    clean = parsed(original)
    assert len(clean) == 3
    which = data.draw(st.integers(0, len(original) - 1))
    lines = list(original)
    lines[which] = json.dumps(mutate(json.loads(lines[which]), data))
    before = _counts(ws)
    report = import_stream(ws, io.BytesIO("\n".join(lines).encode()), "fuzz.jsonl")
    assert all(str(issue).startswith("fuzz.jsonl: ") and issue.problem for issue in report.errors)
    assert not any("could not read record" in issue.problem for issue in report.errors)
    _complete(ws, report)
    if report.format is None:  # the first line decides the format: damaged past recognition, nothing is read
        assert which == 0 and _counts(ws) == before and report.errors[0].record is None
        return
    assert report.format == fmt_name
    untouched = set(clean) - fmt.layout.trace_ids(json.loads(original[which]))
    assert untouched <= {t for t in clean if clean[t] in report.trajectory_ids}
    if report.imported == 0 and not report.duplicates:
        assert _counts(ws) == before
