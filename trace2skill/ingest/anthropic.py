"""Anthropic Messages API records (FORMATS.md §2).

Source: the Anthropic Messages API request/response shapes (tool_use / tool_result content
blocks). A record is a request-like object

    {"model"?, "system"?: str | [text blocks], "messages": [{"role": "user"|"assistant",
     "content": str | [blocks]}], "tools"?, "response"?: <Messages response>,
     "outcome"? | "reward"? | "is_correct"?, "metadata"?}

or a bare list of such messages. Assistant `tool_use` blocks are answered by `tool_result`
blocks in the next user message (paired by `tool_use.id` == `tool_result.tool_use_id`).

The block helpers here (`message_step`, `final_text`) are reused by the Claude Code importer,
whose lines carry the same content blocks.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format, Shape, expect_type, parse_arguments, require, text_of
from trace2skill.models import Outcome, OutcomeLabel, Step, Task, ToolCall, ToolResult, Trajectory

SNIFF_BLOCKS = {"tool_use", "tool_result", "text", "thinking"}
TOOL_USE_BLOCKS = {"tool_use", "server_tool_use", "mcp_tool_use"}
OUTCOME_WORDS: dict[str, OutcomeLabel] = {
    **dict.fromkeys(("success", "succeeded", "pass", "passed", "resolved", "correct"), "success"),
    **dict.fromkeys(("failure", "failed", "fail", "incorrect", "error"), "failure"),
}
TERMINAL_STOPS = {"max_tokens", "refusal"}


# --------------------------------------------------------------------------- content blocks


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """Message content as a list of block dicts; a plain string becomes one text block."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    expect_type(content, list, f"{where}: content")
    for block in content:
        expect_type(block, dict, f"{where}: content block")
    return content


def _block_text(block: dict[str, Any]) -> str:
    if block.get("type") in ("image", "document"):
        return f"[{block['type']}]"
    return text_of(block)


def _result(block: dict[str, Any]) -> ToolResult:
    content = block.get("content")
    error_payload = isinstance(content, dict) and str(content.get("type", "")).endswith("_error")
    return ToolResult(
        call_id=_opt_str(block.get("tool_use_id")),
        content=text_of(content),
        is_error=block.get("is_error") is True or error_payload,
    )


def message_step(message: Any, index: int, where: str, timestamp: str | None = None) -> Step:
    """One Anthropic message (user/assistant/system) as a Step."""
    message = expect_type(message, dict, where)
    role = message.get("role")
    blocks = _blocks(message.get("content"), where)
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    results: list[ToolResult] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result" or (isinstance(kind, str) and kind.endswith("_tool_result")):
            results.append(_result(block))
        elif kind in ("thinking", "redacted_thinking"):
            reasoning.append(text_of(block.get("thinking")) if kind == "thinking" else "[redacted]")
        elif isinstance(kind, str) and kind in TOOL_USE_BLOCKS:
            name = block.get("name")
            require(isinstance(name, str) and bool(name), f"{where}: {kind} block has no name")
            assert isinstance(name, str)
            arguments = parse_arguments(block.get("input"))
            calls.append(ToolCall(id=_opt_str(block.get("id")), name=name, arguments=arguments))
        else:
            texts.append(_block_text(block))
    text = "\n".join(t for t in texts if t)
    if role == "user":
        role = "tool" if results and not text else "user"
    elif role not in ("assistant", "system"):
        raise TrajectoryFormatError(f"{where}: role should be user or assistant, got {role!r}")
    require(role == "assistant" or not calls, f"{where}: tool_use outside an assistant message")
    return Step(
        index=index,
        role=role,
        text=text,
        reasoning="\n".join(r for r in reasoning if r),
        tool_calls=calls,
        tool_results=results,
        timestamp=timestamp,
        raw_ref=where,
    )


def final_text(steps: list[Step]) -> str | None:
    """Text of the last assistant step, the agent's final answer, if it has any."""
    for step in reversed(steps):
        if step.role == "assistant":
            return step.text or None
    return None


# --------------------------------------------------------------------------- detection


