"""tau-bench v1 result files: a JSON array of {task_id, trial, reward, info, traj}.

Source: FORMATS.md §1 ("tau-bench v1 envelope"). `traj` is an OpenAI chat message list; the gold
actions (`info.task.actions`, also `info.reward_info.actions`) and expected outputs are kept as
ground truth. `reward_info` is null for some runs: those are failures with unknown detail.
"""

from __future__ import annotations

import re
from typing import Any

from trace2skill.ingest.base import Format, Shape, expect_type, require
from trace2skill.ingest.openai_chat import last_text, messages_to_steps
from trace2skill.ingest.outcomes import reward_of
from trace2skill.models import Outcome, OutcomeLabel, Task, Trajectory

STOP_MARKER = "###STOP###"
# tau-bench names its files "<model>-<domain>.json".
_FILE_NAME = re.compile(r"(?P<model>.+)-(?P<domain>airline|retail|telecom)\.jsonl?$")


def _outcome(record: dict[str, Any], info: dict[str, Any]) -> Outcome:
    reward = reward_of(record.get("reward"))
    reward_info = info.get("reward_info")
    if not isinstance(reward_info, dict):
        return Outcome(label="failure", reward=reward, detail="reward_info missing: failure with unknown detail")
    info_part = reward_info.get("info")
    parts: dict[str, Any] = info_part if isinstance(info_part, dict) else {}
    detail = ", ".join(f"{k}={v}" for k, v in parts.items() if k.startswith("r_")) or None
    if reward is None:
        reward = reward_of(reward_info.get("reward"))
    label: OutcomeLabel = "success" if reward is not None and reward >= 1.0 else "failure"
    return Outcome(label=label, reward=reward, detail=detail)


def _ground_truth(info: dict[str, Any]) -> dict[str, Any] | None:
    task: dict[str, Any] = info["task"] if isinstance(info.get("task"), dict) else {}
    reward_info: dict[str, Any] = info["reward_info"] if isinstance(info.get("reward_info"), dict) else {}
    actions = task.get("actions") or reward_info.get("actions")
    outputs = task.get("outputs")
    if actions is None and not outputs:
        return None
    truth: dict[str, Any] = {"actions": actions or []}
    if outputs:
        truth["outputs"] = outputs
    return truth


class TauBenchFormat(Format):
    name = "tau_bench"
    unit = "record"
    one_task = True  # the later user turns are the simulated customer's, on the task's one request
    shapes = ("array", "jsonl")

    def sniff(self, sample: Any, shape: Shape) -> bool:
        return (
            isinstance(sample, dict)
            and isinstance(sample.get("traj"), list)
            and "task_id" in sample
            and isinstance(sample.get("info"), dict)
        )

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        expect_type(record, dict, "record")
        require("traj" in record, "record has no 'traj' message list")
        info = expect_type(record.get("info"), dict, "info")
        task = info.get("task") if isinstance(info.get("task"), dict) else {}
        steps = messages_to_steps(record["traj"], "traj")
        require(len(steps) > 0, "'traj' is empty")
        metadata: dict[str, Any] = {"trial": record.get("trial")}
        for key in ("user_id", "user_model", "user_strategy"):
            if task.get(key) is not None:
                metadata[key] = task[key]
        if info.get("user_cost") is not None:
            metadata["user_cost"] = info["user_cost"]
        model = None
        match = _FILE_NAME.search(source_name.rsplit("/", 1)[-1])
        if match:
            model, metadata["domain"] = match["model"], match["domain"]
        last = steps[-1]
        if last.role == "tool" and not any(STOP_MARKER in s.text for s in steps if s.role == "user"):
            last_call = next((c.name for s in reversed(steps) for c in s.tool_calls), None)
            if last_call != "transfer_to_human_agents":
                metadata["termination"] = "ended without the user's stop marker (step limit?)"
        return [
            Trajectory(
                source_format=self.name,
                source_name=source_name,
                task=Task(id=str(record.get("task_id")), prompt=str(task.get("instruction") or "")),
                outcome=_outcome(record, info),
                steps=steps,
                model=model,
                final_output=last_text(steps, "assistant"),
                ground_truth=_ground_truth(info),
                metadata=metadata,
            )
        ]
