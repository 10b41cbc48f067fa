"""LangSmith run exports, one trajectory per trace (docs/formats-observability.md).

Read, per line (array item, or the whole object), LangSmith's `Run` and `Feedback` as the SDK's
schemas serialise them (`langsmith.schemas`): a root run with its `child_runs` nested (what
`Client.read_run(id, load_child_runs=True)` gives), or runs one by one (`Client.list_runs`), and
feedback (`key`, `score`, `value`, `run_id`, `trace_id`; `Client.list_feedback`), grouped by
`trace_id` (else the root of `dotted_order`, else the run's own id). Runs by `run_type`: `llm` a model
call (`inputs.messages`, OpenAI or LangChain messages, or `inputs.prompts`; `outputs` a Chat
Completions response, `generations` or a message), `tool` and `retriever` a tool run (`inputs`, or
LangChain's `inputs.input`; `outputs.output`; `error`: it failed), `chain`, `prompt`, `parser`,
`embedding` structure only. Task and final answer: the root run's `inputs`/`outputs`, else the first
user and last assistant messages. Outcome (`span_tree`): the feedback key the user names (or the
root's `feedback_stats` average for it), else feedback under a usual outcome name, else failure when a
run other than a tool run ended with an `error`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Shape, expect_type, get_path, text_of
from trace2skill.ingest.grouping import Entry, ids_anywhere
from trace2skill.ingest.otlp import Span
from trace2skill.ingest.span_steps import Moment
from trace2skill.ingest.span_tree import (
    TreeFormat,
    call_moments,
    count,
    depths,
    entry_list,
    error_outcome,
    first_text,
    io_text,
    last_by_id,
    named_outcome,
    ordered,
    tool_moments,
    trajectory,
    utc_nanos,
)
from trace2skill.models import Trajectory

TOOLS = ("tool", "retriever")
_STAMP = len("20250101T100000000000Z")
_MAX_NESTING = 64


def _is_run(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("run_type"), str) and isinstance(
        value.get("id"), str) and "start_time" in value


def _is_feedback(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("key"), str) and "run_id" in value and (
        "run_type" not in value)


def _parent(run: dict[str, Any]) -> str:
    parent = run.get("parent_run_id")
    return parent if isinstance(parent, str) else ""


def _trace_of(run: dict[str, Any]) -> str:
    """A run's trace id: `trace_id`, else the root run's id at the head of `dotted_order`, else its own id
    when it is a root."""
    trace_id = run.get("trace_id")
    if isinstance(trace_id, str) and trace_id:
        return trace_id
    order = run.get("dotted_order")
    if isinstance(order, str) and len(order.split(".", 1)[0]) > _STAMP:
        return order.split(".", 1)[0][_STAMP:]
    return run["id"] if not _parent(run) else ""


class _Layout:
    kinds: tuple[str, ...] = ("runs", "feedback")
    noun = "runs and feedback"
    root = "root run"

    def entries(self, item: Any) -> list[Entry]:
        out = []
        for entry in item if isinstance(item, list) else [item]:
            if _is_run(entry):
                trace_id = _trace_of(entry)
                if not trace_id:
                    raise TrajectoryFormatError(f"run {entry['id'][:40]!r} has no trace_id")
                out.append(Entry(trace_id, "runs", entry, root=not _parent(entry)))
            elif _is_feedback(entry):
                trace_id = entry.get("trace_id") or entry.get("run_id")
                out.append(Entry(trace_id if isinstance(trace_id, str) else "", "feedback", entry))
            else:
                keys = ", ".join(sorted(map(str, entry))[:8]) if isinstance(entry, dict) else type(entry).__name__
                raise TrajectoryFormatError(f"not a LangSmith run or feedback (no run_type, id and start_time, "
                                            f"or key and run_id): {keys}")
        return out

    def trace_ids(self, item: Any) -> set[str]:
        return ids_anywhere(item, _own_trace_id)


def _own_trace_id(item: dict[str, Any]) -> str:
    if _is_run(item):
        return _trace_of(item)
    value = item.get("trace_id")
    return value if isinstance(value, str) else ""


def _flatten(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs and all their nested `child_runs`."""
    out: list[dict[str, Any]] = []
    stack = [(run, 0) for run in reversed(runs)]
    while stack:
        run, level = stack.pop()
        if not _is_run(run):
            raise TrajectoryFormatError("a child run has no run_type, id or start_time")
        if level > _MAX_NESTING:
            raise TrajectoryFormatError("child runs are nested too deeply")
        out.append(run)
        stack += [(child, level + 1) for child in reversed(entry_list(run.get("child_runs"), "child_runs"))]
    return out


