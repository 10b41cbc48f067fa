"""A run's budget and its live cost meter.

A run may have a budget — total tokens and/or money — in its config under "budget" (set when it is
created, raised with `set_budget`). While the run executes, a `RunMeter` holds what it has spent:
read once from the call log when the execution starts, then counted in memory as each request ends
(no query per call). Before each request the LLM client asks the meter (through the call scope)
whether the run can afford it: the request's estimated prompt tokens plus its max completion
tokens, priced from the workspace's price table. Requests in flight hold that much as a
reservation, so concurrent workers never overshoot together; a request that would fit once they
settle waits for them.

When the next request would exceed the budget, the meter refuses it (BudgetExceeded) and every
request after it: nothing new starts, requests in flight finish and their items are stored, the
refused items are left to re-queue, and the engine ends the run "stopped" with what it spent.
Raising the budget and resuming finishes it; finished calls come from the cache, free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trace2skill.costs import get_prices, money, price_for, scale_prices, spend_of, usage_cost
from trace2skill.errors import BudgetExceeded, InvalidValueError, RunCancelled
from trace2skill.llm.scope import Settle
from trace2skill.models import ModelPrice, Run, RunBudget, RunSpend, TokenUsage
from trace2skill.settings import batch_price
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.calls import run_usage

if TYPE_CHECKING:
    from trace2skill.llm.batch import BatchOptions

BUDGET_KEY = "budget"
WAIT_S = 0.1  # how often a request waiting for reservations to settle re-checks the cancel flag
STOP_PREFIX = "stopped: budget"


def budget_of(config: dict[str, Any]) -> RunBudget | None:
    """The budget in a run's config; None when it has none."""
    data = config.get(BUDGET_KEY)
    budget = RunBudget.model_validate(data) if data else None
    return budget if budget is not None and budget.is_set else None


def check_budget(tokens: int | None, usd: float | None) -> RunBudget:
    """A budget from user input (InvalidValueError when a limit is not a positive number)."""
    if tokens is not None and tokens < 1:
        raise InvalidValueError(f"a token budget must be a whole number of at least 1, not {tokens}")
    if usd is not None and not usd > 0:
        raise InvalidValueError(f"a money budget must be more than 0, not {usd}")
    return RunBudget(tokens=tokens, usd=usd)


def set_budget(ws: Workspace, run_id: str, *, tokens: int | None = None, usd: float | None = None,
               clear: bool = False) -> Run:
    """Set (raise, lower) a run's budget: each limit given replaces the stored one, the others stay;
    `clear` removes the budget. A run executing now keeps the budget it started with until it is
    resumed. (A money budget on a model without a price stops the run at its first call, saying so:
    callers check with `costs.require_price` first.)"""
    run = run_store.get_run(ws.db, run_id)
    given = check_budget(tokens, usd)
    old = budget_of(run.config) or RunBudget()
    new = RunBudget() if clear else RunBudget(tokens=given.tokens or old.tokens,
                                             usd=given.usd if given.usd is not None else old.usd)
    run_store.set_config_value(ws.db, run.id, BUDGET_KEY, new.model_dump() if new.is_set else None)
    return run_store.get_run(ws.db, run.id)


def spend(ws: Workspace, run: Run) -> RunSpend:
    """What the run has spent (live while this process executes it), with its budget."""
    from trace2skill.runs.engine import live_meter

    meter = live_meter(run.id)
    if meter is not None:
        return meter.spend()
    return spend_of(run_usage(ws.db, run.id), run_prices(ws, run), budget_of(run.config))


def price_share(ws: Workspace, options: BatchOptions | None) -> float:
    """The share of the price table a run pays: the workspace's `batch_price` (half, by default)
    when it sends its calls to a batch API, else all of it."""
    return batch_price(ws.db) if options is not None and options.mode == "api" else 1.0


def run_prices(ws: Workspace, run: Run) -> dict[str, ModelPrice]:
    """The price table the run is billed at (see `price_share`)."""
    from trace2skill.llm.batch import options_of

    prices = get_prices(ws.db)
    share = price_share(ws, options_of(run.config))
    return scale_prices(prices, share) if share != 1.0 else prices


