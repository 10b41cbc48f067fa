"""One embedded model server per machine and user (trace2skill.llm.shared), with real processes:
separate Python programs share one server, it stops after the last of them exits, a killed server
is replaced, and `trace2skill local-model status|stop` report and stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from trace2skill.cli import main
from trace2skill.llm import local, shared

REPO = Path(__file__).resolve().parents[1]

# a program that uses the embedded model: each line on stdin asks for the server, one JSON line answers
CLIENT = """
import json, sys
from trace2skill.llm.local import ensure_local_server
for _ in sys.stdin:
    s = ensure_local_server()
    print(json.dumps({"pid": s.pid, "port": s.port, "model": s.model_name, "url": s.base_url}), flush=True)
"""
# a program that only takes a lease, then waits for stdin to close
LEASE_HOLDER = """
import sys
from pathlib import Path
from trace2skill.llm import shared
shared._take_lease(Path(sys.argv[1]))
print("leased", flush=True)
sys.stdin.read()
"""


class Program:
    def __init__(self, script: str, env: dict[str, str], *args: str):
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def send(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def read(self, timeout_s: float = 180) -> str:
        assert self.proc.stdout is not None
        stdout, line = self.proc.stdout, []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        assert line and line[0], f"program {self.proc.pid} said nothing (exit status {self.proc.poll()})"
        return line[0].strip()

    def ask(self) -> dict:
        self.send()
        return json.loads(self.read())

    def leave(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime folder of this test's own (the CLI, run in-process, reads the same variable)."""
    path = tmp_path / "run"
    monkeypatch.setenv(shared.ENV_RUNTIME_DIR, str(path))
    monkeypatch.setenv(shared.ENV_IDLE_S, "1")
    yield path
    shared.stop_server(path)


@pytest.fixture
def programs(folder: Path) -> Iterator[list[Program]]:
    started: list[Program] = []
    yield started
    for program in started:
        program.kill()


def env_for(folder: Path) -> dict[str, str]:
    return {**os.environ, shared.ENV_RUNTIME_DIR: str(folder), shared.ENV_IDLE_S: "1", "PYTHONPATH": str(REPO)}


