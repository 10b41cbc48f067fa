"""OpenInference conventions (Arize Phoenix): a trace's spans as moments and a trajectory's facts.

Spans by `openinference.span.kind`: `LLM` spans carry the model call's messages flattened with
indices (`llm.input_messages.{i}.message.role|content|tool_call_id|contents.{k}.message_content.*|
tool_calls.{j}.tool_call.id|function.name|function.arguments`, the same under `llm.output_messages`),
or else the request and response as JSON in `input.value`/`output.value`; `TOOL` spans are a tool run
(`tool.name`, `tool.id` when known, arguments in `input.value`, result in `output.value`); the root
`AGENT`/`CHAIN` span's `input.value` and `output.value` are the task and the final answer.
"""

from __future__ import annotations

from typing import Any

import orjson

from trace2skill.ingest.base import text_of
from trace2skill.ingest.otel_genai import openai_message, tool_run
from trace2skill.ingest.otlp import Span
from trace2skill.ingest.span_steps import Message, Moment

KIND = "openinference.span.kind"
TASK_KEYS = ("input", "question", "query", "task", "prompt", "message", "user_input")


def is_openinference(span: Span) -> bool:
    return isinstance(span.attributes.get(KIND), str)


def kind_of(span: Span) -> str:
    kind = span.attributes.get(KIND)
    return kind.upper() if isinstance(kind, str) else ""


def _unflatten(attributes: dict[str, Any], prefix: str) -> Any:
    """`prefix.0.message.role = x` ... as `[{"message": {"role": x}}]`."""
    root: dict[str, Any] = {}
    start = len(prefix) + 1
    for key, value in attributes.items():
        if not key.startswith(prefix) or key[len(prefix):len(prefix) + 1] != ".":
            continue
        node = root
        names = key[start:].split(".")
        for name in names[:-1]:
            child = node.get(name)
            if not isinstance(child, dict):
                child = node[name] = {}
            node = child
        node[names[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def _message(entry: Any, default_role: str) -> Message | None:
    message = entry.get("message") if isinstance(entry, dict) else None
    if not isinstance(message, dict):
        return None
    raw_role = message.get("role")
    role = raw_role if isinstance(raw_role, str) and raw_role else default_role
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": message.get("tool_call_id"),
                      "response": text_of(message.get("content"))})
    elif message.get("content") not in (None, ""):
        parts.append({"type": "text", "content": text_of(message["content"])})
    contents = message.get("contents")
    for item in contents if isinstance(contents, list) else []:
        content = item.get("message_content") if isinstance(item, dict) else None
        if isinstance(content, dict):
            kind = content.get("type")
            if kind in ("text", "reasoning"):
                parts.append({"type": kind, "content": text_of(content.get("text"))})
            elif isinstance(kind, str):
                parts.append({"type": kind, "modality": kind})
    calls = message.get("tool_calls")
    for item in calls if isinstance(calls, list) else []:
        call = item.get("tool_call") if isinstance(item, dict) else None
        if isinstance(call, dict):
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                          "arguments": function.get("arguments")})
    if isinstance(message.get("function_call_name"), str):
        parts.append({"type": "tool_call", "name": message["function_call_name"],
                      "arguments": message.get("function_call_arguments_json")})
    return Message(role, parts)


def _messages(span: Span, which: str, default_role: str) -> list[Message]:
    flat = _unflatten(span.attributes, f"llm.{which}_messages")
    if isinstance(flat, list):
        return [m for m in (_message(e, default_role) for e in flat) if m is not None]
    return _from_value(span, which)


def _json_value(span: Span, key: str) -> Any:
    value = span.attributes.get(key)
    if isinstance(value, str) and span.attributes.get(key.replace(".value", ".mime_type")) == "application/json":
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _from_value(span: Span, which: str) -> list[Message]:
    """The OpenAI request/response in `input.value`/`output.value` when messages were not flattened."""
    value = _json_value(span, f"{which}.value")
    if which == "input" and isinstance(value, dict) and isinstance(value.get("messages"), list):
        return [openai_message(m, "user", "input.value") for m in value["messages"] if isinstance(m, dict)]
    if which == "output" and isinstance(value, dict) and isinstance(value.get("choices"), list):
        return [openai_message(c["message"], "assistant", "output.value") for c in value["choices"]
                if isinstance(c, dict) and isinstance(c.get("message"), dict)]
    if which == "output" and isinstance(value, str) and value:
        return [Message("assistant", [{"type": "text", "content": value}])]
    return []


def trace_moments(spans: list[Span]) -> list[Moment]:
    return [m for span in spans for m in moments(span)]


def moments(span: Span) -> list[Moment]:
    kind = kind_of(span)
    ref = f"span {span.span_id}"
    if kind == "TOOL":
        args, result = _json_value(span, "input.value"), span.attributes.get("output.value")
        run = tool_run(span, "tool.name", "tool.id", args, result)
        return [Moment(span.start, span, ref, tool=run), Moment(span.end, span, ref, tool=run, ending=True)]
    if kind != "LLM":
        return []
    return [Moment(span.start, span, f"{ref} input", messages=_messages(span, "input", "user")),
            Moment(span.end, span, f"{ref} output", messages=_messages(span, "output", "assistant"), answer=True)]


def root_text(span: Span, which: str) -> str | None:
    """The task (`input`) or final answer (`output`) of a root AGENT/CHAIN span, when it reads as text."""
    if kind_of(span) not in ("AGENT", "CHAIN"):
        return None
    value = _json_value(span, f"{which}.value")
    if isinstance(value, dict):
        value = next((value[k] for k in TASK_KEYS if k in value), None) if which == "input" else (
            value.get("output", value.get("answer")))
    text = text_of(value) if value is not None else ""
    return text or None


def facts(spans: list[Span]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tokens = {"input_tokens": 0, "output_tokens": 0}
    for span in spans:
        a = span.attributes
        kind = kind_of(span)
        if kind == "LLM":
            if isinstance(a.get("llm.model_name"), str) and a["llm.model_name"]:
                out.setdefault("model", a["llm.model_name"])
            for key, name in (("input_tokens", "llm.token_count.prompt"),
                              ("output_tokens", "llm.token_count.completion")):
                value = a.get(name)
                tokens[key] += value if isinstance(value, int) and not isinstance(value, bool) else 0
        if kind == "AGENT":
            out.setdefault("agent", a.get("agent.name") if isinstance(a.get("agent.name"), str) else span.name)
        for key, names in (("provider", ("llm.provider", "llm.system")), ("session_id", ("session.id",))):
            value = next((a[n] for n in names if isinstance(a.get(n), str) and a.get(n)), None)
            if value is not None:
                out.setdefault(key, value)
    out.update({k: v for k, v in tokens.items() if v})
    return out