class RunMeter:
    """What one execution of a run spends, and the gate of its budget (see the module doc)."""

    def __init__(self, ws: Workspace, run: Run, cancelled: threading.Event):
        self.budget = budget_of(run.config)
        self.prices: dict[str, ModelPrice] = run_prices(ws, run)
        self.cancelled = cancelled
        self._usage = {u.model: u for u in run_usage(ws.db, run.id)}
        self._reserved_tokens, self._reserved_usd = 0, 0.0
        self._cond = threading.Condition()
        self.stopped = False  # the budget refused a request: nothing new starts in this execution
        self._reason: str | None = None  # why, when it is not simply "spent"

    def spend(self) -> RunSpend:
        with self._cond:
            return spend_of([u.model_copy() for u in self._usage.values()], self.prices, self.budget)

    def stop_message(self) -> str:
        """The run's error when the budget stopped it: what it spent of what."""
        spent = self.spend()
        parts = []
        if self.budget and self.budget.tokens is not None:
            parts.append(f"{spent.tokens:,} of {self.budget.tokens:,} tokens")
        if self.budget and self.budget.usd is not None:
            parts.append(f"{money(spent.usd)} of {money(self.budget.usd)}")
        why = self._reason or (f"spent {' and '.join(parts)}" if parts else "spent its budget")
        return f"{STOP_PREFIX} — {why}; raise the budget and resume"

    # ------------------------------------------------------------------ the gate (a BudgetCheck)
    def check(self, model: str, prompt_tokens: Callable[[], int], max_tokens: int) -> Settle:
        if self.budget is None:
            return lambda usage: self._settle(model, 0, 0.0, usage)
        tokens = prompt_tokens() + max_tokens
        price = price_for(self.prices, model)
        if price is None and self.budget.usd is not None:
            self._refuse(f"no price for model {model} in the workspace's price table, so the money budget cannot "
                         f"be kept (set one: trace2skill settings price {model} --prompt P --completion C)")
        usd = usage_cost({"prompt_tokens": tokens - max_tokens, "completion_tokens": max_tokens}, price or ModelPrice())
        self._reserve(tokens, usd)
        return lambda usage: self._settle(model, tokens, usd, usage)

    def _reserve(self, tokens: int, usd: float) -> None:
        with self._cond:
            while True:
                if self.cancelled.is_set():
                    raise RunCancelled("the run was cancelled")
                spent = self._spent_now()
                if self.stopped or not self._fits(spent, tokens, usd):
                    self._refuse(None)
                if self._fits((spent[0] + self._reserved_tokens, spent[1] + self._reserved_usd), tokens, usd):
                    self._reserved_tokens += tokens
                    self._reserved_usd += usd
                    return
                self._cond.wait(WAIT_S)  # it fits once the calls in flight settle: wait for them

    def _fits(self, spent: tuple[int, float], tokens: int, usd: float) -> bool:
        assert self.budget is not None
        if self.budget.tokens is not None and spent[0] + tokens > self.budget.tokens:
            return False
        return self.budget.usd is None or spent[1] + usd <= self.budget.usd + 1e-12

    def _spent_now(self) -> tuple[int, float]:
        tokens = sum(u.total for u in self._usage.values())
        usd = sum(usage_cost(u, price_for(self.prices, m) or ModelPrice()) for m, u in self._usage.items())
        return tokens, usd

    def _refuse(self, reason: str | None) -> None:
        """Refuse this request and every later one of this execution."""
        with self._cond:
            if not self.stopped:
                self.stopped, self._reason = True, reason
            raise BudgetExceeded(self._reason or "the next call would exceed the run's budget")

    def _settle(self, model: str, tokens: int, usd: float, usage: dict[str, int] | None) -> None:
        with self._cond:
            self._reserved_tokens -= tokens
            self._reserved_usd -= usd
            if usage:
                known = self._usage.setdefault(model, TokenUsage(model=model))
                known.calls += 1
                known.prompt_tokens += int(usage.get("prompt_tokens") or 0)
                known.cached_tokens += int(usage.get("cached_tokens") or 0)
                known.completion_tokens += int(usage.get("completion_tokens") or 0)
            self._cond.notify_all()
