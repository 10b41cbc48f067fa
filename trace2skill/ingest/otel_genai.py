"""OpenTelemetry GenAI semantic conventions (`gen_ai.*`): a trace's spans as moments and a trajectory.

Spans by `gen_ai.operation.name`: model calls (`chat`, `text_completion`, `generate_content`), tool
runs (`execute_tool`: `gen_ai.tool.name`, `gen_ai.tool.call.id`, `.arguments`, `.result`) and agents
(`invoke_agent`, `create_agent`). A model call's messages are read wherever the instrumentation's
convention version put them, first found wins:
  1. attributes `gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.system_instructions`
     (JSON text or structured; current conventions, e.g. opentelemetry-instrumentation-openai-v2 with
     capture mode `span_only`);
  2. the same keys on a `gen_ai.client.inference.operation.details` event or log record (`event_only`);
  3. per-message events or log records `gen_ai.{system,user,assistant,tool}.message` and `gen_ai.choice`
     (conventions up to 1.36);
  4. events `gen_ai.content.prompt` / `gen_ai.content.completion` (`gen_ai.prompt`/`gen_ai.completion` JSON);
  5. flattened `gen_ai.prompt.{i}.*` / `gen_ai.completion.{i}.*` attributes (OpenLLMetry).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import text_of
from trace2skill.ingest.otlp import Event, Span
from trace2skill.ingest.span_steps import Message, Moment, ToolRun

MARKERS = ("gen_ai.operation.name", "gen_ai.system", "gen_ai.provider.name", "gen_ai.tool.name")
INFERENCE = {"chat", "text_completion", "generate_content", "completion"}
AGENTS = {"invoke_agent", "create_agent"}
DETAILS = "gen_ai.client.inference.operation.details"
LEGACY = {"gen_ai.system.message": "system", "gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant",
          "gen_ai.tool.message": "tool"}
_FLAT = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(.+)$")
_FLAT_CALL = re.compile(r"^tool_calls\.(\d+)\.(.+)$")


def is_genai(span: Span) -> bool:
    return not span.attributes.keys().isdisjoint(MARKERS) or any(
        e.name == DETAILS or e.name in LEGACY or e.name == "gen_ai.choice" for e in span.events)


def operation(span: Span) -> str:
    op = span.attributes.get("gen_ai.operation.name")
    if isinstance(op, str) and op:
        return op
    if "gen_ai.tool.name" in span.attributes or span.attributes.get("traceloop.span.kind") == "tool":
        return "execute_tool"
    return "chat"


# --------------------------------------------------------------------------- message layouts


def _json(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise TrajectoryFormatError(f"{what} is not valid JSON") from None
    return value


def _parts_messages(raw: Any, what: str, default_role: str) -> list[Message]:
    """`[{role, parts: [...]}]` (current conventions); OpenAI-style messages are accepted too."""
    value = _json(raw, what)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise TrajectoryFormatError(f"{what} should be a list of messages, got {type(value).__name__}")
    messages = []
    for item in value:
        if not isinstance(item, dict):
            raise TrajectoryFormatError(f"{what} holds a message that is not an object")
        parts = item.get("parts")
        if parts is None:
            messages.append(openai_message(item, default_role, what))
            continue
        if not isinstance(parts, list):  # each part is checked when it is used
            raise TrajectoryFormatError(f"{what}: a message's parts should be a list of objects")
        role = item.get("role")
        messages.append(Message(role if isinstance(role, str) and role else default_role, parts))
    return messages


def openai_message(item: Any, default_role: str, what: str) -> Message:
    """A chat message as OpenAI writes it (`role`, `content`, `tool_calls`, `tool_call_id`)."""
    if not isinstance(item, dict):
        raise TrajectoryFormatError(f"{what} holds a message that is not an object")
    raw_role = item.get("role")
    role = raw_role if isinstance(raw_role, str) and raw_role else default_role
    parts: list[dict[str, Any]] = []
    content = item.get("content")
    call_id = item.get("tool_call_id", item.get("id")) if role in ("tool", "function") else None
    if role in ("tool", "function"):
        parts.append({"type": "tool_call_response", "id": call_id, "response": text_of(content)})
    elif content not in (None, "", []):
        parts.append({"type": "text", "content": text_of(content)})
    calls = item.get("tool_calls") or []
    if not isinstance(calls, list):
        raise TrajectoryFormatError(f"{what}: tool_calls should be a list")
    for call in calls:
        if not isinstance(call, dict):
            raise TrajectoryFormatError(f"{what}: a tool call should be an object")
        function = call.get("function")
        function = function if isinstance(function, dict) else call
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": function.get("arguments")})
    return Message(role, parts)


def _flattened(attributes: dict[str, Any], which: str) -> list[Message]:
    """OpenLLMetry's `gen_ai.prompt.{i}.role|content|tool_call_id|tool_calls.{j}.name|arguments|id`."""
    by_index: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        found = _FLAT.match(key)
        if found is None or found.group(1) != which:
            continue
        slot = by_index.setdefault(int(found.group(2)), {})
        call = _FLAT_CALL.match(found.group(3))
        if call is not None:
            calls = slot.setdefault("tool_calls", {})
            calls.setdefault(int(call.group(1)), {})[call.group(2)] = value
        else:
            slot[found.group(3)] = value
    messages = []
    for index in sorted(by_index):
        slot = by_index[index]
        slot["tool_calls"] = [slot["tool_calls"][j] for j in sorted(slot["tool_calls"])] if "tool_calls" in slot else []
        messages.append(openai_message(slot, "user" if which == "prompt" else "assistant", f"gen_ai.{which}.{index}"))
    return messages


