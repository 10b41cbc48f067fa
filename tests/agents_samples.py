"""Traces written by the real OpenAI Agents SDK (`openai-agents`), for the openai_agents importer's tests.

A front desk agent hands weather questions over to a weather agent, which has one function tool
(`get_weather`, from `otel_samples`); an input guardrail on the front desk trips on rude questions.
Both agents run on the SDK's Chat Completions model (`OpenAIChatCompletionsModel`: the loopback
`FakeLLMServer` serves /v1/chat/completions, not the Responses API) against any OpenAI-compatible
endpoint (`base_url`, `model`): `agents_responder` plays the model in the tests.

The SDK's tracing goes to `JsonlProcessor`, a `TracingProcessor` (the SDK's extension point, installed
with `set_trace_processors`, so nothing is sent to OpenAI) that writes `span.export()` when a span
ends and `trace.export()` when its trace ends, one JSON object a line: the SDK's own export. Each run's
question goes into the trace's metadata (`RunConfig(trace_metadata=...)`), with `answered`
(true/false), an outcome the user can name.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from otel_samples import get_weather

from trace2skill.llm.fake_server import ToolCalls

FRONT_DESK = "You are the front desk of a weather service. Hand weather questions over to the weather agent."
WEATHER_AGENT = "You are a weather assistant. Use the get_weather tool, then answer in one sentence."
RUDE = "stupid"
MAX_TURNS = 5


def agents_responder(request: dict[str, Any]) -> str | ToolCalls:
    """The model's side: the front desk hands over; the weather agent calls get_weather for the city
    asked about, then answers from its result (calling again while the tool fails)."""
    messages = request["messages"]
    if messages[0]["content"] == FRONT_DESK:
        return ToolCalls([("transfer_to_weather_agent", {})])
    question = next(m["content"] for m in messages if m["role"] == "user")
    found = re.search(r"weather in (\w+)", question)
    city = found.group(1) if found else "Oslo"
    weather_calls = {c["id"] for m in messages for c in m.get("tool_calls") or []
                     if c["function"]["name"] == "get_weather"}
    last = messages[-1]
    if last.get("tool_call_id") in weather_calls and not str(last["content"]).startswith("Error"):
        return f"It is {last['content']} in {city}."
    return ToolCalls([("get_weather", {"city": city})])


def _processor(path: Path) -> Any:
    from agents import TracingProcessor

    class JsonlProcessor(TracingProcessor):
        """Each span as it ends, each trace as it ends: `export()`, one JSON object a line."""

        def __init__(self) -> None:
            self.lock = threading.Lock()

        def write(self, item: dict[str, Any] | None) -> None:
            if item is not None:
                with self.lock, path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(item, default=str) + "\n")

        def on_trace_start(self, trace: Any) -> None:
            pass

        def on_trace_end(self, trace: Any) -> None:
            self.write(trace.export())

        def on_span_start(self, span: Any) -> None:
            pass

        def on_span_end(self, span: Any) -> None:
            self.write(span.export())

        def shutdown(self) -> None:
            pass

        def force_flush(self) -> None:
            pass

    return JsonlProcessor()


def _agents(base_url: str, model: str) -> Any:
    from agents import Agent, GuardrailFunctionOutput, OpenAIChatCompletionsModel, function_tool, input_guardrail
    from openai import AsyncOpenAI

    chat = OpenAIChatCompletionsModel(model=model, openai_client=AsyncOpenAI(base_url=base_url, api_key="sk-test",
                                                                             max_retries=0))

    def tool_failed(context: Any, error: Exception) -> str:
        return f"Error: {error}"

    @function_tool(name_override="get_weather", failure_error_function=tool_failed)
    def weather_tool(city: str) -> str:
        """The weather now in a city."""
        return get_weather(city)

    @input_guardrail(name="polite")
    def polite(context: Any, agent: Any, question: Any) -> GuardrailFunctionOutput:
        rude = RUDE in str(question)
        return GuardrailFunctionOutput(output_info={"rude": rude}, tripwire_triggered=rude)

    weather = Agent(name="weather_agent", instructions=WEATHER_AGENT, tools=[weather_tool], model=chat)
    return Agent(name="front_desk", instructions=FRONT_DESK, handoffs=[weather], model=chat,
                 input_guardrails=[polite])


def write_agents_trace(path: Path, base_url: str, model: str, questions: Sequence[str]) -> list[str | None]:
    """One trace per question, appended to `path` (the questions form one conversation: the traces share
    a `group_id`); returns each run's answer (None when the run failed)."""
    from concurrent.futures import ThreadPoolExecutor

    # run_sync refuses a thread whose event loop is running (the browser tests leave one in the main thread)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_write_agents_trace, path, base_url, model, questions).result()


def _write_agents_trace(path: Path, base_url: str, model: str, questions: Sequence[str]) -> list[str | None]:
    from agents import Runner, set_trace_processors, trace
    from agents.exceptions import AgentsException

    set_trace_processors([_processor(path)])
    desk = _agents(base_url, model)
    answers: list[str | None] = []
    try:
        for question in questions:
            metadata = {"question": question, "answered": "false"}
            with trace("weather service", group_id="conversation-1", metadata=metadata):
                try:
                    result = Runner.run_sync(desk, question, max_turns=MAX_TURNS)
                except AgentsException:
                    answers.append(None)
                else:
                    answers.append(str(result.final_output))
                    metadata["answered"] = "true"  # exported when the trace ends, below
    finally:
        set_trace_processors([])
    return answers