def server_processes(folder: Path) -> list[int]:
    """Live (not zombie) shared-server processes serving `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"trace2skill.llm.shared_server" in cmdline and str(folder).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


# --------------------------------------------------------------------------- without the model


def test_threads_leave_a_core_for_the_app_above_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(shared.ENV_THREADS, raising=False)
    # (writing the answer, reading the prompt): a core is left for the app above 2 cores; on 2 cores
    # both threads measured never slower (see default_threads)
    assert [shared.default_threads(n) for n in (1, 2, 3, 4, 16)] == [(1, 1), (2, 2), (2, 2), (3, 3), (15, 15)]
    monkeypatch.setenv(shared.ENV_THREADS, "2")
    assert shared.default_threads(16) == (2, 2)


def test_the_suite_never_shares_the_users_server() -> None:
    folder = shared.runtime_dir()
    assert "t2s-run" in str(folder) and os.environ.get("XDG_RUNTIME_DIR", "/nonexistent") not in str(folder)


def test_runtime_folder_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(shared.ENV_RUNTIME_DIR)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert shared.runtime_dir() == tmp_path / "trace2skill"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert shared.runtime_dir().parent == Path.home() / ".cache" / "trace2skill"


def test_leases_of_live_programs_count_and_dead_ones_are_dropped(folder: Path, programs: list[Program]) -> None:
    for _ in range(3):
        programs.append(Program(LEASE_HOLDER, env_for(folder), str(folder)))
    for program in programs:
        assert program.read(60) == "leased"
    pids = sorted(p.proc.pid for p in programs)
    assert sorted(u["pid"] for u in shared.live_leases(folder)) == pids
    assert all("-c" in u["program"] for u in shared.live_leases(folder))
    programs[0].kill()  # SIGKILL: no atexit, the kernel drops its lock
    alive = sorted(p.proc.pid for p in programs[1:])
    assert sorted(u["pid"] for u in shared.live_leases(folder)) == alive
    assert len(list((folder / "leases").glob("*.lease"))) == 3  # counting alone removes nothing
    assert sorted(u["pid"] for u in shared.live_leases(folder, remove_stale=True)) == alive
    assert len(list((folder / "leases").glob("*.lease"))) == 2  # the stale one was removed
    programs[1].leave()  # a normal exit removes its own lease
    assert [u["pid"] for u in shared.live_leases(folder)] == [programs[2].proc.pid]
    assert len(list((folder / "leases").glob("*.lease"))) == 1


def test_status_and_stop_when_nothing_runs(folder: Path) -> None:
    assert "is not running" in cli("local-model", "status")
    assert json.loads(cli("local-model", "status", "--json")) == {"running": False}
    # a killed server's leftover state file: not running, and `stop` clears it
    folder.mkdir(parents=True)
    shared.write_state(folder, {"pid": 999999, "port": 1, "ready": True, "model_path": "/x/M.gguf",
                                "threads": 2, "started_at": time.time()})
    assert "is not running" in cli("local-model", "status")
    assert "was not running" in cli("local-model", "stop")
    assert not (folder / shared.STATE).exists()


# --------------------------------------------------------------------------- with the embedded model


@pytest.mark.slow
def test_programs_share_one_server_that_stops_after_the_last(folder: Path, programs: list[Program]) -> None:
    first, second = Program(CLIENT, env_for(folder)), Program(CLIENT, env_for(folder))
    programs += [first, second]
    first.send()
    second.send()  # both look for the server at once: the start lock lets one of them start it
    a, b = json.loads(first.read()), json.loads(second.read())
    assert a == b and a["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert server_processes(folder) == [a["pid"]]
    assert first.ask() == a  # asking again in the same program: the same server
    assert shared.healthy(a["port"])

    out = cli("local-model", "status")
    assert f"running: SmolLM2-135M-Instruct.Q4_1 at {a['url']}" in out and f"process {a['pid']}" in out
    assert "used by 2 programs" in out and str(first.proc.pid) in out and str(second.proc.pid) in out
    assert "It stops by itself 1 s after the last of them exits" in out
    status = json.loads(cli("local-model", "status", "--json"))
    assert status["running"] is True and status["pid"] == a["pid"]
    assert (status["threads"], status["batch_threads"]) == shared.default_threads(local._usable_cores())
    assert sorted(u["pid"] for u in status["users"]) == sorted([first.proc.pid, second.proc.pid])

    first.leave()
    time.sleep(3)  # three times the idle period: one program still holds it
    assert server_processes(folder) == [a["pid"]] and shared.healthy(a["port"])
    assert "used by 1 program:" in cli("local-model", "status")
    second.leave()
    assert wait_until(lambda: not server_processes(folder), 30), "the server outlived its last user"
    assert not (folder / shared.STATE).exists() and not shared.healthy(a["port"], timeout_s=1)
    assert "is not running" in cli("local-model", "status")


@pytest.mark.slow
def test_a_killed_server_is_replaced_and_stop_stops_it(folder: Path, programs: list[Program]) -> None:
    first = Program(CLIENT, env_for(folder))
    programs.append(first)
    old = first.ask()
    os.kill(old["pid"], signal.SIGKILL)  # a crash: its state file stays behind
    # (a killed process shows as a zombie while its other threads still close its files)
    assert wait_until(lambda: not server_processes(folder) and not shared.is_held(folder / shared.SERVER_LOCK), 10)
    assert json.loads((folder / shared.STATE).read_text())["pid"] == old["pid"]
    assert "is not running" in cli("local-model", "status")

    second = Program(CLIENT, env_for(folder))
    programs.append(second)
    new = second.ask()  # another program replaces the dead server
    assert new["pid"] != old["pid"] and shared.healthy(new["port"])
    assert json.loads((folder / shared.STATE).read_text())["pid"] == new["pid"]
    assert first.ask() == new  # the first program notices its server died and finds the new one
    assert server_processes(folder) == [new["pid"]]

    out = cli("local-model", "stop")
    assert f"Stopped the shared embedded model (process {new['pid']})" in out and "2 programs" in out
    assert not server_processes(folder) and not (folder / shared.STATE).exists()
    again = first.ask()  # the next use starts it again
    assert again["pid"] != new["pid"] and server_processes(folder) == [again["pid"]]
    first.leave()
    second.leave()
    assert wait_until(lambda: not server_processes(folder), 30)
