"""The shared embedded model's own process: `python -m trace2skill.llm.shared_server --folder ...`.

`trace2skill.llm.shared.connect()` starts it, detached, in the per-user runtime folder; that
module's docstring describes the files. This process holds `server.lock` for its whole life, writes
`server.json`, serves the model with llama.cpp (`LocalModelServer`), and exits on SIGTERM/SIGINT or
once no program has held a lease for `--idle-s` seconds, removing its state file.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from trace2skill.errors import Trace2SkillError
from trace2skill.llm import shared
from trace2skill.llm.local import LocalModelServer

POLL_S = 2.0  # how often the leases are counted


def _say(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {message}\n")
    sys.stderr.flush()


def _drop_state(folder: Path) -> None:
    state = shared.read_state(folder)
    if state is not None and state.get("pid") == os.getpid():
        (folder / shared.STATE).unlink(missing_ok=True)


def serve(folder: Path, model: Path, *, threads: int, batch_threads: int, parallel: int, idle_s: float,
          poll_s: float = POLL_S) -> int:
    """Serve until stopped or idle; the exit status (1: another server holds the folder)."""
    lock_fd = os.open(folder / shared.SERVER_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + 2  # a program checking whether a server lives holds it for an instant
    while True:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                _say(f"another shared model server already runs in {folder}")
                return 1
            time.sleep(0.05)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _say(f"stopping on signal {signum}")
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    started_at = time.time()
    base = {"pid": os.getpid(), "model_path": str(model), "model_name": model.stem, "threads": threads,
            "batch_threads": batch_threads, "parallel": parallel, "idle_s": idle_s, "started_at": started_at}
    shared.write_state(folder, {**base, "ready": False})
    server = LocalModelServer(model_path=model, n_threads=threads, n_threads_batch=batch_threads,
                              n_parallel=parallel, n_threads_http=shared.HTTP_THREADS)
    try:
        server.start()
    except Trace2SkillError as exc:
        _say(str(exc))
        _drop_state(folder)
        return 2
    shared.write_state(folder, {**base, "ready": True, "port": server.port})
    _say(f"serving {model.stem} at {server.base_url} with {threads} thread(s) ({batch_threads} reading prompts), "
         f"started in {server.start_seconds:.1f} s")
    idle_since: float | None = None
    try:
        while not stop.wait(poll_s):
            if shared.live_leases(folder, remove_stale=True):
                idle_since = None
                continue
            idle_since = idle_since if idle_since is not None else time.monotonic()
            if time.monotonic() - idle_since < idle_s:
                continue
            # decide under the start lock: a program that takes a lease now is either counted
            # here or finds the state file gone and starts a new server
            try:
                with shared.flocked(folder / shared.START_LOCK, poll_s, "a program is connecting"):
                    if shared.live_leases(folder, remove_stale=True):
                        idle_since = None
                        continue
                    _say(f"no program has used the model for {idle_s:.0f} s; exiting")
                    _drop_state(folder)
                    server.stop()
                    os.close(lock_fd)
                    return 0
            except Trace2SkillError:  # a program is starting to use it: look again next round
                continue
    finally:
        _drop_state(folder)
        server.stop()
    _say("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The shared embedded model server (started by Trace2Skill).")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch-threads", type=int, default=None)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--idle-s", type=float, default=shared.DEFAULT_IDLE_S)
    args = parser.parse_args(argv)
    return serve(args.folder, args.model, threads=args.threads,
                 batch_threads=args.batch_threads or args.threads, parallel=args.parallel, idle_s=args.idle_s,
                 poll_s=min(POLL_S, max(0.2, args.idle_s / 2)))


if __name__ == "__main__":
    sys.exit(main())
