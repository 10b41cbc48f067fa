"""Traces written by the real instrumentation libraries, for the trace importers' tests.

A small tool-using agent (a weather assistant with one tool, `get_weather`) runs its loop with the
real `openai` SDK against any OpenAI-compatible endpoint (`base_url`, `model`): the loopback
`FakeLLMServer` with `weather_responder` in the tests, a real model elsewhere. Its spans go through
the real libraries into a file, as a user would get them:

  - `write_genai_trace`: opentelemetry-instrumentation-openai-v2 traces each model call; the agent and
    its tool runs are traced with opentelemetry-util-genai's `TelemetryHandler` (invoke_agent,
    execute_tool spans). Message content per `capture` (`span_only`, `event_only`, `no_content`:
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). Written by opentelemetry-exporter-otlp-json-file's
    `FileSpanExporter`/`FileLogExporter` (OTLP JSON lines); with `layout="protobuf"` by the OTLP
    protobuf encoder + `google.protobuf.json_format` (base64 ids, enum names); with `layout="console"`
    by the SDK's `ConsoleSpanExporter`, one span a line.
  - `write_openinference_trace`: openinference-instrumentation-openai traces each model call; the
    agent and tools are traced with openinference-instrumentation's `OITracer` (AGENT, TOOL spans).

A question about a city the tool does not know ("Atlantis") makes the tool fail each time; the model
keeps retrying and the agent gives up after `MAX_TURNS` model calls, raising: its root span ends with
status ERROR. The agent sets `weather.answered` (true/false) on its root span: an outcome attribute.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from trace2skill.llm.fake_server import ToolCalls

WEATHER = {"Oslo": "rainy, 7C", "Lima": "sunny, 24C", "Cairo": "hot and dry, 35C", "Tromsø": "snow, -4C"}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather now in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
SYSTEM = "You are a weather assistant. Use the get_weather tool, then answer in one sentence."
MAX_TURNS = 3
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def question_for(city: str) -> str:
    return f"What is the weather in {city} right now?"


def get_weather(city: str) -> str:
    if city not in WEATHER:
        raise LookupError(f"no weather station in {city}")
    return WEATHER[city]


def weather_responder(request: dict[str, Any]) -> str | ToolCalls:
    """The model's side for FakeLLMServer: call get_weather for the city asked about, then answer
    from the tool's result (retrying while the tool fails)."""
    messages = request["messages"]
    question = next(m["content"] for m in messages if m["role"] == "user")
    found = re.search(r"weather in (\w+)", question)
    city = found.group(1) if found else "Oslo"
    last = messages[-1]
    if last["role"] == "tool" and not str(last["content"]).startswith("Error"):
        return f"It is {last['content']} in {city}."
    return ToolCalls([("get_weather", {"city": city})])


# --------------------------------------------------------------------------- the agent


