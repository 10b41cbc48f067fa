"""Turning the many ways data records an outcome into success / failure / unknown."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.models import Outcome, OutcomeLabel
from trace2skill.textcut import cut_words

SUCCESS_WORDS = {"success", "succeeded", "successful", "pass", "passed", "resolved", "correct", "true",
                 "yes", "solved", "ok", "completed", "done", "1"}
FAILURE_WORDS = {"failure", "failed", "fail", "unresolved", "incorrect", "wrong", "false", "no",
                 "error", "errored", "halted", "timeout", "0"}
# Keys looked at, in order, when a record carries its own label.
LABEL_KEYS = ("outcome", "success", "is_correct", "resolved", "is_resolved", "passed", "correct")
REWARD_KEYS = ("reward", "score")


def label_of(value: Any) -> OutcomeLabel | None:
    """A bool, a number (1/0) or a word becomes a label; anything else is None."""
    if isinstance(value, bool):
        return "success" if value else "failure"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "success" if value >= 1 else "failure"
    if isinstance(value, str):
        word = value.strip().lower()
        if word in SUCCESS_WORDS:
            return "success"
        if word in FAILURE_WORDS:
            return "failure"
        if word == "unknown":
            return "unknown"
    if isinstance(value, dict):
        return label_of(value.get("label"))
    return None


def reward_of(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def outcome_from_reward(reward: float | None, threshold: float = 1.0, detail: str | None = None) -> Outcome:
    if reward is None:
        return Outcome(label="unknown", detail=detail)
    return Outcome(label="success" if reward >= threshold else "failure", reward=reward, detail=detail)


def outcome_from_fields(record: dict[str, Any], threshold: float = 1.0) -> Outcome:
    """Read a label from the usual keys of a record; fall back to a reward; else unknown."""
    reward = next((reward_of(record.get(k)) for k in REWARD_KEYS if reward_of(record.get(k)) is not None), None)
    for key in LABEL_KEYS:
        if key in record:
            label = label_of(record[key])
            if label is not None:
                return Outcome(label=label, reward=reward, detail=cut_words(f"{key}: {record[key]}", 200, where=None))
    return outcome_from_reward(reward, threshold)


AT_LEAST = ">="  # "helpfulness>=0.7": a named number, success from 0.7 up


@lru_cache(maxsize=64)
def named_choice(spec: str) -> tuple[str, float | None]:
    """The outcome attribute a user named: `NAME` or `NAME>=X` (a number X or more reads as
    success, less as failure; without X a number reads as success at 1 or more). ("helpfulness", 0.7)
    for "helpfulness>=0.7"; MappingError when X is no number."""
    name, sign, number = spec.partition(AT_LEAST)
    name = name.strip()
    if not sign:
        return name, None
    try:
        at_least = float(number)
    except ValueError:
        at_least = math.nan
    if not name or not math.isfinite(at_least):
        raise MappingError(f"outcome attribute {spec!r}: write NAME>=X with a number X (e.g. helpfulness>=0.7)")
    return name, at_least


def named_outcome_of(spec: str, value: Any, what: str) -> Outcome:
    """The outcome the named value `value` gives (`spec`: see `named_choice`; `what` the value is,
    for the error: "attribute", "score"...). TrajectoryFormatError when it says neither success nor
    failure."""
    name, at_least = named_choice(spec)
    number = reward_of(value)
    if at_least is not None and number is not None:
        return Outcome(label="success" if number >= at_least else "failure", reward=number,
                       detail=cut_words(f"{name}: {value} (success from {at_least:g})", 200, where=None))
    label = label_of(value)
    if label is None:
        raise TrajectoryFormatError(f"the outcome {what} {name!r} holds {str(value)[:40]!r}, which says neither "
                                    "success nor failure")
    return Outcome(label=label, reward=number, detail=cut_words(f"{name}: {value}", 200, where=None))


def ended_with_error(label: str, why: str | None) -> str:
    """A failed run's outcome detail: "invoke_agent weather-agent ended with an error: gave up after 3
    model calls" (the error's message, or its type, when the span has one)."""
    return cut_words(f"{label} ended with an error" + (f": {why}" if why else ""), 200, where=None)


# Named values a trace's outcome could come from, per trace, while `listing_names` is on (else
# nothing is collected): what the outcome-attribute choice offers (`outcome_names`).
_offered: ContextVar[list[tuple[str, dict[str, Any]]] | None] = ContextVar("trace2skill_outcome_names", default=None)


def offer(what: str, pairs: Iterable[tuple[Any, Any]]) -> None:
    """A trace's named values (`what` they are: "span attribute", "score"...), each name's first value
    as the lookup of a named outcome attribute would find it; `pairs` is only read while listing."""
    seen = _offered.get()
    if seen is None:
        return
    first: dict[str, Any] = {}
    for key, value in pairs:
        if isinstance(key, str):
            first.setdefault(key, value)
    seen.append((what, first))


@contextmanager
def listing_names() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Collect what `offer` is given while parsing inside this block: one entry per trace."""
    collected: list[tuple[str, dict[str, Any]]] = []
    token = _offered.set(collected)
    try:
        yield collected
    finally:
        _offered.reset(token)
