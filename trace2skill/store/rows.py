"""A trajectory as the row tuples it is stored as (built off the writer's thread, or in an import's
worker process: nothing here touches the database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from trace2skill.models import Signal, Trajectory


@dataclass
class PreparedTrajectory:
    """A trajectory turned into the row tuples it is stored as (built off the writer's thread)."""

    id: str
    row: tuple
    steps: list[tuple]
    signals: list[tuple]


def _json_dumped(items: list[dict[str, Any]]) -> str:
    return orjson.dumps(items).decode() if items else "[]"


def _step_row(trajectory_id: str, step: dict[str, Any]) -> tuple:
    """A step's row from its dumped fields (`Step.model_dump()`, as in `Trajectory.identity()`)."""
    calls, results = step["tool_calls"], step["tool_results"]
    return (trajectory_id, step["index"], step["role"], step["text"], step["reasoning"], _json_dumped(calls),
            _json_dumped(results), calls[0]["name"] if calls else None,
            int(any(r["is_error"] for r in results)) if results else 0, step["timestamp"], step["raw_ref"])


def _json_or_none(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def prepare(t: Trajectory, signals: list[Signal], identity: dict[str, Any] | None = None) -> PreparedTrajectory:
    """`identity`: `t.identity()` when the caller made it already (its dumped steps make the step rows,
    so the steps are not dumped twice)."""
    dumped = identity["steps"] if identity is not None else [s.model_dump() for s in t.steps]
    if len(dumped) != len(t.steps):
        raise ValueError("the identity given is not this trajectory's")
    steps = [_step_row(t.id, d) for d in dumped]
    row = (
        t.id, t.source_format, t.source_name, t.task.id, t.task.prompt, t.model, t.outcome.label,
        t.outcome.reward, t.outcome.detail, _json_or_none(t.ground_truth), t.final_output,
        _json_or_none(t.metadata) or "{}", len(t.steps), sum(len(s.tool_calls) for s in t.steps),
        sum(step[8] for step in steps),
    )
    return PreparedTrajectory(t.id, row, steps, [(t.id, g.step_idx, g.kind, g.detail) for g in signals])