def _span(run: dict[str, Any], trace_id: str) -> Span:
    where = f"run {run['id'][:40]!r}"
    start = utc_nanos(run.get("start_time"), where)
    end = utc_nanos(run.get("end_time"), where) if run.get("end_time") else start
    error = run.get("error")
    first_line = text_of(error).strip().splitlines()[0] if error not in (None, "") and text_of(error).strip() else ""
    return Span(trace_id=trace_id, span_id=run["id"], parent_id=_parent(run), name=str(run.get("name") or "run"),
                kind=run["run_type"].lower(), start=start, end=max(start, end), attributes=run,
                status="ERROR" if error not in (None, "") else "UNSET", status_message=first_line)


def _unwrap(value: Any, key: str) -> Any:
    """`{"input": x}` / `{"output": x}` (LangChain's tool runs, traceable functions) as `x`; a LangChain
    message as its content."""
    if isinstance(value, dict) and set(value) == {key}:
        value = value[key]
    if isinstance(value, dict) and value.get("lc") == 1 and isinstance(value.get("kwargs"), dict):
        return value["kwargs"].get("content")
    return value


def _moments(span: Span) -> list[Moment]:
    run = span.attributes
    inputs, outputs = run.get("inputs"), run.get("outputs")
    if span.kind == "llm":
        sent = inputs.get("prompts", inputs) if isinstance(inputs, dict) and "messages" not in inputs else inputs
        return call_moments(span, sent, outputs)
    if span.kind in TOOLS:
        call_id = get_path(outputs, "output.kwargs.tool_call_id") if isinstance(outputs, dict) else None
        error = span.status_message if span.status == "ERROR" else None
        return tool_moments(span, span.name, _unwrap(inputs, "input"), _unwrap(outputs, "output"), error, call_id)
    return []


def _feedback(feedback: list[dict[str, Any]], root: dict[str, Any]) -> list[tuple[str, Any]]:
    """(key, value) of each feedback: on the root run before on other runs, newest first; then the root's
    `feedback_stats` averages."""
    newest = sorted(feedback, key=lambda f: str(f.get("created_at") or ""), reverse=True)
    newest.sort(key=lambda f: f.get("run_id") != root.get("id"))
    pairs = [(f["key"], f["score"] if f.get("score") is not None else f.get("value")) for f in newest]
    stats = root.get("feedback_stats")
    for key, value in stats.items() if isinstance(stats, dict) else []:
        pairs.append((key, value.get("avg") if isinstance(value, dict) else value))
    return pairs


def _model(run: dict[str, Any]) -> str | None:
    return first_text(get_path(run, "extra.metadata.ls_model_name"), get_path(run, "extra.invocation_params.model"),
                      get_path(run, "extra.invocation_params.model_name"), get_path(run, "inputs.model"),
                      get_path(run, "outputs.model"))


def _tokens(run: dict[str, Any], which: str) -> int:
    short = "prompt" if which == "input" else "completion"
    return (count(run.get(f"{short}_tokens")) or count(get_path(run, f"extra.metadata.usage_metadata.{which}_tokens"))
            or count(get_path(run, f"outputs.usage_metadata.{which}_tokens"))
            or count(get_path(run, f"outputs.usage.{short}_tokens")))


class LangSmithFormat(TreeFormat):
    name: ClassVar[str] = "langsmith"
    layout = _Layout()

    def sniff(self, sample: Any, shape: Shape) -> bool:
        items = sample if isinstance(sample, list) else [sample]
        return bool(items) and _is_run(items[0])

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        expect_type(record, dict, "a trace")
        trace_id = record.get("traceId")
        if not isinstance(trace_id, str) or not trace_id:
            raise TrajectoryFormatError("a trace has no trace id")
        runs = last_by_id(_flatten(entry_list(record.get("runs"), "runs")))
        spans = ordered([_span(run, trace_id) for run in runs])
        depth = depths(spans)
        top = min(spans, key=lambda s: (depth[s.span_id], s.start)) if spans else None
        root = top.attributes if top is not None else {}
        feedback = [f for f in entry_list(record.get("feedback"), "feedback") if _is_feedback(f)]
        outcome = named_outcome(_feedback(feedback, root), self.outcome_attribute, "feedback key") or error_outcome(
            ((s, f"{s.kind} run {s.name}") for s in spans if s.status == "ERROR" and s.kind not in TOOLS), spans)
        calls = [s.attributes for s in spans if s.kind == "llm"]
        metadata = {"trace_id": trace_id, "agent": first_text(root.get("name")),
                    "project": first_text(root.get("session_name")),
                    "conversation_id": first_text(*(get_path(root, f"extra.metadata.{k}")
                                                    for k in ("thread_id", "session_id", "conversation_id"))),
                    "tags": root.get("tags") if isinstance(root.get("tags"), list) else None,
                    "input_tokens": sum(_tokens(c, "input") for c in calls),
                    "output_tokens": sum(_tokens(c, "output") for c in calls)}
        return [trajectory(self.name, source_name, [m for s in spans for m in _moments(s)],
                           task=io_text(root.get("inputs"), "input"), final=io_text(root.get("outputs"), "output"),
                           outcome=outcome, model=first_text(*(_model(c) for c in calls)), metadata=metadata)]
