"""The run engine: one home for every kind of run (extraction, consolidation, re-run of a merge
subtree, evaluation, and any later kind).

- `create(ws, kind, config, items)` makes a queued run (kinds offer their own `create_*` helpers
  that build the config and items, then call this);
- `execute` / `resume` / `start_background` / `cancel` / `wait` drive any run, whatever its kind;
- `describe(ws, run_id)` says what its state means (alive, interrupted, can cancel/resume, pace, ETA);
- `client_for(ws, run, base_url, model)` is the LLM client a run continues on;
- `set_budget(ws, run_id, tokens=, usd=)` sets a run's budget, `spend(ws, run)` what it spent (live).

A kind registers a `RunKind` (registry.py) whose `work(ctx)` does the work through the
`RunContext` (context.py): `ctx.process_items(...)`, `ctx.map(...)`, `ctx.checkpoint()`.
"""

from trace2skill.runs.budget import budget_of, set_budget, spend
from trace2skill.runs.context import ItemResult, RunContext
from trace2skill.runs.engine import (
    cancel,
    create,
    execute,
    prepare_resume,
    resume,
    running_here,
    running_here_ids,
    start_background,
    wait,
)
from trace2skill.runs.registry import RunKind, get_kind, kind_names, register
from trace2skill.runs.state import RunState, describe, format_duration, is_alive

__all__ = [
    "ItemResult", "RunContext", "RunKind", "RunState", "budget_of", "cancel", "create", "describe", "execute",
    "format_duration", "get_kind", "is_alive", "kind_names", "prepare_resume", "register", "resume", "running_here",
    "running_here_ids",
    "set_budget", "spend", "start_background", "wait",
]
