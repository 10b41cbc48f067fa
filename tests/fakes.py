"""Test doubles: a scripted LLM client with the same `structured()` contract as trace2skill.llm."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass
class FakeResult:
    value: BaseModel
    usage: dict[str, int]
    cached: bool = False
    call_id: str = "fake"
    latency_s: float = 0.0


Script = Callable[[list[dict[str, str]], type[BaseModel]], dict[str, Any]]


class ScriptedClient:
    """Answers each call with `script(messages, output_model)` validated into the output model."""

    def __init__(self, script: Script):
        self.script = script
        self.calls: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()

    def structured(self, messages, output, *, schema_name, run_id=None, max_tokens=None, schema=None):
        with self._lock:
            self.calls.append(messages)
        value = output.model_validate(self.script(messages, output))
        return FakeResult(value=value, usage={"prompt_tokens": 100, "completion_tokens": 20})


_STEP = re.compile(r"^\[step (\d+)\] (\w+)[^\n]*\n(.+)$", re.MULTILINE)


def first_quote(messages: list[dict[str, str]], role: str = "user") -> tuple[int, str]:
    """A real (step, quote) from the rendered trajectory in the prompt."""
    body = messages[-1]["content"].split("<trajectory>", 1)[1]
    for m in _STEP.finditer(body):
        if m.group(2) == role and len(m.group(3)) >= 12:
            return int(m.group(1)), m.group(3)[:60]
    raise AssertionError("no quotable step in prompt")


def analyst_answer(messages, output) -> dict[str, Any]:
    """A plausible analysis: one grounded lesson and one with an invented quote."""
    step, quote = first_quote(messages)
    good = {"title": "Confirm details first", "description": "Check before acting.",
            "content": "Confirm the user's request before any change.", "evidence": [{"step": step, "quote": quote}]}
    bad = {"title": "Invented", "description": "", "content": "Do something.",
           "evidence": [{"step": 0, "quote": "this sentence appears nowhere in the run at all"}]}
    if output.__name__ == "ErrorAnalysis":
        return {"causal_step": step, "failure_cause": "acted too early",
                "lessons": [{"kind": "failure_lesson", **good}, {"kind": "failure_cause", **bad}]}
    return {"solution_path": "look up, confirm, act",
            "lessons": [{"kind": "success_lesson", **good}, {"kind": "success_lesson", **bad}]}


def http_analyst_responder(request: dict[str, Any]) -> dict[str, Any]:
    """For trace2skill.llm.fake_server: answers analyst calls like `analyst_answer` over HTTP."""
    name = request["response_format"]["json_schema"]["name"]
    output = type("ErrorAnalysis" if name == "error_analysis" else "SuccessAnalysis", (), {})
    return analyst_answer(request["messages"], output)
