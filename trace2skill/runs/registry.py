"""The registry of run kinds. A kind says how to execute a run of it; the engine does the rest
(state, heartbeat, cancel, resume, counters). Kinds register themselves when their module is
imported; `get_kind` imports the module that provides a kind the first time it is asked for."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trace2skill.errors import Trace2SkillError

if TYPE_CHECKING:
    from trace2skill.models import Run
    from trace2skill.runs.context import RunContext
    from trace2skill.store import Workspace

Report = tuple[list[str], dict[str, Any]]  # lines for people, data for --json


def _always(_config: dict[str, Any]) -> bool:
    return True


def _no_report(_ws: Workspace, _run: Run) -> Report:
    return [], {}


@dataclass(frozen=True)
class RunKind:
    name: str
    work: Callable[[RunContext], None]  # does the run's work through the context; blocks
    items: str = "items"  # what one item is, in the users' words ("trajectories", "tasks", ...)
    uses_llm: Callable[[dict[str, Any]], bool] = _always  # does a run with this config need a client?
    report: Callable[[Workspace, Run], Report] = _no_report  # what a run of this kind did


# Which module provides each kind (imported on first use: those modules import the engine).
PROVIDERS = {
    "extraction": "trace2skill.analysis.fleet",
    "consolidation": "trace2skill.consolidate.run",
    "rerun": "trace2skill.consolidate.rerun",
    "evaluation": "trace2skill.evaluate.run",
    "verification": "trace2skill.verify.run",
    "collection": "trace2skill.evaluate.collect",
}
_kinds: dict[str, RunKind] = {}


def register(kind: RunKind) -> RunKind:
    _kinds[kind.name] = kind
    return kind


def get_kind(name: str) -> RunKind:
    if name not in _kinds and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
    try:
        return _kinds[name]
    except KeyError:
        raise Trace2SkillError(f"unknown run kind {name!r} (known: {', '.join(sorted(PROVIDERS))})") from None


def kind_names() -> list[str]:
    return sorted(PROVIDERS)
