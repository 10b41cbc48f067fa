"""The call scope: what the run engine tells the LLM client about the work a thread is doing.

A worker thread of a run sets a scope (run id, item id, the run's cancel flag, a retry callback)
around its item. The client then logs each request under that run and item, refuses to send a
request once the run is cancelled (raising `RunCancelled`), waits out a back-off on the cancel
flag instead of sleeping through it, and reports each retry so the item can show its attempts,
its last error and when it tries again. With a `budget_check` the client also asks, before each
request, whether the run's budget allows it, and reports each request's usage to the run's cost
meter. With a `batch` sender the client sends its requests in batches (`llm/batch.py`) instead of
live. Outside a scope (a test, a one-off call) nothing changes.

The scope lives in a context variable that each thread sets for itself: new threads start with an
empty context, so a scope never leaks from one worker to another.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trace2skill.errors import BudgetExceeded, RunCancelled

if TYPE_CHECKING:
    from trace2skill.llm.batch import BatchSender

RetryCallback = Callable[[int, str, float], None]  # (requests sent so far, error, seconds until the retry)
Settle = Callable[[dict[str, int] | None], None]  # a request ended: its usage (None: no answer came)
# (model, the request's estimated prompt tokens (computed only when asked: it costs ~1 ms per 10k
# chars), its max completion tokens) -> a Settle to call once the request ends; raises
# BudgetExceeded when the request would take the run past its budget.
BudgetCheck = Callable[[str, Callable[[], int], int], Settle]


def settle_nothing(_usage: dict[str, int] | None) -> None:
    return None


@dataclass
class CallScope:
    run_id: str | None = None
    item_id: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_retry: RetryCallback | None = None
    requests: int = 0  # requests sent inside this scope
    budget_check: BudgetCheck | None = None  # set by the engine: the run's cost meter and budget
    over_budget: bool = False  # a request of this scope was refused by the budget
    batch: BatchSender | None = None  # set by the engine for a run in batch mode: requests go out in batches
    prompt_tokens: int = 0  # used by the answered requests of this scope (an item that fails used them too)
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self) -> None:
        """Raise RunCancelled when the run was cancelled: no new request is started."""
        if self.cancelled.is_set():
            raise RunCancelled(f"run {self.run_id} was cancelled")

    def admit(self, model: str, prompt_tokens: Callable[[], int], max_tokens: int) -> Settle:
        """Before a request: raise RunCancelled when the run was cancelled, BudgetExceeded when this
        request (about `prompt_tokens()` in, at most `max_tokens` out) would exceed the run's budget.
        Returns the callback to report the request's usage to once it ended."""
        self.check()
        meter: Settle = settle_nothing
        if self.budget_check is not None:
            try:
                meter = self.budget_check(model, prompt_tokens, max_tokens)
            except BudgetExceeded:
                self.over_budget = True  # whatever the work does with the error, its item is not finished
                raise

        def settle(usage: dict[str, int] | None) -> None:
            if usage:
                with self._lock:
                    self.prompt_tokens += int(usage.get("prompt_tokens", 0))
                    self.completion_tokens += int(usage.get("completion_tokens", 0))
            meter(usage)
        return settle

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less when the run is cancelled meanwhile (then raise RunCancelled)."""
        if self.cancelled.wait(max(0.0, seconds)):
            self.check()


_current: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("trace2skill_call_scope", default=None)


def current_scope() -> CallScope | None:
    return _current.get()


@contextlib.contextmanager
def call_scope(scope: CallScope) -> Iterator[CallScope]:
    """Make `scope` the current one in this thread for the duration of the block."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
