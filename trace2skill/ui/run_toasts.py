"""A toast when a background run of this app ends, on whatever screen the user is. While this
process executes runs, a small fragment checks every two seconds which of them have ended; once
none is left it stops polling at the next full rerun (a run's own screen does one when it ends)."""

from __future__ import annotations

import streamlit as st

from trace2skill import runs
from trace2skill.models import ACTIVE_STATUSES
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store

WATCHED = "t2s_watched_runs"
ICONS = {"done": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:",
         "stopped": ":material/pause_circle:"}
WORDS = {"extraction": "Extraction", "consolidation": "Consolidation", "rerun": "Re-run of a merge",
         "verification": "Verification", "evaluation": "Evaluation", "collection": "Collection"}


def ended_message(kind: str, run_id: str, status: str, error: str | None, failed: int = 0, total: int = 0) -> str:
    """ "Extraction run ext-… is done." / "… finished, 3 of 4 items failed …" / "… failed: <why>" /
    "… stopped at its budget." """
    what = f"{WORDS.get(kind, kind.capitalize())} run {run_id}"
    if status == "done" and failed:
        return (f"{what} finished, but {failed} of {total} items failed: their last error is on the run's screen, "
                "and Resume retries them.")
    if status == "done":
        return f"{what} is done."
    if status == "stopped":
        return f"{what} stopped at its budget; raise it and resume."
    return f"{what} {status}" + (f": {error}" if error else ".")


def _check(ws: Workspace) -> None:
    watched: set[str] = st.session_state[WATCHED]
    watched.update(runs.running_here_ids())
    for run_id in sorted(watched):
        run = run_store.get_run(ws.db, run_id)
        if run.status in ACTIVE_STATUSES and runs.running_here(run_id):
            continue
        watched.discard(run_id)
        failed = run.progress.failed if run.status == "done" else 0
        st.toast(ended_message(run.kind, run.id, run.status, run.error, failed, run.progress.total),
                 icon=":material/warning:" if failed else ICONS.get(run.status))


def watch_runs(ws: Workspace) -> None:
    """Call once per script run (in the app's frame)."""
    watched: set[str] = st.session_state.setdefault(WATCHED, set())
    watched.update(runs.running_here_ids())
    if watched:
        st.fragment(run_every=2.0)(_check)(ws)
