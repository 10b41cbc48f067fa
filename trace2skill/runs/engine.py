"""THE run engine: create, execute, resume, cancel and heartbeat every kind of run.

A run's state lives in the database (`store.runs`), so any process and any page reads the same
thing. While a run executes, a monitor thread refreshes its heartbeat once a second and watches
for a cancel written by another process (the CLI's `trace2skill cancel`, the app in another
browser); a cancel in this process is seen at once. Whatever the kind, a cancelled run stops
starting work, abandons what is in flight, and ends "cancelled" with its unfinished items; resume
re-queues them and finishes the run without redoing finished work (finished LLM calls come from
the cache). A run with a budget (runs/budget.py) that the next call would exceed ends "stopped": no
new request starts, calls in flight finish, unfinished items go back to the queue; raise the budget
and resume it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from trace2skill.errors import BatchWaiting, BudgetExceeded, RunCancelled, RunStateError, error_words
from trace2skill.llm.batch import BatchSender, cancel_orphaned, options_of
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Run
from trace2skill.runs.budget import RunMeter
from trace2skill.runs.context import ItemCallback, RunContext
from trace2skill.runs.registry import get_kind
from trace2skill.runs.state import is_alive, this_process
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.textcut import cut_words

log = logging.getLogger(__name__)
BEAT_S = 1.0


@dataclass
class _Execution:
    cancelled: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None  # the background thread, when started with start_background
    meter: RunMeter | None = None  # what it spends, live, and its budget's gate


_active: dict[str, _Execution] = {}  # runs executing in this process
_lock = threading.Lock()


def create(ws: Workspace, kind: str, config: dict[str, Any], items: list[str]) -> str:
    """A new queued run of `kind` over `items`; nothing runs yet."""
    get_kind(kind)
    return run_store.create_run(ws.db, kind, config, items)


def running_here(run_id: str) -> bool:
    """Whether this process is executing the run now."""
    with _lock:
        return run_id in _active


def running_here_ids() -> list[str]:
    """The runs this process is executing now."""
    with _lock:
        return sorted(_active)


def execute(ws: Workspace, run_id: str, client: StructuredClient | None = None, *,
            on_item: ItemCallback | None = None, concurrency: int | None = None) -> Run:
    """Execute the run's queued work; blocks until it is done, failed or cancelled, and returns
    the run as stored then. A run already ended is returned as it is (resume it to go on)."""
    run = run_store.get_run(ws.db, run_id)
    if not run.is_active:
        return run
    execution = _claim(ws, run)
    try:
        return _execute(ws, run, execution, client, on_item, concurrency)
    finally:
        with _lock:
            _active.pop(run.id, None)


def _claim(ws: Workspace, run: Run) -> _Execution:
    with _lock:
        if run.id in _active and _active[run.id].thread is not threading.current_thread():
            raise RunStateError(f"run {run.id} is already running in this process")
        if run.id not in _active and is_alive(run):
            raise RunStateError(f"run {run.id} is running in another process (heartbeat {run.heartbeat}); "
                                "cancel it there or wait for it")
        execution = _active.setdefault(run.id, _Execution())
    return execution


def _execute(ws: Workspace, run: Run, execution: _Execution, client: StructuredClient | None,
             on_item: ItemCallback | None, concurrency: int | None) -> Run:
    kind = get_kind(run.kind)
    execution_no = run_store.mark_running(ws.db, run.id, this_process())
    monitor = threading.Thread(target=_monitor, args=(ws, run.id, execution), name=f"t2s-beat-{run.id}",
                               daemon=True)
    monitor.start()
    current = run_store.get_run(ws.db, run.id)
    meter = execution.meter = RunMeter(ws, current, execution.cancelled)
    batch = _batch_sender(ws, current)
    ctx = RunContext(ws, current, client, execution.cancelled, concurrency=concurrency, on_item=on_item,
                     execution=execution_no, meter=meter, batch=batch)
    status, error = "done", None
    try:
        kind.work(ctx)
        ctx.checkpoint()  # a kind that swallowed a refusal of the budget still ends "stopped"
    except BudgetExceeded:
        status, error = ("cancelled", None) if execution.cancelled.is_set() else ("stopped", meter.stop_message())
    except BatchWaiting as exc:
        status, error = "stopped", str(exc)
    except RunCancelled:
        status = "cancelled"
    except KeyboardInterrupt:
        status, error = "cancelled", "interrupted (Ctrl-C); resume it to finish"
        raise
    except Exception as exc:  # recorded on the run; the caller reads it from the returned run
        log.exception("run %s failed", run.id)
        status, error = "failed", cut_words(error_words(exc), 2000)
    finally:
        execution.stop.set()
        asked_to_cancel = execution.cancelled.is_set() or run_store.run_status(ws.db, run.id) == "cancelled"
        if status == "done" and asked_to_cancel:
            status = "cancelled"
        if batch is not None:
            batch.close()
            if asked_to_cancel:  # not on Ctrl-C: a resumed run still wants the batch's answers
                batch.cancel_open()
        run_store.finish_run(ws.db, run.id, status, error)
    return run_store.get_run(ws.db, run.id)


def _batch_sender(ws: Workspace, run: Run) -> BatchSender | None:
    """The run's batch sender when its config says to send in batches (see `llm/batch.py`)."""
    options = options_of(run.config)
    return BatchSender(ws, run.id, options) if options is not None else None


