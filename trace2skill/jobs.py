"""Background jobs: a run executes in a daemon thread of this process while its state lives in the
database, so any page (or a reload) reads progress from the store, never from the thread."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)
_threads: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def start(run_id: str, target: Callable[[], object]) -> threading.Thread:
    """Run `target` in the background under `run_id`, unless that run is already running here."""
    with _lock:
        running = _threads.get(run_id)
        if running and running.is_alive():
            return running

        def guarded() -> None:
            try:
                target()
            except Exception:  # the run records its own error in the database
                log.exception("background run %s failed", run_id)

        thread = threading.Thread(target=guarded, name=f"run-{run_id}", daemon=True)
        _threads[run_id] = thread
        thread.start()
        return thread


def is_running(run_id: str) -> bool:
    thread = _threads.get(run_id)
    return bool(thread and thread.is_alive())


def wait(run_id: str, timeout: float | None = None) -> None:
    thread = _threads.get(run_id)
    if thread:
        thread.join(timeout)


# --------------------------------------------------------------------------- the item queue of a run

ItemWork = Callable[[str], str]  # item id -> final status; it records its own output and finishes the item


def work_item(ws: Any, run_id: str, item_id: str, work: ItemWork) -> str:
    """One item of a run: skipped when the run was cancelled, else started, worked and, when `work`
    raises, marked failed with the error (the run goes on)."""
    from trace2skill.store import runs as run_store

    db = ws.db
    if run_store.run_status(db, run_id) == "cancelled":
        run_store.finish_item(db, run_id, item_id, "cancelled")
        return "cancelled"
    run_store.start_item(db, run_id, item_id)
    try:
        return work(item_id)
    except Exception as exc:  # recorded on the item
        run_store.finish_item(db, run_id, item_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        return "failed"


def process_queued(ws: Any, run_id: str, work: ItemWork, *, concurrency: int,
                   on_item: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """Work every queued item of the run, `concurrency` at a time; blocks. The run ends 'done' (or
    'cancelled' when cancelled meanwhile); an unexpected error marks it failed and is re-raised."""
    from concurrent.futures import ThreadPoolExecutor

    from trace2skill.store import runs as run_store

    items = run_store.pending_items(ws.db, run_id)
    if run_store.run_status(ws.db, run_id) == "cancelled":
        return run_store.run_progress(ws.db, run_id)
    run_store.set_run_status(ws.db, run_id, "running")

    def task(item_id: str) -> None:
        status = work_item(ws, run_id, item_id, work)
        if on_item:
            on_item(item_id, status)

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=f"worker-{run_id}") as pool:
            for future in [pool.submit(task, i) for i in items]:
                future.result()
    except BaseException as exc:
        run_store.set_run_status(ws.db, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    final = "cancelled" if run_store.run_status(ws.db, run_id) == "cancelled" else "done"
    run_store.set_run_status(ws.db, run_id, final)
    return run_store.run_progress(ws.db, run_id)