def _legacy_event(event: Event) -> tuple[bool, list[Message]]:
    """(is it an answer, its messages) for a per-message event or log record."""
    payload = event.body if isinstance(event.body, dict) else event.attributes
    if event.name == "gen_ai.choice":
        message = payload.get("message") if isinstance(payload.get("message"), dict) else payload
        return True, [openai_message(message, "assistant", event.name)]
    role = LEGACY[event.name]
    return False, [openai_message({"role": role, **payload}, role, event.name)]


def messages_of(span: Span) -> tuple[list[Message], list[Message]]:
    """(input messages, output messages) of a model call or agent span, from the first layout found."""
    sources: list[dict[str, Any]] = [span.attributes, *(e.attributes for e in span.events if e.name == DETAILS)]
    for attributes in sources:
        if any(k in attributes for k in ("gen_ai.input.messages", "gen_ai.output.messages",
                                         "gen_ai.system_instructions")):
            where = f"span {span.name!r}"
            system = attributes.get("gen_ai.system_instructions")
            inputs = [Message("system", _system_parts(system, where))] if system not in (None, "", []) else []
            if attributes.get("gen_ai.input.messages") is not None:
                inputs += _parts_messages(attributes["gen_ai.input.messages"], f"{where} gen_ai.input.messages", "user")
            outputs = []
            if attributes.get("gen_ai.output.messages") is not None:
                outputs = _parts_messages(attributes["gen_ai.output.messages"], f"{where} gen_ai.output.messages",
                                          "assistant")
            return inputs, outputs
    legacy = [e for e in span.events if e.name in LEGACY or e.name == "gen_ai.choice"]
    if legacy:
        inputs, outputs = [], []
        for event in sorted(legacy, key=lambda e: e.time):
            answer, messages = _legacy_event(event)
            (outputs if answer else inputs).extend(messages)
        return inputs, outputs
    prompt = next((e.attributes.get("gen_ai.prompt") for e in span.events if e.name == "gen_ai.content.prompt"), None)
    completion = next((e.attributes.get("gen_ai.completion") for e in span.events
                       if e.name == "gen_ai.content.completion"), None)
    if prompt is not None or completion is not None:
        return (_parts_messages(prompt, "gen_ai.prompt", "user") if prompt is not None else [],
                _parts_messages(completion, "gen_ai.completion", "assistant") if completion is not None else [])
    return _flattened(span.attributes, "prompt"), _flattened(span.attributes, "completion")


