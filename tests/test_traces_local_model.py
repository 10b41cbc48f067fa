"""Traces written by the real instrumentation libraries while a small tool-using agent runs against
the embedded model (SmolLM2 on llama.cpp, the shared server), then imported: what a newcomer with
an instrumented agent and no endpoint gets. The toy model may call the tool or answer at once; the
trace must import either way with its question, its model calls and whatever tool runs it made."""

from __future__ import annotations

import pytest

from tests.otel_samples import write_genai_trace, write_openinference_trace
from trace2skill.ingest import import_paths
from trace2skill.llm import LLMConfig
from trace2skill.llm.local import resolve
from trace2skill.store.trajectories import get_trajectory, list_trajectories

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("writer, fmt", [(write_genai_trace, "otel_genai"),
                                         (write_openinference_trace, "openinference")])
def test_an_agent_on_the_embedded_model_traced_and_imported(ws, tmp_path, writer, fmt):
    local = resolve(LLMConfig(base_url=None))
    path = tmp_path / "traces.jsonl"
    assert local.base_url and local.model
    try:
        writer(path, local.base_url, local.model, ["Paris"])
    except RuntimeError as exc:  # the toy model kept calling the tool: the agent gave up (its trace is written)
        assert "gave up" in str(exc)
    report = import_paths(ws, [path])
    assert report.imported == 1 and not report.errors, report
    [row] = list_trajectories(ws.db)
    t = get_trajectory(ws.db, row.id)
    assert t.source_format == fmt and "Paris" in (t.task or "")
    asked = [s for s in t.steps if s.role == "user"]
    assert asked and "Paris" in (asked[0].text or "")  # the question
    assert any(s.role == "assistant" for s in t.steps)  # the model's calls, as it answered them


def _agents(path, base_url, model):
    from tests.agents_samples import write_agents_trace

    write_agents_trace(path, base_url, model, ["What is the weather in Paris?"])


def _langfuse(path, base_url, model):
    from tests.langfuse_samples import write_langfuse_export

    write_langfuse_export(path, base_url, model, ["Paris"])


def _langsmith(path, base_url, model):
    from tests.langsmith_samples import write_langsmith_export

    write_langsmith_export(path, base_url, model, ["Paris"])


@pytest.mark.parametrize("writer, fmt", [(_agents, "openai_agents"), (_langfuse, "langfuse"),
                                         (_langsmith, "langsmith")])
def test_agent_framework_traces_on_the_embedded_model_import(ws, tmp_path, writer, fmt):
    local = resolve(LLMConfig(base_url=None))
    path = tmp_path / "traces.jsonl"
    assert local.base_url and local.model
    writer(path, local.base_url, local.model)  # a run the toy model derails still writes its trace
    report = import_paths(ws, [path])
    assert report.imported == 1 and not report.errors, report
    [row] = list_trajectories(ws.db)
    t = get_trajectory(ws.db, row.id)
    assert t.source_format == fmt and "Paris" in (t.task or "")
    assert any(s.role == "assistant" for s in t.steps)
