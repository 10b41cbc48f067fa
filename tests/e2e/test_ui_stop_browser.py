"""`trace2skill ui` as a user starts it: the app comes up, "Test connection" starts the embedded
llama.cpp model inside it, and SIGTERM (or Ctrl-C) stops the Streamlit server and the model within
5 s — the whole process group is gone and the port is free."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.e2e.conftest import REPO, _free_port, wait_idle


def _stop_everything(proc: subprocess.Popen[bytes], port: int) -> None:
    """After a failure: the CLI and the app it started (in its own group) must not outlive the test."""
    try:
        os.killpg(_app_group(port), signal.SIGKILL)
    except (AssertionError, ProcessLookupError):
        pass
    if proc.poll() is None:
        proc.kill()


def _start(tmp_path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRACE2SKILL_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "trace2skill", "ui", "--port", str(port), "--db",
                             str(tmp_path / "ui.db")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the app did not start")


def _app_group(port: int) -> int:
    """The process group of the Streamlit server listening on `port` (a child of `trace2skill ui`)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: listening
                    inode = fields[9]
    assert inode, "nothing listens on the port"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]" for fd in fds):
                return os.getpgid(int(pid))
        except OSError:
            continue
    raise AssertionError("no process owns the port")


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_trace2skill_ui_stops_the_app_and_the_embedded_model(tmp_path, page, sig):
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        wait_idle(page)
        page.get_by_role("button", name="Test connection").click()
        page.get_by_text("Connection OK").wait_for(timeout=120000)  # the embedded model answered
        group = _app_group(port)
        assert group != os.getpgid(proc.pid)  # the app runs in its own group, supervised by the CLI
        started = time.monotonic()
        proc.send_signal(sig)
        proc.wait(10)
        while not _gone(group) and time.monotonic() - started < 10:
            time.sleep(0.05)
        took = time.monotonic() - started
        assert _gone(group), "the app (and the model in it) outlived `trace2skill ui`"
        assert took < 5, f"stopping took {took:.1f} s"
        with socket.socket() as s:  # nothing listens on the port any more (closed connections may linger)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        _stop_everything(proc, port)