def _monitor(ws: Workspace, run_id: str, execution: _Execution) -> None:
    db = ws.connect()
    try:
        while not execution.stop.wait(BEAT_S):
            try:
                if run_store.beat(db, run_id) == "cancelled":
                    execution.cancelled.set()
            except Exception:  # noqa: BLE001 - a missed beat is not fatal; the next one retries
                log.warning("heartbeat of run %s failed", run_id, exc_info=True)
    finally:
        db.close()


def live_meter(run_id: str) -> RunMeter | None:
    """The cost meter of the run while this process executes it (None otherwise)."""
    with _lock:
        execution = _active.get(run_id)
    return execution.meter if execution is not None else None


def cancel(ws: Workspace, run_id: str) -> Run:
    """Stop a run: no further work starts, work in flight is abandoned, unfinished items end
    "cancelled". Works from any process; RunStateError when the run had already ended."""
    run = run_store.get_run(ws.db, run_id)
    if not run_store.cancel_run(ws.db, run.id):
        raise RunStateError(f"run {run.id} is {run.status}: there is nothing to cancel")
    with _lock:
        execution = _active.get(run.id)
    if execution is not None:
        execution.cancelled.set()  # its execution cancels its open batches as it ends
    elif not is_alive(run):  # interrupted: no process will end it, so its open batches are cancelled here
        cancel_orphaned(ws, run)
    return run_store.get_run(ws.db, run.id)


def prepare_resume(ws: Workspace, run_id: str, *, retry_failed: bool = True) -> Run:
    """Re-queue a stopped run's unfinished items (and with `retry_failed` its failed ones)."""
    run = run_store.get_run(ws.db, run_id)
    if running_here(run.id) or is_alive(run):
        raise RunStateError(f"run {run.id} is still running: nothing to resume")
    if run.status == "done" and not (run.progress.failed and retry_failed) and not run.progress.queued:
        raise RunStateError(f"run {run.id} is done: nothing to resume")
    run_store.requeue(ws.db, run.id, failed=retry_failed)
    return run_store.get_run(ws.db, run.id)


def resume(ws: Workspace, run_id: str, client: StructuredClient | None = None, *, retry_failed: bool = True,
           on_item: ItemCallback | None = None, concurrency: int | None = None) -> Run:
    """Finish an interrupted, cancelled or partly failed run; finished work is kept."""
    run = prepare_resume(ws, run_id, retry_failed=retry_failed)
    return execute(ws, run.id, client, on_item=on_item, concurrency=concurrency)


def start_background(ws: Workspace, run_id: str, client: StructuredClient | None = None, *,
                     resume: bool = False) -> None:
    """Execute (or resume) the run on a background thread of this process; read its progress from
    the store."""
    run = prepare_resume(ws, run_id) if resume else run_store.get_run(ws.db, run_id)
    with _lock:
        if run.id in _active:
            raise RunStateError(f"run {run.id} is already running in this process")
        execution = _active[run.id] = _Execution()

    def target() -> None:
        try:
            execute(ws, run.id, client)
        except Exception:  # noqa: BLE001 - recorded on the run by execute
            log.exception("background run %s", run.id)

    execution.thread = threading.Thread(target=target, name=f"t2s-run-{run.id}", daemon=True)
    execution.thread.start()


def wait(run_id: str, timeout: float | None = None) -> None:
    """Wait for a run started with `start_background` in this process to end."""
    with _lock:
        execution = _active.get(run_id)
    if execution is not None and execution.thread is not None:
        execution.thread.join(timeout)