def _system_parts(raw: Any, where: str) -> list[dict[str, Any]]:
    value = _json(raw, f"{where} gen_ai.system_instructions")
    if isinstance(value, str):
        return [{"type": "text", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        raise TrajectoryFormatError(f"{where} gen_ai.system_instructions should be a list of parts")
    return value


# --------------------------------------------------------------------------- spans to moments


def _error_text(span: Span) -> str:
    for event in span.events:
        if event.name == "exception" and event.attributes.get("exception.message"):
            return f"Error: {event.attributes['exception.message']}"
    why = span.status_message or span.attributes.get("error.type")
    return f"Error: {why}" if why else "Error"


def tool_run(span: Span, name_key: str, id_key: str | None, args: Any, result: Any) -> ToolRun:
    """A tool span's run (shared with OpenInference's TOOL spans)."""
    raw_name = span.attributes.get(name_key)
    name = raw_name if isinstance(raw_name, str) and raw_name else span.name.removeprefix("execute_tool ").strip()
    raw_id = span.attributes.get(id_key) if id_key else None
    failed = span.status == "ERROR"
    text = None if result is None else (result if isinstance(result, str) else text_of(result))
    if failed and not text:
        text = _error_text(span)
    return ToolRun(name=name or "tool", call_id=str(raw_id) if raw_id not in (None, "") else None,
                   arguments=args, result=text, is_error=failed)


def trace_moments(spans: list[Span]) -> list[Moment]:
    """The moments of a trace's spans (in start order).

    A model call is sent the whole conversation so far: when its `gen_ai.input.messages` text starts
    with the previous call's (the same list, longer), only the new messages are read and the moment
    `follows` the previous one (`StepBuilder` counts the messages it skipped)."""
    out: list[Moment] = []
    last: tuple[str, Moment] | None = None
    for span in spans:
        op = operation(span)
        ref = f"span {span.span_id}"
        if op == "execute_tool":
            attributes = span.attributes
            args = attributes.get("gen_ai.tool.call.arguments", attributes.get("traceloop.entity.input"))
            result = attributes.get("gen_ai.tool.call.result", attributes.get("traceloop.entity.output"))
            run = tool_run(span, "gen_ai.tool.name", "gen_ai.tool.call.id", args, result)
            out += [Moment(span.start, span, ref, tool=run), Moment(span.end, span, ref, tool=run, ending=True)]
            continue
        if op not in INFERENCE and op not in AGENTS:
            continue  # embeddings, retrieval...: no conversation
        raw = span.attributes.get("gen_ai.input.messages")
        tail = _continuation(raw, last[0]) if last is not None and op in INFERENCE else None
        if tail is not None and last is not None and "gen_ai.system_instructions" not in span.attributes:
            inputs = _parts_messages(tail, f"span {span.name!r} gen_ai.input.messages", "user")
            outputs = _outputs(span)
            sent = Moment(span.start, span, f"{ref} input", messages=inputs, follows=last[1])
        else:
            inputs, outputs = messages_of(span)
            sent = Moment(span.start, span, f"{ref} input", messages=inputs, request=op in AGENTS)
        out += [sent, Moment(span.end, span, f"{ref} output", messages=outputs, answer=op not in AGENTS)]
        if op in INFERENCE:
            last = (raw, sent) if isinstance(raw, str) else None
    return out


def _continuation(raw: Any, previous: str) -> str | None:
    """The JSON list of the messages `raw` adds to `previous` (both JSON list texts), or None when
    `raw` does not start with the same messages."""
    if not isinstance(raw, str) or len(previous) < 2 or previous[-1] != "]":
        return None
    if raw == previous:
        return "[]"
    cut = len(previous) - 1
    if len(raw) > cut and raw[cut] == "," and raw.startswith(previous[:cut]) and previous[cut - 1] == "}":
        return "[" + raw[cut + 1:]
    return None


def _outputs(span: Span) -> list[Message]:
    raw = span.attributes.get("gen_ai.output.messages")
    return [] if raw is None else _parts_messages(raw, f"span {span.name!r} gen_ai.output.messages", "assistant")


def facts(spans: list[Span]) -> dict[str, Any]:
    """Model, agent, provider, conversation and token counts of the trace, for the trajectory."""
    out: dict[str, Any] = {}
    tokens = {"input_tokens": 0, "output_tokens": 0}
    for span in spans:
        a = span.attributes
        if operation(span) in INFERENCE:
            if "model" not in out:
                model = a.get("gen_ai.response.model") or a.get("gen_ai.request.model")
                if isinstance(model, str) and model:
                    out["model"] = model
            for key in tokens:
                value = a.get(_USAGE[key])
                if type(value) is int:
                    tokens[key] += value
        for key, names in _FACTS:
            if key not in out:
                for name in names:
                    value = a.get(name)
                    if isinstance(value, str) and value:
                        out[key] = value
                        break
    out.update({k: v for k, v in tokens.items() if v})
    return out


_USAGE = {"input_tokens": "gen_ai.usage.input_tokens", "output_tokens": "gen_ai.usage.output_tokens"}
_FACTS = (("agent", ("gen_ai.agent.name",)), ("conversation_id", ("gen_ai.conversation.id",)),
          ("provider", ("gen_ai.provider.name", "gen_ai.system")))
