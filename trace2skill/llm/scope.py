"""The call scope: what the run engine tells the LLM client about the work a thread is doing.

A worker thread of a run sets a scope (run id, item id, the run's cancel flag, a retry callback)
around its item. The client then logs each request under that run and item, refuses to send a
request once the run is cancelled (raising `RunCancelled`), waits out a back-off on the cancel
flag instead of sleeping through it, and reports each retry so the item can show its attempts,
its last error and when it tries again. Outside a scope (a test, a one-off call) nothing changes.

The scope lives in a context variable that each thread sets for itself: new threads start with an
empty context, so a scope never leaks from one worker to another.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from trace2skill.errors import RunCancelled

RetryCallback = Callable[[int, str, float], None]  # (requests sent so far, error, seconds until the retry)


@dataclass
class CallScope:
    run_id: str | None = None
    item_id: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_retry: RetryCallback | None = None
    requests: int = 0  # requests sent inside this scope

    def check(self) -> None:
        """Raise RunCancelled when the run was cancelled: no new request is started."""
        if self.cancelled.is_set():
            raise RunCancelled(f"run {self.run_id} was cancelled")

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
