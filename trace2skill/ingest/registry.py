"""All known formats, most specific first (detection tries them in this order)."""

from __future__ import annotations

from trace2skill.ingest.anthropic import AnthropicMessagesFormat
from trace2skill.ingest.atif import ATIFFormat
from trace2skill.ingest.base import Format
from trace2skill.ingest.claude_code import ClaudeCodeFormat
from trace2skill.ingest.langfuse import LangfuseFormat
from trace2skill.ingest.langsmith import LangSmithFormat
from trace2skill.ingest.openai_agents import OpenAIAgentsFormat
from trace2skill.ingest.openai_chat import OpenAIChatFormat
from trace2skill.ingest.openhands import OpenHandsFormat
from trace2skill.ingest.swe_agent import SWEAgentFormat
from trace2skill.ingest.tau_bench import TauBenchFormat
from trace2skill.ingest.text_log import TextLogFormat
from trace2skill.ingest.traces import OpenInferenceFormat, TraceFormat

FORMATS: list[Format] = [
    OpenInferenceFormat(),  # OpenTelemetry files (resourceSpans, spans): OpenInference spans first,
    TraceFormat(),  # then any other (GenAI conventions)
    OpenAIAgentsFormat(),  # tracing tools' exports: OpenAI Agents SDK spans,
    LangfuseFormat(),  # Langfuse traces and observations,
    LangSmithFormat(),  # LangSmith runs
    TauBenchFormat(),
    SWEAgentFormat(),
    ATIFFormat(),
    OpenHandsFormat(),
    ClaudeCodeFormat(),
    AnthropicMessagesFormat(),
    OpenAIChatFormat(),
]

BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}

# Formats whose trajectories are one task each (`Format.one_task`): never split into tasks.
ONE_TASK_FORMATS: frozenset[str] = frozenset(
    [f.name for f in FORMATS if f.one_task] + ([TextLogFormat.name] if TextLogFormat.one_task else []))
