"""Deterministic evidence mined from a trajectory before any LLM sees it.

- tool_error:       a tool result flagged as an error (by the source, or plainly reading as one);
- repeated_action:  the same tool call (name + arguments) as the agent's previous call;
- loop:             one tool call made three or more times in the run;
- halted:           the run ended abnormally (cost/context/step limit, exception) per the source;
- truncated:        the last tool call never got its result;
- gold_missing / gold_mismatch / gold_extra: against ground-truth actions, when the data has them:
                    a gold action the agent never made, made with different arguments, or a call to a
                    gold tool beyond what the gold sequence holds.
"""

from __future__ import annotations

import json
from typing import Any

from trace2skill.models import Signal, Trajectory, canonical_json

LOOP_THRESHOLD = 3
_DETAIL_LIMIT = 300


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _call_key(name: str, arguments: Any) -> str:
    return f"{name}({canonical_json(arguments).decode()})"


def _tool_errors(t: Trajectory) -> list[Signal]:
    return [
        Signal(trajectory_id=t.id, step_idx=s.index, kind="tool_error", detail=_clip(r.content or "(empty error)"))
        for s in t.steps
        for r in s.tool_results
        if r.is_error
    ]


def _repeats(t: Trajectory) -> list[Signal]:
    found: list[Signal] = []
    previous: str | None = None
    first_step: dict[str, int] = {}
    counts: dict[str, int] = {}
    for s in t.steps:
        for call in s.tool_calls:
            key = _call_key(call.name, call.arguments)
            counts[key] = counts.get(key, 0) + 1
            first_step.setdefault(key, s.index)
            if key == previous:
                found.append(Signal(trajectory_id=t.id, step_idx=s.index, kind="repeated_action",
                                    detail=_clip(f"same call as the previous one: {key}")))
            previous = key
    for key, n in counts.items():
        if n >= LOOP_THRESHOLD:
            found.append(Signal(trajectory_id=t.id, step_idx=first_step[key], kind="loop",
                                detail=_clip(f"{n} identical calls: {key}")))
    return found


def _halts(t: Trajectory) -> list[Signal]:
    found: list[Signal] = []
    termination = t.metadata.get("termination")
    if termination:
        last = t.steps[-1].index if t.steps else None
        found.append(Signal(trajectory_id=t.id, step_idx=last, kind="halted", detail=_clip(str(termination))))
    answered = {r.call_id for s in t.steps for r in s.tool_results if r.call_id}
    calls = [(s, c) for s in t.steps for c in s.tool_calls]
    if calls:
        step, call = calls[-1]
        later_results = any(s.tool_results for s in t.steps if s.index >= step.index)
        if (call.id and call.id not in answered) or (not call.id and not later_results):
            found.append(Signal(trajectory_id=t.id, step_idx=step.index, kind="truncated",
                                detail=_clip(f"last tool call {call.name} has no result")))
    return found


def _arg_diff(gold: dict[str, Any], actual: Any) -> str:
    if not isinstance(actual, dict):
        return f"arguments not an object: {actual!r}"
    keys = sorted(set(gold) | set(actual))
    diffs = [
        f"{k}: expected {json.dumps(gold.get(k), sort_keys=True)} got {json.dumps(actual.get(k), sort_keys=True)}"
        for k in keys
        if gold.get(k) != actual.get(k)
    ]
    return "; ".join(diffs)


def _gold(t: Trajectory) -> list[Signal]:
    truth = t.ground_truth or {}
    gold_actions = truth.get("actions")
    if not isinstance(gold_actions, list) or not gold_actions:
        return []
    calls = [(s.index, c) for s in t.steps for c in s.tool_calls]
    used: set[int] = set()
    found: list[Signal] = []
    for g in gold_actions:
        if not isinstance(g, dict) or not isinstance(g.get("name"), str):
            continue
        raw = g.get("kwargs") if isinstance(g.get("kwargs"), dict) else g.get("arguments")
        kwargs: dict[str, Any] = raw if isinstance(raw, dict) else {}
        exact = next((i for i, (_, c) in enumerate(calls) if i not in used and c.name == g["name"]
                      and c.arguments == kwargs), None)
        if exact is not None:
            used.add(exact)
            continue
        near = next((i for i, (_, c) in enumerate(calls) if i not in used and c.name == g["name"]), None)
        if near is None:
            found.append(Signal(trajectory_id=t.id, kind="gold_missing",
                                detail=_clip(f"never called {_call_key(g['name'], kwargs)}")))
        else:
            used.add(near)
            step_idx, call = calls[near]
            found.append(Signal(trajectory_id=t.id, step_idx=step_idx, kind="gold_mismatch",
                                detail=_clip(f"{g['name']}: {_arg_diff(kwargs, call.arguments)}")))
    gold_names = {g.get("name") for g in gold_actions if isinstance(g, dict)}
    for i, (step_idx, call) in enumerate(calls):
        if i not in used and call.name in gold_names:
            found.append(Signal(trajectory_id=t.id, step_idx=step_idx, kind="gold_extra",
                                detail=_clip("extra call beyond the gold actions: "
                                             f"{_call_key(call.name, call.arguments)}")))
    return found


def compute_signals(t: Trajectory) -> list[Signal]:
    """All signals for one trajectory (its `id` must be set)."""
    return [*_tool_errors(t), *_repeats(t), *_halts(t), *_gold(t)]
