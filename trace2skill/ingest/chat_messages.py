"""Chat messages as tracing tools record a model call's input and output, read into the GenAI "parts"
shape (`span_steps.Message`) that the step builder works on.

One message may be:
  - an OpenAI Chat Completions message (`role`, `content`, `tool_calls`, `tool_call_id`);
  - an OpenAI Responses API item (`message` with `input_text`/`output_text` parts, `function_call`,
    `function_call_output`, `reasoning`);
  - a LangChain message, serialised (`{"lc": 1, "type": "constructor", "id": [..., "AIMessage"],
    "kwargs": {content, tool_calls: [{name, args, id}], tool_call_id}}`) or as a dict (`{"type": "ai",
    "data": {...}}`, `{"type": "human", "content": ...}`);
  - text (a message of the role the caller expects).
Containers around them: a list (lists of lists too, as LangChain batches them), a request
`{"messages": [...]}`, a Chat Completions response `{"choices": [{"message"}]}`, a Responses API
response `{"object": "response", "output": [items]}`, a LangChain result `{"generations": [[{"message"
or "text"}]]}`.
"""

from __future__ import annotations

from typing import Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import text_of
from trace2skill.ingest.otel_genai import openai_message
from trace2skill.ingest.span_steps import Message

_LC_CLASSES = {"HumanMessage": "user", "HumanMessageChunk": "user", "AIMessage": "assistant",
               "AIMessageChunk": "assistant", "SystemMessage": "system", "ToolMessage": "tool",
               "ToolMessageChunk": "tool", "FunctionMessage": "tool"}
_LC_TYPES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
_ITEMS = {"message", "function_call", "function_call_output", "reasoning"}
_MESSAGE_KEYS = ("role", "content", "tool_calls", "function_call", "tool_call_id")
_MAX_DEPTH = 6


def messages_in(value: Any, default_role: str, what: str, depth: int = 0) -> list[Message]:
    """The messages `value` holds (any layout above); `default_role` for text and role-less messages."""
    if depth > _MAX_DEPTH:
        raise TrajectoryFormatError(f"{what} is nested too deeply to read as messages")
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        return [Message(default_role, [{"type": "text", "content": value}])]
    if isinstance(value, list):
        out: list[Message] = []
        for item in value:
            out += messages_in(item, default_role, what, depth + 1) if isinstance(item, list) else (
                _one(item, default_role, what, depth))
        return out
    if isinstance(value, dict):
        for key in ("messages", "choices", "generations"):
            if isinstance(value.get(key), list):
                return [m for item in value[key] for m in _contained(item, default_role, what, depth + 1)]
        if value.get("object") == "response" and isinstance(value.get("output"), list):
            return messages_in(value["output"], default_role, what, depth + 1)
        return _one(value, default_role, what, depth)
    return [Message(default_role, [{"type": "text", "content": text_of(value)}])]


def _contained(item: Any, default_role: str, what: str, depth: int) -> list[Message]:
    """An entry of `messages`, `choices` (`{"message"}`) or `generations` (`[{"message" or "text"}]`)."""
    if isinstance(item, list):
        return [m for entry in item for m in _contained(entry, default_role, what, depth + 1)]
    if isinstance(item, dict) and "message" in item and not isinstance(item.get("role"), str):
        return messages_in(item["message"], default_role, what, depth + 1)
    if isinstance(item, dict) and "text" in item and "role" not in item and "content" not in item:
        return messages_in(item["text"], default_role, what, depth + 1)  # a LangChain text generation
    return messages_in(item, default_role, what, depth + 1) if isinstance(item, (str, dict)) else []


def _one(item: Any, default_role: str, what: str, depth: int) -> list[Message]:
    """One message (a message with nothing in it is left out)."""
    return [m for m in _message(item, default_role, what, depth) if m.parts]


def _message(item: Any, default_role: str, what: str, depth: int) -> list[Message]:
    if not isinstance(item, dict):
        return messages_in(text_of(item), default_role, what, depth + 1)
    kwargs = item.get("kwargs")
    if item.get("lc") == 1 and isinstance(kwargs, dict):
        names = item.get("id")
        name = names[-1] if isinstance(names, list) and names else ""
        return [_langchain(kwargs, _LC_CLASSES.get(name) if isinstance(name, str) else None, default_role)]
    kind = item.get("type")
    if isinstance(kind, str) and kind in _LC_TYPES and "role" not in item:
        data = item.get("data")
        return [_langchain(data if isinstance(data, dict) else item, _LC_TYPES[kind], default_role)]
    if isinstance(kind, str) and kind in _ITEMS:
        return _response_item(item, kind, default_role)
    if not any(key in item for key in _MESSAGE_KEYS):  # not a message: what it holds, as text
        return messages_in(text_of(item), default_role, what, depth + 1)
    return [openai_message(item, default_role, what)]


def _langchain(data: dict[str, Any], role: str | None, default_role: str) -> Message:
    if role is None:
        raw = data.get("role")
        role = raw if isinstance(raw, str) and raw else default_role
    content = data.get("content")
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": data.get("tool_call_id"), "response": text_of(content)})
    elif content not in (None, "", []):
        parts.append({"type": "text", "content": text_of(content)})
    calls = data.get("tool_calls")
    extra = data.get("additional_kwargs")
    if not calls and isinstance(extra, dict):
        calls = extra.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        inner = call.get("function")
        function: dict[str, Any] = inner if isinstance(inner, dict) else call
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": call["args"] if "args" in call else function.get("arguments")})
    return Message(role, parts)


def _response_item(item: dict[str, Any], kind: str, default_role: str) -> list[Message]:
    if kind == "function_call":
        return [Message("assistant", [{"type": "tool_call", "id": item.get("call_id", item.get("id")),
                                       "name": item.get("name"), "arguments": item.get("arguments")}])]
    if kind == "function_call_output":
        output = item.get("output")
        return [Message("tool", [{"type": "tool_call_response", "id": item.get("call_id"),
                                  "response": output if isinstance(output, str) else text_of(output)}])]
    if kind == "reasoning":
        text = text_of(item.get("summary")) or text_of(item.get("content"))
        return [Message("assistant", [{"type": "reasoning", "content": text}])] if text else []
    role = item.get("role")
    text = text_of(item.get("content"))
    return [Message(role if isinstance(role, str) and role else default_role,
                    [{"type": "text", "content": text}])] if text else []
