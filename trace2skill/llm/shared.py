"""One embedded model server per machine and user, shared by the app and every command.

Why: llama.cpp's threads spin while they wait for work, so two embedded servers on the same few
cores (the app's and a command's) slow each other down many times over (issue 14: 18-31 s per
analyst call alone, 170-620 s with two servers on 2 cores). So the embedded model no longer runs
inside the program that needs it: it runs in one detached process
(`python -m trace2skill.llm.shared_server`) that every Trace2Skill program of this user on this
machine talks to, started by whichever program needs it first.

Everything lives in the per-user runtime folder (`runtime_dir()`: $TRACE2SKILL_RUNTIME_DIR, else
$XDG_RUNTIME_DIR/trace2skill, else ~/.cache/trace2skill/run-<host>):

- `start.lock` (flock): held while a program looks for a running server and, finding none, starts
  one, so two programs starting at once end up with one server. The server holds it too while it
  decides to exit, so it never exits under a program that has just found it.
- `server.lock` (flock): held by the server process for its whole life. A program that can take
  it knows no server is alive; no pid is trusted (pids are reused; a dead child may be a zombie).
- `server.json`: pid, port, model file and name, threads, idle period, start time. The server writes it (first
  with ready=false, then ready=true once /health answers) and removes it when it exits.
- `leases/<pid>-<token>.lease`: one per program using the server, flock'ed by that program from
  before it looks for the server until it exits. The kernel drops the lock when a program dies,
  however it dies, so a lease file nobody holds is stale: it is ignored and removed.
- `server.log`: the server's own output, quoted when it fails to start.

The server checks the leases every few seconds and exits once none has been held for `idle_s`
(TRACE2SKILL_LOCAL_IDLE_S, default 30 s: back-to-back commands keep one server). A server that died
leaves `server.lock` free: the next program removes its state file and starts a new one; one that
is alive but does not answer /health within START_TIMEOUT_S is killed and replaced.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.errors import LLMError
from trace2skill.llm import local
from trace2skill.llm.leases import Lease, flocked, is_held, live_leases

__all__ = ["Lease", "SharedModelServer", "connect", "flocked", "is_held", "live_leases", "runtime_dir",
           "server_status", "stop_server"]

ENV_RUNTIME_DIR = "TRACE2SKILL_RUNTIME_DIR"
ENV_IDLE_S = "TRACE2SKILL_LOCAL_IDLE_S"
ENV_THREADS = "TRACE2SKILL_LOCAL_THREADS"
DEFAULT_IDLE_S = 30.0
HTTP_THREADS = 64  # requests wait in HTTP threads; with too few, /health queues behind them
START_LOCK, SERVER_LOCK, STATE, LOG = "start.lock", "server.lock", "server.json", "server.log"


def runtime_dir() -> Path:
    """The per-user folder that holds the shared server's lock, state and lease files."""
    if os.environ.get(ENV_RUNTIME_DIR):
        return Path(os.environ[ENV_RUNTIME_DIR]).expanduser()
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "trace2skill"
    # a home folder may be shared between machines: one folder per host
    return Path.home() / ".cache" / "trace2skill" / f"run-{socket.gethostname()}"


def default_threads(cores: int) -> tuple[int, int]:
    """llama.cpp threads for the shared server on `cores` usable cores: (writing the answer,
    reading the prompt). $TRACE2SKILL_LOCAL_THREADS sets both.

    With more than 2 cores one is left for the app and the commands (Streamlit, SQLite, JSON work):
    llama.cpp's threads meet at a barrier after every step, so a thread that loses its core stalls
    the others. On 2 cores both are used. Measured here (SmolLM2-135M, a 1,343-token prompt, 130
    tokens written, 2026-11-26): on idle cores 2 writing threads made 33-43 tokens/s against 22-23
    with 1 (calls of 10.4-11.8 s against 13.7-14.0 s); with a process busy half of one core beside
    it both took 15.7-17.2 s. Two threads are never slower there, so 2 cores keep 2. The collapse
    of issue 14 came from two servers (4 threads on 2 cores), which one shared server removes."""
    if os.environ.get(ENV_THREADS, "").strip().isdigit():
        threads = max(1, int(os.environ[ENV_THREADS]))
        return threads, threads
    threads = cores if cores <= 2 else cores - 1
    return threads, threads


def idle_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(ENV_IDLE_S) or DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S


# --------------------------------------------------------------------------- state


def read_state(folder: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / f".{STATE}.{os.getpid()}"
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, folder / STATE)


def healthy(port: int, timeout_s: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout_s) as response:
            return response.status == 200 and json.loads(response.read() or b"{}").get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class SharedModelServer:
    """A program's handle on the shared server (what `ensure_local_server()` returns)."""

    folder: Path
    pid: int
    port: int
    model_path: Path
    threads: int  # writing the answer
    batch_threads: int  # reading the prompt
    started_at: float

    @property
    def model_name(self) -> str:
        return self.model_path.stem

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        """Still the live, ready server of its folder (False once it was stopped or died)."""
        state = read_state(self.folder)
        return (state is not None and state.get("pid") == self.pid and bool(state.get("ready"))
                and is_held(self.folder / SERVER_LOCK))

    @classmethod
    def from_state(cls, folder: Path, state: dict[str, Any]) -> SharedModelServer:
        return cls(folder=folder, pid=int(state["pid"]), port=int(state["port"]), model_path=Path(state["model_path"]),
                   threads=int(state["threads"]), batch_threads=int(state.get("batch_threads") or state["threads"]),
                   started_at=float(state["started_at"]))