def run_agent(client: Any, model: str, question: str, tool_span: Any) -> str:
    """The agent loop: model call, tool calls, results back, until the model answers in text."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    for _ in range(MAX_TURNS):
        reply = client.chat.completions.create(model=model, messages=messages, tools=TOOLS).choices[0].message
        if not reply.tool_calls:
            return reply.content or ""
        messages.append(reply.model_dump(exclude_none=True))
        for call in reply.tool_calls:
            arguments = json.loads(call.function.arguments or "{}")
            with tool_span(call.function.name, call.id, arguments) as record:
                try:
                    result = get_weather(**arguments)
                except LookupError as exc:
                    result = f"Error: {exc}"
                    record(result, exc)
                else:
                    record(result, None)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise RuntimeError(f"gave up after {MAX_TURNS} model calls")


def _openai_client(base_url: str) -> Any:
    """The SDK client. openai 3.x runs on httpx2 and ships no httpx, which openai-v2's instrumentation
    imports: then httpx2 stands in for it (`alias_httpx`, as httpx2 intends for such dependencies)."""
    try:
        import httpx  # noqa: F401
    except ImportError:
        import httpx2

        httpx2.alias_httpx()
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


class _ProtobufJsonExporter:
    """Spans → OTLP protobuf (the SDK's encoder) → JSON with google.protobuf.json_format, one export a line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[Any]) -> Any:
        from google.protobuf.json_format import MessageToJson
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.trace.export import SpanExportResult

        with self.path.open("a", encoding="utf-8") as f:
            f.write(MessageToJson(encode_spans(spans), indent=None) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _console_exporter(path: Path) -> Any:
    """The SDK's ConsoleSpanExporter writing one span a line (its formatter set so), into `path`."""
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    class ToFile(ConsoleSpanExporter):
        def shutdown(self) -> None:
            self.out.close()

    return ToFile(out=path.open("a", encoding="utf-8"), formatter=lambda span: span.to_json(indent=None) + "\n")


def _providers(path: Path, *, simple: bool, layout: str, logs: bool) -> tuple[Any, Any]:
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": "weather-agent"})
    tracer_provider = TracerProvider(resource=resource)
    exporter: Any = {"file": lambda: FileSpanExporter(str(path)), "protobuf": lambda: _ProtobufJsonExporter(path),
                     "console": lambda: _console_exporter(path)}[layout]()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
    logger_provider = None
    if logs:
        from opentelemetry.exporter.otlp.json.file._log_exporter import FileLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        log_exporter = FileLogExporter(str(path))
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(log_exporter) if simple else BatchLogRecordProcessor(log_exporter))
    return tracer_provider, logger_provider


# --------------------------------------------------------------------------- GenAI conventions


def write_genai_trace(path: Path, base_url: str, model: str, cities: Sequence[str], *, capture: str = "span_only",
                      simple: bool = False, layout: str = "file") -> list[str | None]:
    """One trace per city, appended to `path`; returns each run's answer (None when the agent gave up)."""
    client = _openai_client(base_url)
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.util.genai.handler import TelemetryHandler

    tracer_provider, logger_provider = _providers(path, simple=simple, layout=layout, logs=capture == "event_only")
    instrumentor = OpenAIInstrumentor()
    answers: list[str | None] = []
    with _env(CAPTURE, None if capture == "no_content" else capture):  # read when the handlers start
        handler = TelemetryHandler(tracer_provider=tracer_provider, logger_provider=logger_provider)
        instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
        try:
            _genai_runs(handler, client, model, cities, answers)
        finally:
            instrumentor.uninstrument()
            tracer_provider.shutdown()
            if logger_provider is not None:
                logger_provider.shutdown()
    return answers


def _genai_tool_span(handler: Any) -> Any:
    @contextlib.contextmanager
    def tool_span(name: str, call_id: str, arguments: dict[str, Any]) -> Iterator[Any]:
        failed: list[BaseException] = []
        with contextlib.suppress(LookupError), handler.tool(name) as tool:
            tool.tool_call_id = call_id
            tool.arguments = arguments

            def record(result: str, error: BaseException | None) -> None:
                tool.tool_result = result
                failed.extend([error] if error is not None else [])

            yield record
            if failed:
                raise failed[0]  # the invocation ends failed (status ERROR, error.type)

    return tool_span


def _genai_runs(handler: Any, client: Any, model: str, cities: Sequence[str], answers: list[str | None]) -> None:
    from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text

    tool_span = _genai_tool_span(handler)
    for city in cities:
        question = question_for(city)
        try:
            with handler.invoke_local_agent(agent_name="weather-agent", request_model=model) as agent:
                agent.input_messages = [InputMessage(role="user", parts=[Text(content=question)])]
                agent.attributes["weather.answered"] = False
                answer = run_agent(client, model, question, tool_span)
                agent.output_messages = [OutputMessage(role="assistant", parts=[Text(content=answer)],
                                                       finish_reason="stop")]
                agent.attributes["weather.answered"] = True
            answers.append(answer)
        except RuntimeError:
            answers.append(None)


# --------------------------------------------------------------------------- OpenInference


def write_openinference_trace(path: Path, base_url: str, model: str, cities: Sequence[str], *,
                              simple: bool = False) -> list[str | None]:
    """One trace per city, appended to `path` (OTLP JSON lines); returns each run's answer."""
    client = _openai_client(base_url)
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.trace import Status, StatusCode

    tracer_provider, _ = _providers(path, simple=simple, layout="file", logs=False)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    tracer = OITracer(tracer_provider.get_tracer("weather-agent"), config=TraceConfig())
    answers: list[str | None] = []

    @contextlib.contextmanager
    def tool_span(name: str, call_id: str, arguments: dict[str, Any]) -> Iterator[Any]:
        with tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
            span.set_tool(name=name, description="The weather now in a city.", parameters=TOOLS[0]["function"]["parameters"])
            span.set_input(arguments)

            def record(result: str, error: BaseException | None) -> None:
                span.set_output(result)
                if error is not None:
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, str(error)))

            yield record

    try:
        for city in cities:
            question = question_for(city)
            try:
                with tracer.start_as_current_span("weather-agent", openinference_span_kind="agent") as agent:
                    agent.set_input(question)
                    agent.set_attribute("weather.answered", False)
                    answer = run_agent(client, model, question, tool_span)
                    agent.set_output(answer)
                    agent.set_attribute("weather.answered", True)
                answers.append(answer)
            except RuntimeError:
                answers.append(None)
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
    return answers
