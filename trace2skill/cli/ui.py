"""`trace2skill ui`: launch the Streamlit app, and stop it within a few seconds on Ctrl-C or SIGTERM.
(The embedded model runs in a process of its own, shared with the commands: it stops by itself once
no program uses it; see trace2skill.llm.shared.)

The app runs in its own process group, so the signal reaches it once, from here: it gets SIGTERM
and a grace period to shut down, then the whole group is killed. (Left to itself, a Streamlit
server busy in llama.cpp threads can take minutes to exit, and a SIGTERM sent to this process
alone used to leave it running.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import click

from trace2skill.cli.common import db_option, main, selected_db
from trace2skill.store import Workspace

GRACE_S = 3.0


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = GRACE_S) -> int:
    """SIGTERM to the app's process group, then SIGKILL after `grace_s`; returns its exit status."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def supervise(cmd: list[str], env: dict[str, str]) -> int:
    """Run `cmd` in its own process group until it exits, or until this process is told to stop."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        click.echo("\nstopping the app…", err=True)
        stop_group(proc)
        return 128 + (stopping[0] if stopping else signal.SIGINT)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@main.command()
@click.option("--port", default=8501, show_default=True)
@db_option
def ui(port: int) -> None:
    """Launch the Streamlit curation app (Ctrl-C stops it)."""
    app = Path(__file__).resolve().parents[2] / "app.py"
    if not app.exists():
        raise click.ClickException(f"app.py not found next to the package ({app}); run from a source checkout")
    env = dict(os.environ)
    db_path = selected_db()
    if db_path:
        env["TRACE2SKILL_DB"] = str(Path(db_path).resolve())
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    click.echo(f"Trace2Skill: open http://localhost:{port} (workspace {Workspace(db_path).path})")
    sys.exit(supervise(cmd, env))
