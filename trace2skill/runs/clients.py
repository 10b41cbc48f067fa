"""Which model a run continues on: the endpoint it was started with (recorded in its config), unless
the caller names another. A run of a kind that needs no model (the command evaluator) gets none."""

from __future__ import annotations

from trace2skill.llm.config import LLMConfig
from trace2skill.models import Run
from trace2skill.runs.registry import get_kind


def client_config(run: Run, base_url: str | None = None, model: str | None = None) -> LLMConfig | None:
    """The LLM settings for resuming `run`: `base_url`/`model` when given, else the run's own
    (None base URL: the embedded local model, as when the run started). None when the run's kind
    needs no model for this run."""
    if not get_kind(run.kind).uses_llm(run.config):
        return None
    recorded_url = run.config.get("base_url")
    url = base_url or recorded_url
    name = model or (run.config.get("model") if url == recorded_url else None)
    extra = {"temperature": float(run.config["temperature"])} if run.config.get("temperature") is not None else {}
    return LLMConfig.for_endpoint(url, name, **extra)
