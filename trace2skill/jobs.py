"""Background jobs: a run executes in a daemon thread of this process while its state lives in the
database, so any page (or a reload) reads progress from the store, never from the thread."""

from __future__ import annotations

import logging
import threading
from typing import Callable

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
