"""What a run kind's `work` gets: the run, its client, and the engine's ways to do work that
honour cancel — items with their bookkeeping (`process_items`), concurrent steps (`map`), and
`checkpoint()` between phases.

Work runs on daemon threads. When the run is cancelled, the waiting stops at once: threads still
inside an LLM call are abandoned (the client starts no new request for them; an answer that still
arrives is logged and cached, but its item is no longer "running", so nothing of it is stored).
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from sqlite_utils import Database

from trace2skill.errors import BatchWaiting, BudgetExceeded, RunCancelled, Trace2SkillError, error_words
from trace2skill.llm.protocol import StructuredClient
from trace2skill.llm.scope import BudgetCheck, CallScope, call_scope
from trace2skill.models import Run
from trace2skill.store import Workspace, write_transaction
from trace2skill.store import runs as run_store
from trace2skill.textcut import cut_words

if TYPE_CHECKING:
    from trace2skill.llm.batch import BatchSender
    from trace2skill.runs.budget import RunMeter

T = TypeVar("T")
R = TypeVar("R")
POLL_S = 0.1
ItemCallback = Callable[[str, str], None]  # (item id, its new status)


@dataclass
class ItemResult:
    """What one item's work produced. `save` writes its output; the engine calls it in the same
    transaction that marks the item finished, and only while the item is still running."""

    status: Literal["done", "failed"] = "done"
    save: Callable[[Database], object] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    note: str | None = None  # shown in the item's error column (e.g. why it was skipped)


ItemWork = Callable[[str], ItemResult]


class RunContext:
    def __init__(self, ws: Workspace, run: Run, client: StructuredClient | None, cancelled: threading.Event, *,
                 concurrency: int | None = None, on_item: ItemCallback | None = None, execution: int = 0,
                 meter: RunMeter | None = None, batch: BatchSender | None = None):
        self.ws, self.run, self._client = ws, run, client
        self.execution = execution  # which execution of the run this is (items remember who started them)
        self.cancelled = cancelled
        self.meter = meter  # what the run spends, and its budget's gate (None: not metered)
        self.concurrency = concurrency  # an override for this execution; None: the run's own setting
        self.on_item = on_item
        self.batch = batch  # batch mode: the sender every request of this execution goes through

    @property
    def config(self) -> dict[str, Any]:
        return self.run.config

    @property
    def client(self) -> StructuredClient:
        if self._client is None:
            raise Trace2SkillError(f"run {self.run.id} needs an LLM client and none was given")
        return self._client

    @property
    def optional_client(self) -> StructuredClient | None:
        return self._client

    def workers(self, default: int) -> int:
        if self.batch is not None:  # every item of a stage at once, so that its requests fill one batch
            from trace2skill.llm.batch import batch_workers

            return batch_workers()
        return max(1, self.concurrency or default)

    def checkpoint(self) -> None:
        """Raise RunCancelled when the run was cancelled, BudgetExceeded when its budget stopped it
        (call between phases, levels, steps)."""
        if self.cancelled.is_set():
            raise RunCancelled(f"run {self.run.id} was cancelled")
        if self.batch is not None and self.batch.waiting:
            raise BatchWaiting(self.batch.waiting)
        if self.over_budget:
            raise BudgetExceeded(f"run {self.run.id} is at its budget")

    @property
    def over_budget(self) -> bool:
        return self.meter is not None and self.meter.stopped

    @property
    def budget_check(self) -> BudgetCheck | None:
        return self.meter.check if self.meter is not None else None

    def set_counters(self, **values: Any) -> None:
        run_store.set_counters(self.ws.db, self.run.id, values)

    # ------------------------------------------------------------------ concurrent steps
    def map(self, fn: Callable[[T], R], args: Sequence[T], *, concurrency: int,
            item_of: Callable[[T], str | None] | None = None) -> list[R]:
        """`fn` over `args`, `concurrency` at a time, results in order. Raises RunCancelled as soon
        as the run is cancelled; the first error of a step is re-raised once all steps ended."""
        def scoped(arg: T) -> R:
            scope = CallScope(self.run.id, item_of(arg) if item_of else None, self.cancelled,
                              budget_check=self.budget_check, batch=self.batch)
            with call_scope(scope):
                return fn(arg)

        results = map_on_pool(scoped, args, concurrency, self.cancelled)
        self.checkpoint()
        return results

    def call(self, fn: Callable[[], R]) -> R:
        """One step on a worker thread, abandoned when the run is cancelled."""
        return self.map(lambda _none: fn(), [None], concurrency=1)[0]

    # ------------------------------------------------------------------ items
    def process_items(self, work: ItemWork, *, concurrency: int) -> None:
        """Work every queued item of the run, `concurrency` at a time; blocks. An item whose work
        raises is marked failed with the error (the run goes on)."""
        pending = run_store.item_ids(self.ws.db, self.run.id, "queued")
        run_pool([functools.partial(self._one_item, i, work) for i in pending], concurrency, self.cancelled)
        self.checkpoint()

    def _one_item(self, item_id: str, work: ItemWork) -> None:
        db, run_id = self.ws.db, self.run.id
        if self.cancelled.is_set() or self.over_budget or not run_store.start_item(db, run_id, item_id,
                                                                                    self.execution):
            return
        scope = CallScope(run_id, item_id, self.cancelled, on_retry=self._retry_recorder(item_id),
                          budget_check=self.budget_check, batch=self.batch)
        try:
            with call_scope(scope):
                result = work(item_id)
        except RunCancelled:
            return  # the item was cancelled with the run, or stopped at its budget (re-queued at the end)
        except Exception as exc:  # recorded on the item; the run goes on
            result = ItemResult("failed", note=cut_words(error_words(exc), 2000), prompt_tokens=scope.prompt_tokens,
                                completion_tokens=scope.completion_tokens)  # what its calls used all the same
        if scope.over_budget:
            return  # a request was refused by the budget: the item is re-queued, not half-stored
        self._finish(item_id, result, scope.requests)

    def _finish(self, item_id: str, result: ItemResult, requests: int) -> None:
        db = self.ws.db
        with write_transaction(db):
            if not run_store.finish_item(db, self.run.id, item_id, result.status, error=result.note,
                                         prompt_tokens=result.prompt_tokens,
                                         completion_tokens=result.completion_tokens, attempts=requests,
                                         execution=self.execution):
                return  # cancelled meanwhile: its output is not stored
            if result.save is not None:
                result.save(db)
        if self.on_item:
            self.on_item(item_id, result.status)

    def _retry_recorder(self, item_id: str) -> Callable[[int, str, float], None]:
        def record(attempts: int, error: str, delay_s: float) -> None:
            run_store.item_retrying(self.ws.db, self.run.id, item_id, attempts=attempts, error=error, delay_s=delay_s)
        return record


def map_on_pool(fn: Callable[[T], R], args: Sequence[T], concurrency: int, cancelled: threading.Event) -> list[R]:
    """`fn` over `args` on `run_pool`; results in order. Steps cancelled with the run are left out
    (the caller checks for cancel); otherwise the first error of a step is re-raised."""
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    def step(k: int) -> None:
        try:
            results[k] = fn(args[k])
        except RunCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            errors.append(exc)

    run_pool([functools.partial(step, k) for k in range(len(args))], concurrency, cancelled)
    if errors and not cancelled.is_set():
        raise errors[0]
    return [results[k] for k in sorted(results)]


def run_pool(tasks: list[Callable[[], None]], concurrency: int, cancelled: threading.Event) -> None:
    """Run `tasks` on daemon threads, at most `concurrency` at once. Returns when all ended, or at
    once (leaving running tasks behind) when `cancelled` is set. Tasks handle their own errors."""
    queue = collections.deque(tasks)
    lock = threading.Lock()
    remaining = [len(tasks)]
    finished = threading.Event()
    if not tasks:
        return

    def worker() -> None:
        while True:
            with lock:
                if not queue or cancelled.is_set():
                    return
                task = queue.popleft()
            try:
                task()
            finally:
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

    for n in range(min(max(1, concurrency), len(tasks))):
        threading.Thread(target=worker, name=f"t2s-worker-{n}", daemon=True).start()
    while not finished.wait(POLL_S):
        if cancelled.is_set():
            return


class Steps(Protocol):
    """What multi-step work (the merge tree) needs: a workspace, concurrent steps that honour
    cancel, checkpoints, and somewhere to report a finished step. A RunContext is one."""

    ws: Workspace
    on_item: ItemCallback | None

    def map(self, fn: Callable[[T], R], args: Sequence[T], *, concurrency: int,
            item_of: Callable[[T], str | None] | None = None) -> list[R]: ...

    def checkpoint(self) -> None: ...


class LocalSteps:
    """Steps outside any run (library use, tests, benchmarks): never cancelled."""

    def __init__(self, ws: Workspace, on_item: ItemCallback | None = None):
        self.ws, self.on_item = ws, on_item
        self._never = threading.Event()

    def map(self, fn: Callable[[T], R], args: Sequence[T], *, concurrency: int,
            item_of: Callable[[T], str | None] | None = None) -> list[R]:
        return map_on_pool(fn, args, concurrency, self._never)

    def checkpoint(self) -> None:
        return None
