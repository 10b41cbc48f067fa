"""OpenAI Chat Completions message lists (and Responses API items).

Source: FORMATS.md §1. Accepted records:
  - a list of chat messages (`role`, `content`, `tool_calls`, `tool_call_id`, legacy `function_call`);
  - an object {"messages": [...], ...} with optional `task`/`task_id`/`model`/`outcome`/`reward`/
    `ground_truth`/`metadata` keys (fine-tuning style JSONL);
  - a list of Responses API items (`message`, `function_call`, `function_call_output`, `reasoning`).

A JSON array whose items are messages is one trajectory (unit "document"); a JSONL file whose
lines are message lists, or an array of {"messages": ...} objects, holds one trajectory per record.
"""

from __future__ import annotations

import re
from typing import Any

from trace2skill.ingest.base import (
    Format,
    Shape,
    Unit,
    expect_type,
    one_of,
    parse_arguments,
    require,
    text_of,
)
from trace2skill.ingest.outcomes import outcome_from_fields
from trace2skill.models import Step, Task, ToolCall, ToolResult, Trajectory

CHAT_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
RESPONSE_ITEM_TYPES = {"message", "function_call", "function_call_output", "reasoning"}
# Tool outputs without an error flag that still plainly report an error.
_ERROR_TEXT = re.compile(r"^\s*(error\b|exception\b|traceback \(most recent call last\))", re.IGNORECASE)


def looks_like_error(text: str) -> bool:
    return bool(_ERROR_TEXT.match(text))


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and one_of(value.get("role"), CHAT_ROLES) and (
        "content" in value or "tool_calls" in value or "function_call" in value
    )


def _is_response_item(value: Any) -> bool:
    return isinstance(value, dict) and one_of(value.get("type"), RESPONSE_ITEM_TYPES) and "role" not in value


def _is_transcript(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and (_is_message(value[0]) or _is_response_item(value[0]))


def _reasoning_of(message: dict[str, Any]) -> str:
    if message.get("reasoning_content"):
        return text_of(message["reasoning_content"])
    blocks = message.get("thinking_blocks")
    return text_of(blocks) if blocks else ""


def _chat_tool_calls(message: dict[str, Any], where: str) -> list[ToolCall]:
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls") or []
    expect_type(raw_calls, list, f"{where}.tool_calls")
    for j, call in enumerate(raw_calls):
        expect_type(call, dict, f"{where}.tool_calls[{j}]")
        function = expect_type(call.get("function"), dict, f"{where}.tool_calls[{j}].function")
        name = function.get("name")
        require(isinstance(name, str) and name != "", f"{where}.tool_calls[{j}] has no function name")
        calls.append(
            ToolCall(id=_opt_str(call.get("id")), name=name, arguments=parse_arguments(function.get("arguments")))
        )
    legacy = message.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
        calls.append(ToolCall(name=legacy["name"], arguments=parse_arguments(legacy.get("arguments"))))
    return calls


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def messages_to_steps(messages: list[Any], ref_prefix: str = "messages") -> list[Step]:
    """Convert chat messages (or Responses API items) to steps, one step per message/item."""
    expect_type(messages, list, ref_prefix)
    steps: list[Step] = []
    for i, message in enumerate(messages):
        where = f"{ref_prefix}[{i}]"
        expect_type(message, dict, where)
        if "role" not in message and one_of(message.get("type"), RESPONSE_ITEM_TYPES):
            steps.append(_response_item_step(message, len(steps), where))
            continue
        role = message.get("role")
        require(one_of(role, CHAT_ROLES), f"{where} has unknown role {role!r}")
        text = text_of(message.get("content"))
        if role in ("tool", "function"):
            call_id = _opt_str(message.get("tool_call_id")) if role == "tool" else _opt_str(message.get("name"))
            result = ToolResult(call_id=call_id, content=text, is_error=looks_like_error(text))
            steps.append(Step(index=len(steps), role="tool", tool_results=[result], raw_ref=where))
            continue
        steps.append(
            Step(
                index=len(steps),
                role="system" if role == "developer" else role,
                text=text,
                reasoning=_reasoning_of(message) if role == "assistant" else "",
                tool_calls=_chat_tool_calls(message, where) if role == "assistant" else [],
                raw_ref=where,
            )
        )
    return steps


def _response_item_step(item: dict[str, Any], index: int, where: str) -> Step:
    kind = item["type"]
    if kind == "message":
        role = item.get("role", "assistant")
        return Step(index=index, role=role if role in ("system", "user", "assistant") else "user",
                    text=text_of(item.get("content")), raw_ref=where)
    if kind == "reasoning":
        return Step(index=index, role="assistant", reasoning=text_of(item.get("summary")), raw_ref=where)
    if kind == "function_call":
        require(isinstance(item.get("name"), str), f"{where} function_call has no name")
        call = ToolCall(id=_opt_str(item.get("call_id")), name=item["name"],
                        arguments=parse_arguments(item.get("arguments")))
        return Step(index=index, role="assistant", tool_calls=[call], raw_ref=where)
    output = text_of(item.get("output"))
    result = ToolResult(call_id=_opt_str(item.get("call_id")), content=output, is_error=looks_like_error(output))
    return Step(index=index, role="tool", tool_results=[result], raw_ref=where)


def first_text(steps: list[Step], role: str) -> str:
    return next((s.text for s in steps if s.role == role and s.text), "")


def last_text(steps: list[Step], role: str) -> str | None:
    return next((s.text for s in reversed(steps) if s.role == role and s.text), None)


class OpenAIChatFormat(Format):
    name = "openai_chat"
    unit = "record"

    def sniff(self, sample: Any, shape: Shape) -> bool:
        if shape == "array" and (_is_message(sample) or _is_response_item(sample)):
            return True
        if _is_transcript(sample):
            return True
        return isinstance(sample, dict) and _is_transcript(sample.get("messages"))

    def unit_for(self, sample: Any, shape: Shape) -> Unit:
        if shape == "array" and (_is_message(sample) or _is_response_item(sample)):
            return "document"
        return "record"

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        envelope: dict[str, Any] = {}
        if isinstance(record, dict):
            envelope = record
            require("messages" in record, "object has no 'messages' list")
            messages = record["messages"]
        else:
            messages = record
        expect_type(messages, list, "messages")
        require(len(messages) > 0, "message list is empty")
        steps = messages_to_steps(messages)
        task = envelope.get("task")
        prompt = text_of(task) if task is not None else first_text(steps, "user")
        ground_truth = envelope.get("ground_truth")
        raw_metadata = envelope.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(id=_opt_str(envelope.get("task_id")), prompt=prompt),
                outcome=outcome_from_fields(envelope),
                steps=steps,
                model=_opt_str(envelope.get("model")),
                final_output=last_text(steps, "assistant"),
                ground_truth=ground_truth if isinstance(ground_truth, dict) else (
                    {"answer": ground_truth} if ground_truth is not None else None
                ),
                metadata=metadata,
            )
        ]
