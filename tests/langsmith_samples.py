"""LangSmith exports of the weather agent's runs, for the langsmith importer's tests.

LangSmith exports through its server, which the tests cannot run, so the sample is made in two
halves, each with the real SDK (`langsmith`):
  1. what an application sends: the weather agent (`otel_samples.run_agent`) runs as a `@traceable`
     chain, its model calls through `wrappers.wrap_openai` (an `llm` run per call), its tool calls
     traced with `trace(..., run_type="tool")`; the runs go to a `Client` whose `create_run` and
     `update_run` keep them instead of posting them;
  2. what the API gives back: the kept runs as the SDK's `schemas.Run` (`trace_id`, `dotted_order`,
     `child_runs`) and the feedback as `schemas.Feedback` (`correct`: 1 or 0 on the root run),
     serialised with pydantic (`model_dump_json`): a root run with its child runs nested
     (`read_run(load_child_runs=True)`) then its feedback, or (`layout="flat"`) every run on a line of
     its own (`list_runs`) then the feedback.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from otel_samples import question_for, run_agent


def _recorder() -> Any:
    import langsmith

    class Recorder(langsmith.Client):
        """A client that keeps the runs it is given (as JSON, when given) instead of posting them."""

        def __init__(self) -> None:
            super().__init__(api_key="ls-test", api_url="http://127.0.0.1:9", auto_batch_tracing=False)
            self.kept: dict[str, dict[str, Any]] = {}

        def create_run(self, *args: Any, **run: Any) -> None:
            self.kept.setdefault(str(run["id"]), {}).update(json.loads(json.dumps(run, default=str)))

        def update_run(self, run_id: Any, **changes: Any) -> None:  # type: ignore[override]
            kept = self.kept.setdefault(str(run_id), {})
            kept.update({k: v for k, v in json.loads(json.dumps(changes, default=str)).items() if v is not None})

    return Recorder()


def _runs(base_url: str, model: str, cities: Sequence[str]) -> dict[str, dict[str, Any]]:
    import langsmith
    from langsmith.wrappers import wrap_openai
    from otel_samples import _openai_client

    recorder = _recorder()
    client = wrap_openai(_openai_client(base_url))

    @contextlib.contextmanager
    def tool_span(name: str, call_id: str, arguments: dict[str, Any]) -> Iterator[Any]:
        with langsmith.trace(name, run_type="tool", inputs=arguments) as run:
            def record(result: str, error: BaseException | None) -> None:
                run.end(outputs={"output": result}, error=repr(error) if error is not None else None)

            yield record

    @langsmith.traceable(run_type="chain", name="weather-agent")
    def agent(question: str) -> str:
        return run_agent(client, model, question, tool_span)

    with langsmith.tracing_context(client=recorder, enabled=True, project_name="weather"):
        for city in cities:
            try:
                agent(question_for(city))
            except RuntimeError:
                pass  # the agent gave up: its run ends with the error
    return recorder.kept


def write_langsmith_export(path: Path, base_url: str, model: str, cities: Sequence[str], *,
                           layout: str = "tree") -> None:
    """Run the agent once per city and write the export to `path` (`layout`: "tree" or "flat")."""
    from langsmith.schemas import Feedback, FeedbackSourceBase, Run

    kept = _runs(base_url, model, cities)
    runs = {rid: Run(**raw) for rid, raw in kept.items()}
    children: dict[str, list[Run]] = {}
    for run in sorted(runs.values(), key=lambda r: r.dotted_order):
        if run.parent_run_id is not None:
            children.setdefault(str(run.parent_run_id), []).append(run)
    lines = []
    for root in sorted((r for r in runs.values() if r.parent_run_id is None), key=lambda r: r.dotted_order):
        members = sorted((r for r in runs.values() if r.trace_id == root.id), key=lambda r: r.dotted_order)
        if layout == "tree":
            lines.append(_nested(root, children).model_dump_json())
        else:
            lines += [run.model_dump_json() for run in members]
        now = datetime.now(UTC)
        feedback = Feedback(id=uuid.uuid4(), run_id=root.id, trace_id=root.id, key="correct",
                            score=1 if root.error is None else 0, created_at=now, modified_at=now,
                            feedback_source=FeedbackSourceBase(type="api"))
        lines.append(feedback.model_dump_json())
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _nested(run: Any, children: dict[str, list[Any]]) -> Any:
    return run.model_copy(update={"child_runs": [_nested(c, children) for c in children.get(str(run.id), [])]})
