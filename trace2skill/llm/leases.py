"""Cross-process locks and leases on files, with fcntl.flock (see trace2skill.llm.shared).

A flock belongs to an open file and the kernel drops it when the process that holds it dies,
however it dies, so "is somebody holding this file?" is a liveness test that a reused pid cannot
fool. A lease is a file in `<folder>/leases/` that one program keeps flock'ed while it lives."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trace2skill.errors import LLMError

FOLDER = "leases"


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


@contextlib.contextmanager
def flocked(path: Path, timeout_s: float, busy: str) -> Iterator[int]:
    """Hold an exclusive flock on `path` (created if needed), waiting at most `timeout_s`, then
    raising LLMError(`busy`)."""
    fd = _open(path)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LLMError(busy) from None
                time.sleep(0.1)
        yield fd
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """True when some process holds an exclusive flock on `path`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class Lease:
    """This program's claim on the shared server: a lease file it keeps flock'ed while it lives."""

    def __init__(self, folder: Path):
        leases = folder / FOLDER
        leases.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        tmp = leases / f".{name}.tmp"
        self.fd: int | None = _open(tmp)
        fcntl.flock(self.fd, fcntl.LOCK_EX)  # locked before it gets the name the server counts
        program = " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])
        os.write(self.fd, json.dumps({"pid": os.getpid(), "program": program[:200]}).encode())
        self.path = leases / f"{name}.lease"
        os.rename(tmp, self.path)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self.fd)
            self.fd = None


def live_leases(folder: Path, *, remove_stale: bool = False) -> list[dict[str, Any]]:
    """The programs holding a lease ({"pid", "program"}); leases nobody holds are stale."""
    users: list[dict[str, Any]] = []
    leases = folder / FOLDER
    for path in sorted(leases.glob("*.lease")) + sorted(leases.glob(".*.tmp")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                if path.suffix == ".lease":
                    with contextlib.suppress(OSError, ValueError):
                        users.append(json.loads(os.read(fd, 4096) or b"{}"))
                continue
            if remove_stale and (path.suffix == ".lease" or time.time() - path.stat().st_mtime > 60):
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return users