# --------------------------------------------------------------------------- finding or starting it

_leases: dict[Path, Lease] = {}
_leases_lock = threading.Lock()


def _take_lease(folder: Path) -> None:
    with _leases_lock:
        if folder not in _leases:
            lease = Lease(folder)
            atexit.register(lease.release)
            _leases[folder] = lease


def _wait_ready(folder: Path, deadline: float, proc: subprocess.Popen[bytes] | None = None) -> dict[str, Any] | None:
    """The server's state once it is ready and healthy; None if it died (or never ran) or the
    deadline passed."""
    while time.monotonic() < deadline:
        state = read_state(folder)
        if state and state.get("ready") and healthy(int(state["port"])):
            return state
        if not is_held(folder / SERVER_LOCK) and (proc is None or proc.poll() is not None):
            return None
        time.sleep(0.1)
    return None


def _log_tail(folder: Path) -> str:
    try:
        text = (folder / LOG).read_text(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-3:])[-400:]


def _kill(folder: Path, sig: int, wait_s: float) -> bool:
    """Send `sig` to the server named in the state file; True once its server lock is free."""
    state = read_state(folder)
    if state and isinstance(state.get("pid"), int):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(state["pid"], sig)
    deadline = time.monotonic() + wait_s
    while is_held(folder / SERVER_LOCK):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _spawn(folder: Path, model_path: Path) -> subprocess.Popen[bytes]:
    threads, batch_threads = default_threads(local._usable_cores())
    cmd = [sys.executable, "-m", "trace2skill.llm.shared_server", "--folder", str(folder),
           "--model", str(model_path), "--threads", str(threads), "--batch-threads", str(batch_threads),
           "--parallel", str(local.DEFAULT_PARALLEL),
           "--idle-s", str(idle_seconds())]
    package_root = str(Path(__file__).resolve().parents[2])  # importable even from a plain checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    with open(folder / LOG, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=folder, env=env, start_new_session=True)  # Ctrl-C here must not stop it
    threading.Thread(target=proc.wait, daemon=True, name="t2s-reap-model-server").start()  # no zombie
    return proc


def connect(start_timeout_s: float = local.START_TIMEOUT_S) -> SharedModelServer:
    """The shared server, started if none is running; this program holds a lease on it until exit."""
    model_path = local.find_local_model()  # a missing model is reported even if a server runs
    if importlib.util.find_spec("xllamacpp") is None:  # only the server process loads it
        local._import_xllamacpp()  # raises the error that names the pip command
    folder = runtime_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _take_lease(folder)  # before looking: a server that is deciding to exit will count it
    busy = (f"another Trace2Skill program has been starting the embedded model for over {start_timeout_s + 30:.0f} s; "
            f"try again, or see {folder / LOG}")
    with flocked(folder / START_LOCK, start_timeout_s + 30, busy):
        deadline = time.monotonic() + start_timeout_s
        if is_held(folder / SERVER_LOCK):
            state = _wait_ready(folder, deadline)
            if state is not None:
                return SharedModelServer.from_state(folder, state)
            if not (_kill(folder, signal.SIGTERM, 5) or _kill(folder, signal.SIGKILL, 10)):
                raise LLMError(f"the shared embedded model (state in {folder / STATE}) does not answer "
                               "and could not be stopped; stop it with `trace2skill local-model stop`")
        (folder / STATE).unlink(missing_ok=True)  # a dead server's
        proc = _spawn(folder, model_path)
        state = _wait_ready(folder, time.monotonic() + start_timeout_s, proc)
        if state is None:
            if proc.poll() is None:
                proc.kill()
            raise LLMError(f"the embedded model did not start ({_log_tail(folder) or 'no output'}); "
                           f"see {folder / LOG}")
        return SharedModelServer.from_state(folder, state)


# --------------------------------------------------------------------------- status and stop


def server_status(folder: Path | None = None) -> dict[str, Any] | None:
    """What `trace2skill local-model status` shows; None when no server is alive."""
    folder = folder or runtime_dir()
    if not is_held(folder / SERVER_LOCK):
        return None
    state = read_state(folder) or {}
    users = live_leases(folder)
    started = state.get("started_at")
    return {**state, "ready": bool(state.get("ready")), "users": users, "folder": str(folder),
            "uptime_s": time.time() - started if isinstance(started, int | float) else None,
            "base_url": f"http://127.0.0.1:{state['port']}/v1" if state.get("port") else None}


def stop_server(folder: Path | None = None, timeout_s: float = 30.0) -> dict[str, Any] | None:
    """Stop the shared server (SIGTERM, then SIGKILL); returns its status before, None if none ran."""
    folder = folder or runtime_dir()
    before = server_status(folder)
    if before is None:
        if (folder / STATE).exists():  # a dead server's leftovers
            (folder / STATE).unlink(missing_ok=True)
        return None
    if not (_kill(folder, signal.SIGTERM, timeout_s) or _kill(folder, signal.SIGKILL, 10)):
        raise LLMError(f"the shared embedded model (process {before.get('pid')}) did not stop")
    (folder / STATE).unlink(missing_ok=True)
    return before
