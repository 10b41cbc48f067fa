"""Fewer garbage-collector passes while a file imports.

Parsing a trace file allocates millions of small dicts and lists that live until their batch is
stored. CPython's collector runs a pass every 700 new containers and, every so often, walks every
object the process holds (in the app: all of Streamlit's too), so on a 10,000-trace file it took a
third of the import time while finding next to nothing to free (parsed records hold no cycles).
During an import the first-generation threshold is raised and the objects that existed before are
frozen out of the walks; both are restored when the last concurrent import ends. Reference counting
still frees everything as usual; only cycles wait for the next pass.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

IMPORT_THRESHOLD = 50_000  # new containers between passes (CPython's default: 700)

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(IMPORT_THRESHOLD, _saved[0]), _saved[1], _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()
                _saved = None
