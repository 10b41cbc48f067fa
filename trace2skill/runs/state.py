"""What a run's state means for the people watching it: is something executing it now, may it be
cancelled or resumed, how fast it goes and when it should end. Read from the store only, so the
answer is the same after a reload, in another browser, or from the CLI."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from trace2skill.llm.batch import open_remote_batches
from trace2skill.models import Run
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.batches import Batch

STALE_S = 15.0  # a heartbeat older than this: the process executing the run is gone


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def seconds_between(start: str | None, end: str | None = None, now: datetime | None = None) -> float | None:
    """Seconds from `start` to `end` (or to now); None without a start."""
    began = parse_time(start)
    if began is None:
        return None
    finish = parse_time(end) or now or datetime.now(UTC)
    return max(0.0, (finish - began).total_seconds())


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str | None) -> bool:
    """The owner is a process of this machine that no longer exists (killed, crashed)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_alive(run: Run, now: datetime | None = None) -> bool:
    """A process is executing the run: it is running, its heartbeat is fresh, and when that
    process is on this machine, it still exists."""
    if run.status != "running":
        return False
    age = seconds_between(run.heartbeat, now=now)
    return age is not None and age < STALE_S and not _owner_gone(run.owner)


@dataclass(frozen=True)
class RunState:
    run: Run
    alive: bool  # some process executes it now
    interrupted: bool  # marked running or queued, but nothing executes it (the process died, or never started)
    can_cancel: bool
    can_resume: bool
    elapsed_s: float | None
    per_minute: float | None  # items finished per minute in the current (or last) execution
    eta_s: float | None  # time to finish the queued and running items at that pace
    # A run nothing executes (interrupted, or cancelled after its process stopped): its batches still open at
    # the endpoint, which goes on answering (and billing) them.
    open_batches: tuple[Batch, ...] = ()

    @property
    def headline(self) -> str:
        """The run's state in a few words."""
        if self.interrupted and self.run.status == "queued":
            return "queued (nothing is executing it yet: resume it to start)"
        if self.interrupted and self.open_batches:
            n = len(self.open_batches)
            which = "its batch is" if n == 1 else f"its {n} batches are"
            return f"interrupted ({which} still at the endpoint, nothing collects the answers: resume it)"
        if self.interrupted:
            return "interrupted (nothing is executing it now: resume it)"
        if self.run.status == "running" and self.run.progress.running == 0 and self.run.progress.queued == 0:
            return "running (finishing up)"
        if self.run.status == "stopped":
            return "stopped: budget (raise it and resume)"
        p = self.run.progress
        if self.run.status == "done" and p.failed:  # finished, not all of it well
            return f"done, {p.failed} of {p.total} failed (Resume retries them)"
        return self.run.status


def describe(ws: Workspace, run_id: str, *, running_here: bool = False) -> RunState:
    run = run_store.get_run(ws.db, run_id)
    alive = running_here or is_alive(run)
    interrupted = run.is_active and not alive
    p = run.progress
    # failed, cancelled, stopped at its budget, interrupted, or done with failed items
    resumable = (not alive) and (run.status != "done" or p.failed > 0 or p.queued > 0)
    elapsed = seconds_between(run.resumed or run.started, run.finished)
    per_minute = eta = None
    if run.resumed and elapsed:
        finished = run_store.finished_since(ws.db, run.id, run.resumed)
        if finished:
            per_minute = finished / elapsed * 60
            left = p.queued + p.running
            eta = left / per_minute * 60 if alive and left else None
    stopped = interrupted or (run.status == "cancelled" and not alive)
    at_endpoint = tuple(open_remote_batches(ws, run.id)) if stopped else ()
    return RunState(run, alive, interrupted, can_cancel=run.is_active, can_resume=resumable,
                    elapsed_s=elapsed, per_minute=per_minute, eta_s=eta, open_batches=at_endpoint)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def format_pace(per_minute: float | None) -> str:
    """Items per minute in at most eight characters: "180/min", "7.3/min" (a decimal only under
    10), "1.2k/min", or per hour when slower than one in ten minutes ("2.4/h"); "-" without a pace."""
    if not per_minute or per_minute <= 0:
        return "-"
    if per_minute < 0.1:
        return f"{per_minute * 60:.1f}/h"
    if round(per_minute, 1) < 10:
        return f"{per_minute:.1f}/min"
    if round(per_minute) < 1000:
        return f"{round(per_minute)}/min"
    thousands = per_minute / 1000
    return f"{thousands:.1f}k/min" if round(thousands, 1) < 10 else f"{round(thousands)}k/min"