def _block_types(messages: Any) -> set[str] | None:
    """Block types used by `messages` when they look like Anthropic messages, else None."""
    if not isinstance(messages, list) or not messages:
        return None
    types: set[str] = set()
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return None
        if "tool_calls" in message or "function_call" in message:
            return None  # OpenAI chat
        content = message.get("content")
        if isinstance(content, list):
            types.update(
                b["type"] for b in content if isinstance(b, dict) and isinstance(b.get("type"), str)
            )
        elif not isinstance(content, str):
            return None
    return types


def _label(body: dict[str, Any], reward: float | None) -> tuple[OutcomeLabel, str | None]:
    correct = body.get("is_correct")
    require(correct is None or isinstance(correct, bool), "'is_correct' should be a boolean")
    outcome = body.get("outcome")
    if isinstance(outcome, dict):
        outcome = outcome.get("label", outcome.get("status"))
    if isinstance(outcome, bool):
        return ("success" if outcome else "failure"), f"outcome: {str(outcome).lower()}"
    if isinstance(outcome, str):
        return OUTCOME_WORDS.get(outcome.strip().lower(), "unknown"), f"outcome: {outcome}"
    got = type(outcome).__name__
    require(outcome is None, f"'outcome' should be a string or a boolean, got {got}")
    if correct is not None:
        return ("success" if correct else "failure"), f"is_correct: {str(correct).lower()}"
    if reward is not None:
        return ("success" if reward >= 1.0 else "failure"), f"reward: {reward:g}"
    return "unknown", None


def _outcome(body: dict[str, Any]) -> Outcome:
    reward = body.get("reward")
    if reward is not None:
        ok = isinstance(reward, (int, float)) and not isinstance(reward, bool)
        require(ok, f"'reward' should be a number, got {type(reward).__name__}")
        reward = float(reward)
    label, detail = _label(body, reward)
    return Outcome(label=label, reward=reward, detail=detail)


class AnthropicMessagesFormat(Format):
    name = "anthropic"
    unit = "record"
    shapes: ClassVar[tuple[Shape, ...]] = ("jsonl", "array", "object")

    def sniff(self, sample: Any, shape: Shape) -> bool:
        if shape not in self.shapes:
            return False
        if isinstance(sample, list):  # a bare message list as one record
            types = _block_types(sample)
            return bool(types and types & {"tool_use", "tool_result"})
        if not isinstance(sample, dict):
            return False
        types = _block_types(sample.get("messages"))
        return types is not None and ("system" in sample or bool(types & SNIFF_BLOCKS))

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        if isinstance(record, list):
            body: dict[str, Any] = {}
            messages = record
        else:
            body = expect_type(record, dict, "an Anthropic Messages record")
            require("messages" in body, "record has no 'messages' list")
            messages = expect_type(body["messages"], list, "'messages'")
        require(bool(messages), "'messages' is empty")

        steps: list[Step] = []
        system = body.get("system")
        if system is not None:
            expect_type(system, (str, list), "'system'")
            if text_of(system):
                steps.append(Step(index=0, role="system", text=text_of(system), raw_ref="system"))
        for i, message in enumerate(messages):
            steps.append(message_step(message, len(steps), f"messages[{i}]"))

        metadata: dict[str, Any] = {}
        if isinstance(body.get("metadata"), dict):
            metadata.update(body["metadata"])
        response = body.get("response")
        if response is not None:
            expect_type(response, dict, "'response'")
            reply = {"role": "assistant", "content": response.get("content")}
            steps.append(message_step(reply, len(steps), "response"))
            if response.get("usage") is not None:
                metadata["usage"] = response["usage"]
        stop = (response or {}).get("stop_reason", body.get("stop_reason"))
        if stop is not None:
            metadata["stop_reason"] = stop
            if isinstance(stop, str) and stop in TERMINAL_STOPS:
                metadata["termination"] = stop
        if isinstance(body.get("tools"), list):
            metadata["tools"] = [t.get("name") for t in body["tools"] if isinstance(t, dict)]

        model = body.get("model") or (response or {}).get("model")
        task_id = body.get("task_id", body.get("id"))
        if isinstance(task_id, bool) or not isinstance(task_id, (str, int)):
            task_id = None
        prompt = next((s.text for s in steps if s.role == "user" and s.text), "")
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(id=_opt_str(task_id), prompt=prompt),
                outcome=_outcome(body),
                steps=steps,
                model=model if isinstance(model, str) else None,
                final_output=final_text(steps),
                metadata=metadata,
            )
        ]
