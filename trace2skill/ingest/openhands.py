"""OpenHands event streams (FORMATS.md §7).

Source: `All-Hands-AI/OpenHands` (now `OpenHands/OpenHands`) event serialisation, as recorded in
`tests/runtime/trajs/*.json`. A file is a JSON array of events `{id, timestamp, source:
user|agent|environment, message, action + args | observation + content + extras + cause,
tool_call_metadata?}`; an observation answers the action whose `id` equals its `cause`.

User `message` actions become user steps; agent `message`/`think`/`finish` actions become
assistant text steps; other agent actions (run, edit, read, browse, ...) become assistant steps
with one tool call; observations become tool steps with one result. Bookkeeping events (agent
state changes, "null" observations, hidden events) are skipped. The stream has no outcome label.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trace2skill.ingest.base import Format, Shape, expect_type, get_path, require, text_of
from trace2skill.models import Step, Task, ToolCall, ToolResult, Trajectory

SOURCES = {"user", "agent", "environment"}
SKIP_ACTIONS = {"change_agent_state"}
SKIP_OBSERVATIONS = {"agent_state_changed", "null"}
TEXT_ACTIONS = {"message", "think", "finish"}


def _hidden(event: dict[str, Any]) -> bool:
    return any(
        isinstance(part, dict) and part.get("hidden") is True
        for part in (event, event.get("args"), event.get("extras"))
    )


def _finish_text(args: dict[str, Any], event: dict[str, Any]) -> str:
    for value in (args.get("outputs"), args.get("final_thought"), args.get("thought")):
        if value:
            return text_of(value)
    return text_of(event.get("message"))


def _is_error(event: dict[str, Any]) -> bool:
    code = get_path(event, "extras.metadata.exit_code")
    failed_code = isinstance(code, int) and not isinstance(code, bool) and code not in (0, -1)
    return event.get("observation") == "error" or failed_code


class OpenHandsFormat(Format):
    name = "openhands"
    unit = "document"
    shapes: ClassVar[tuple[Shape, ...]] = ("array",)

    def sniff(self, sample: Any, shape: Shape) -> bool:
        if shape not in self.shapes or not isinstance(sample, dict):
            return False
        event_id, source = sample.get("id"), sample.get("source")
        return (
            isinstance(event_id, int)
            and not isinstance(event_id, bool)
            and isinstance(source, str)
            and source in SOURCES
            and ("action" in sample or "observation" in sample)
        )

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        events = expect_type(record, list, "an OpenHands event stream (list of events)")
        steps: list[Step] = []
        call_ids: dict[int, str] = {}  # action id -> tool call id
        silent: set[int] = set()  # ids of actions whose observations carry nothing
        prompt, model, final, state = "", None, None, None
        for n, event in enumerate(events):
            event = expect_type(event, dict, f"events[{n}]")
            event_id = event.get("id")
            ref = f"event {event_id}" if event_id is not None else f"events[{n}]"
            stamp = event.get("timestamp") if isinstance(event.get("timestamp"), str) else None
            tcm = event.get("tool_call_metadata")
            tcm = tcm if isinstance(tcm, dict) else {}
            if model is None and isinstance(get_path(tcm, "model_response.model"), str):
                model = tcm["model_response"]["model"]
            is_action = "action" in event
            kind = event.get("action") if is_action else event.get("observation")
            require(isinstance(kind, str), f"{ref}: has no 'action' or 'observation' name")

            if not is_action:
                if kind == "agent_state_changed":
                    state = get_path(event, "extras.agent_state", state)
                cause = event.get("cause")
                answers_silent = isinstance(cause, int) and cause in silent
                if kind in SKIP_OBSERVATIONS or _hidden(event) or answers_silent:
                    continue
                call_id = call_ids.get(cause) if isinstance(cause, int) else None
                call_id = call_id or tcm.get("tool_call_id") or cause
                content, error = text_of(event.get("content")), _is_error(event)
                result = ToolResult(
                    call_id=None if call_id is None else str(call_id),
                    content=content,
                    is_error=error,
                )
                steps.append(
                    Step(
                        index=len(steps),
                        role="tool",
                        tool_results=[result],
                        timestamp=stamp,
                        raw_ref=ref,
                    )
                )
                continue

            args = expect_type(event.get("args") or {}, dict, f"{ref}: 'args'")
            source = event.get("source")
            bookkeeping = (
                kind in SKIP_ACTIONS or _hidden(event) or (kind != "message" and source != "agent")
            )
            if isinstance(event_id, int) and (bookkeeping or kind in TEXT_ACTIONS):
                silent.add(event_id)
            if bookkeeping:
                continue
            step = Step(index=len(steps), role="assistant", timestamp=stamp, raw_ref=ref)
            thought = text_of(args.get("thought"))
            if kind == "message":
                step.text = text_of(args.get("content")) or text_of(event.get("message"))
                if source == "user":
                    step.role = "user"
                    prompt = prompt or step.text
            elif kind in ("think", "finish"):
                step.text = _finish_text(args, event) if kind == "finish" else thought
                step.reasoning = thought if thought != step.text else ""
                if kind == "finish":
                    final = step.text or None
            else:
                call_id = str(tcm.get("tool_call_id") or event_id)
                name = str(tcm.get("function_name") or kind)
                arguments = {k: v for k, v in args.items() if k != "thought"}
                step.reasoning = thought
                step.tool_calls = [ToolCall(id=call_id, name=name, arguments=arguments)]
                if isinstance(event_id, int):
                    call_ids[event_id] = call_id
            steps.append(step)

        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(prompt=prompt),
                steps=steps,
                model=model,
                final_output=final,
                metadata={"final_agent_state": state} if isinstance(state, str) else {},
            )
        ]
