"""SWE-agent `.traj` files (FORMATS.md §5).

Source: `SWE-agent/SWE-agent` (0.x and 1.x output files). A `.traj` is one JSON object
`{environment, trajectory[{action, observation, response, thought, state, ...}], history[chat
messages], info{exit_status, submission, model_stats, ...}, replay_config? (1.x)}`.

Each `trajectory[i]` becomes one assistant step holding the action as a tool call and the
observation as its result. In 1.x the i-th assistant action message of `history` carries the
real OpenAI-style tool call (often as a Python-repr string); it replaces the action-text call when
it pairs reliably. There is no resolution label (that needs the SWE-bench harness), so the
outcome is "unknown" unless the run ended without a submission on an exit status.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import PurePath
from typing import Any, ClassVar

from trace2skill.ingest.base import (
    Format,
    Shape,
    expect_type,
    get_path,
    parse_arguments,
    require,
    text_of,
)
from trace2skill.models import Outcome, Step, Task, ToolCall, ToolResult, Trajectory

ISSUE_TAG = re.compile(r"<issue>(.*?)</issue>", re.S)
ISSUE_TEXT = re.compile(r"^ISSUE:[ \t]*\n?(.*?)(?:\n[ \t]*INSTRUCTIONS:|\Z)", re.S | re.M)


def _literal(value: Any) -> Any:
    """A Python-repr or JSON string as a value (None when it is neither); other values as is."""
    if not isinstance(value, str):
        return value
    for load in (ast.literal_eval, json.loads):
        try:
            return load(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _str(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    return expect_type(value, str, f"{where}: '{key}'")


def _is_demo(message: dict[str, Any]) -> bool:
    return message.get("is_demo") is True or message.get("message_type") == "demonstration"


def _history_calls(history: list[Any], actions: list[str]) -> dict[int, ToolCall]:
    """Real tool calls from `history`, keyed by trajectory index, where the pairing is certain:
    the i-th assistant action message has the same action text as trajectory[i] and one call."""
    messages = [
        m
        for m in history
        if isinstance(m, dict)
        and m.get("role") == "assistant"
        and "action" in m
        and not _is_demo(m)
    ]
    if len(messages) != len(actions):
        return {}
    calls: dict[int, ToolCall] = {}
    for i, (message, action) in enumerate(zip(messages, actions)):
        if (
            not isinstance(message.get("action"), str)
            or message["action"].strip() != action.strip()
        ):
            continue
        parsed = _literal(message.get("tool_calls"))
        if not (isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], dict)):
            continue
        function = parsed[0].get("function")
        if not isinstance(function, dict):
            continue
        name = function.get("name")
        if isinstance(name, str) and name:
            call_id, raw = parsed[0].get("id"), function.get("arguments")
            if raw is not None and not isinstance(raw, str):  # a literal, not a JSON string
                raw = json.dumps(raw, default=repr, skipkeys=True)
            arguments = parse_arguments(raw)
            calls[i] = ToolCall(
                id=str(call_id) if call_id else f"action-{i}", name=name, arguments=arguments
            )
    return calls


def _step(i: int, entry: Any, real_call: ToolCall | None) -> Step:
    where = f"trajectory[{i}]"
    entry = expect_type(entry, dict, where)
    action, observation = _str(entry, "action", where), _str(entry, "observation", where)
    thought, response = _str(entry, "thought", where), _str(entry, "response", where)
    call = real_call
    if call is None and action.strip():
        name = action.split()[0]
        call = ToolCall(id=f"action-{i}", name=name, arguments={"command": action})
    results = [ToolResult(call_id=call.id if call else None, content=observation)]
    return Step(
        index=i,
        role="assistant",
        text=response if response != thought else "",
        reasoning=thought,
        tool_calls=[call] if call else [],
        tool_results=results if call or observation else [],
        raw_ref=where,
    )


def _prompt(history: list[Any], config: Any) -> str:
    for message in history:
        if isinstance(message, dict) and message.get("role") == "user" and not _is_demo(message):
            text = text_of(message.get("content"))
            match = ISSUE_TAG.search(text) or ISSUE_TEXT.search(text)
            return (match.group(1) if match else text).strip()
    statement = get_path(config, "problem_statement.text")
    return statement.strip() if isinstance(statement, str) else ""


def _task_id(source_name: str, config: Any) -> str | None:
    instance = get_path(config, "problem_statement.id")
    if isinstance(instance, str) and instance:
        return instance
    name = PurePath(source_name).name if source_name else ""
    return name[: -len(".traj")] if name.endswith(".traj") and len(name) > 5 else None


def _model(config: Any, stats: Any) -> str | None:
    for value in (
        get_path(config, "agent.model.name"),
        get_path(config, "agent.model.model_name"),
        get_path(stats, "model"),
        get_path(stats, "model_name"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


class SWEAgentFormat(Format):
    name = "swe_agent"
    unit = "record"
    one_task = True  # one issue per run; the environment answers in user turns
    shapes: ClassVar[tuple[Shape, ...]] = ("object", "jsonl", "array")

    def sniff(self, sample: Any, shape: Shape) -> bool:
        if shape not in self.shapes or not isinstance(sample, dict):
            return False
        trajectory = sample.get("trajectory")
        if not (isinstance(trajectory, list) and isinstance(sample.get("info"), dict)):
            return False
        first_ok = not trajectory or (isinstance(trajectory[0], dict) and "action" in trajectory[0])
        return first_ok and isinstance(sample.get("history", []), list)

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        record = expect_type(record, dict, "a SWE-agent .traj record")
        require("trajectory" in record, "record has no 'trajectory' list")
        entries = expect_type(record["trajectory"], list, "'trajectory'")
        history = expect_type(record.get("history") or [], list, "'history'")
        info = expect_type(record.get("info") or {}, dict, "'info'")
        config = _literal(record.get("replay_config"))

        actions = [e.get("action") if isinstance(e, dict) else None for e in entries]
        real = {}
        names = [a for a in actions if isinstance(a, str)]
        if len(names) == len(actions):
            real = _history_calls(history, names)
        steps = [_step(i, entry, real.get(i)) for i, entry in enumerate(entries)]

        status = info.get("exit_status")
        submission = info.get("submission")
        require(status is None or isinstance(status, str), "info.exit_status should be a string")
        require(
            submission is None or isinstance(submission, str), "info.submission should be a string"
        )
        stats = info.get("model_stats")
        parsed_stats = _literal(stats)  # a repr string in 0.x
        stats = parsed_stats if isinstance(parsed_stats, dict) else stats
        metadata: dict[str, Any] = {
            "exit_status": status,
            "model_stats": stats,
            "environment": record.get("environment"),
        }
        outcome = Outcome()
        if status:
            outcome = Outcome(detail=f"exit_status: {status}")
            if status != "submitted":
                metadata["termination"] = status
                if not submission:
                    outcome = Outcome(label="failure", detail=f"exit_status: {status}")
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(id=_task_id(source_name, config), prompt=_prompt(history, config)),
                outcome=outcome,
                steps=steps,
                model=_model(config, stats),
                final_output=submission,
                metadata={k: v for k, v in metadata.items() if v is not None},
            )
        ]
