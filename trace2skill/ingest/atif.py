"""ATIF, the Agent Trajectory Interchange Format of Harbor / Terminal-Bench 2 (FORMATS.md §4).

Source: RFC `laude-institute/harbor/docs/rfcs/0001-trajectory-format.md` (v1.4) and the Harbor
docs (`content/docs/agents/trajectory-format.mdx`); v1.6 allows `message` / observation `content`
as a list of content parts. A record is an ATIF root
`{schema_version: "ATIF-v1.x", session_id, agent{name, version, model_name?}, steps[], notes?,
final_metrics?, extra?}` or a Harbor trial bundle `{"trajectory": <ATIF>, "result": <result.json>}`.

A tool call and its result live in the same step. ATIF carries no label: the outcome comes from
the bundle's `result.verifier_result.rewards.reward` (or a `reward` beside the trajectory, or
`extra.reward`); a non-null `exception_info` without a verifier result is an infrastructure
failure, so the label stays "unknown" and `metadata["termination"]` names the exception.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trace2skill.ingest.base import (
    Format,
    Shape,
    expect_type,
    get_path,
    parse_arguments,
    require,
    text_of,
)
from trace2skill.models import Outcome, OutcomeLabel, Role, Step, Task, ToolCall, ToolResult, Trajectory

ROLES: dict[str, Role] = {"system": "system", "user": "user", "agent": "assistant"}


def _is_atif(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("schema_version"), str)
        and value["schema_version"].startswith("ATIF")
        and isinstance(value.get("steps"), list)
    )


def _tool_calls(raw: Any, where: str) -> list[ToolCall]:
    calls = []
    for j, call in enumerate(expect_type(raw, list, f"{where}: 'tool_calls'")):
        call = expect_type(call, dict, f"{where}: tool_calls[{j}]")
        call_id, name = call.get("tool_call_id"), call.get("function_name")
        require(
            isinstance(call_id, str) and bool(call_id),
            f"{where}: tool_calls[{j}] has no tool_call_id",
        )
        require(
            isinstance(name, str) and bool(name), f"{where}: tool_calls[{j}] has no function_name"
        )
        calls.append(
            ToolCall(id=call_id, name=name, arguments=parse_arguments(call.get("arguments")))
        )
    return calls


def _results(observation: Any, call_ids: set[str], where: str) -> list[ToolResult]:
    observation = expect_type(observation, dict, f"{where}: 'observation'")
    results = []
    for j, item in enumerate(
        expect_type(observation.get("results") or [], list, f"{where}: 'results'")
    ):
        item = expect_type(item, dict, f"{where}: observation result {j}")
        ref = item.get("source_call_id")
        require(
            ref is None or (isinstance(ref, str) and ref in call_ids),
            f"{where}: observation result {j} has source_call_id {ref!r}, "
            "which is not a tool_call_id of this step",
        )
        content = text_of(item.get("content"))
        subagents = item.get("subagent_trajectory_ref")
        if not content and isinstance(subagents, list):
            ids = [str(s.get("session_id")) for s in subagents if isinstance(s, dict)]
            content = f"[subagent trajectory: {', '.join(ids)}]"
        results.append(ToolResult(call_id=ref, content=content))
    return results


def _step(raw: Any, i: int) -> Step:
    raw = expect_type(raw, dict, f"steps[{i}]")
    step_id = raw.get("step_id")
    require(
        isinstance(step_id, int) and not isinstance(step_id, bool) and step_id == i + 1,
        f"steps[{i}]: step_id should be {i + 1} (sequential from 1), got {step_id!r}",
    )
    where = f"step {step_id}"
    source = raw.get("source")
    require(
        isinstance(source, str) and source in ROLES,
        f"{where}: source should be system, user or agent, got {source!r}",
    )
    message = raw.get("message")
    require(
        message is None or isinstance(message, (str, list)),
        f"{where}: message should be a string or a list",
    )
    calls = _tool_calls(raw["tool_calls"], where) if raw.get("tool_calls") is not None else []
    results = []
    if raw.get("observation") is not None:
        results = _results(raw["observation"], {c.id for c in calls if c.id}, where)
    timestamp = raw.get("timestamp")
    return Step(
        index=i,
        role=ROLES[source],
        text=text_of(message),
        reasoning=text_of(raw.get("reasoning_content")),
        tool_calls=calls,
        tool_results=results,
        timestamp=timestamp if isinstance(timestamp, str) else None,
        raw_ref=where,
    )


def _outcome(bundle: dict[str, Any], atif: dict[str, Any], metadata: dict[str, Any]) -> Outcome:
    result = bundle.get("result")
    require(
        result is None or isinstance(result, dict), "'result' should be an object (result.json)"
    )
    result = result or {}
    reward = get_path(result, "verifier_result.rewards.reward")
    if reward is None:
        reward = bundle.get("reward")
    if reward is None:
        reward = get_path(atif, "extra.reward")
    if reward is not None:
        ok = isinstance(reward, (int, float)) and not isinstance(reward, bool)
        require(ok, f"reward should be a number, got {type(reward).__name__}")
        reward = float(reward)
    exception = result.get("exception_info")
    if isinstance(exception, dict):
        metadata["termination"] = str(exception.get("exception_type") or "exception")
    if reward is not None:
        label: OutcomeLabel = "success" if reward >= 1.0 else "failure"
        return Outcome(label=label, reward=reward, detail=f"verifier reward: {reward:g}")
    if isinstance(exception, dict):
        detail = f"infrastructure failure: {metadata['termination']}"
        if exception.get("exception_message"):
            detail += f": {exception['exception_message']}"
        return Outcome(label="unknown", detail=detail)
    return Outcome()


class ATIFFormat(Format):
    name = "atif"
    unit = "record"
    shapes: ClassVar[tuple[Shape, ...]] = ("object", "jsonl", "array")

    def sniff(self, sample: Any, shape: Shape) -> bool:
        if shape not in self.shapes or not isinstance(sample, dict):
            return False
        return _is_atif(sample) or _is_atif(sample.get("trajectory"))

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        record = expect_type(record, dict, "an ATIF record")
        if "schema_version" in record or "trajectory" not in record:
            atif, bundle = record, {}
        else:
            atif, bundle = expect_type(record["trajectory"], dict, "'trajectory'"), record
        version = atif.get("schema_version")
        require(
            isinstance(version, str) and version.startswith("ATIF"),
            f"schema_version should be a string like 'ATIF-v1.4', got {version!r}",
        )
        require("steps" in atif, "ATIF trajectory has no 'steps'")
        raw_steps = expect_type(atif["steps"], list, "'steps'")
        require(bool(raw_steps), "ATIF trajectory has no steps")
        agent = expect_type(atif.get("agent") or {}, dict, "'agent'")
        steps = [_step(raw, i) for i, raw in enumerate(raw_steps)]

        metadata: dict[str, Any] = {"schema_version": version, "session_id": atif.get("session_id")}
        for key in ("name", "version"):
            metadata[f"agent_{key}"] = agent.get(key)
        for key in ("trajectory_id", "final_metrics", "notes", "continued_trajectory_ref"):
            metadata[key] = atif.get(key)
        result = bundle.get("result")
        if isinstance(result, dict):
            for key in ("task_name", "trial_name"):
                metadata[key] = result.get(key)
        outcome = _outcome(bundle, atif, metadata)

        model = agent.get("model_name")
        if not isinstance(model, str):
            model = next(
                (s.get("model_name") for s in raw_steps if isinstance(s.get("model_name"), str)),
                None,
            )
        if model is None and isinstance(get_path(result, "config.agent.model_name"), str):
            model = get_path(result, "config.agent.model_name")
        task_id = metadata.get("task_name") or atif.get("session_id")
        last_agent = next((s for s in reversed(steps) if s.role == "assistant"), None)
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(
                    id=str(task_id) if task_id is not None else None,
                    prompt=next((s.text for s in steps if s.role == "user"), ""),
                ),
                outcome=outcome,
                steps=steps,
                model=model,
                final_output=(last_agent.text or None) if last_agent else None,
                metadata={k: v for k, v in metadata.items() if v is not None},
            )
        ]
