"""Live progress of an extraction run, read from the database (so a reload or another process's
run shows the same thing). The panel is a fragment that re-runs itself every second while the run
is active, and reruns the whole page once when it ends (to stop polling and refresh the buttons)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from trace2skill import jobs
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import LessonFilter, count_lessons
from trace2skill.ui.workspace_queries import elapsed_seconds, format_duration

ACTIVE = ("queued", "running")
ITEMS_PER_PAGE = 50
POLL_S = 1.0


def is_active(ws: Workspace, run_id: str) -> bool:
    """A worker in this process holds it, or the database says it is still going."""
    return jobs.is_running(run_id) or run_store.run_status(ws.db, run_id) in ACTIVE


def items_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{
        "trajectory": i["item_id"], "status": i["status"], "attempts": i["attempts"],
        "prompt tokens": i["prompt_tokens"], "completion tokens": i["completion_tokens"],
        "error": i["error"] or "", "started": i["started"] or "", "finished": i["finished"] or "",
    } for i in items], columns=["trajectory", "status", "attempts", "prompt tokens", "completion tokens",
                                "error", "started", "finished"])


def _panel_body(ws: Workspace, run_id: str, was_active: bool) -> None:
    run = run_store.get_run(ws.db, run_id)
    p = run["progress"]
    active = jobs.is_running(run_id) or run["status"] in ACTIVE
    finished = p["done"] + p["failed"] + p["cancelled"]
    st.progress(finished / max(1, p["total"]), text=f"Run {run_id}: {run['status']} — {finished} of {p['total']} "
                                                     "trajectories finished")
    cols = st.columns(6)
    for col, status in zip(cols, ("queued", "running", "done", "failed", "cancelled")):
        col.metric(status.capitalize(), p[status])
    cols[5].metric("Elapsed", format_duration(elapsed_seconds(run["started"], run["finished"])))
    lessons = count_lessons(ws.db, LessonFilter(run_id=run_id))
    st.caption(f"Tokens: {p['prompt_tokens']:,} prompt + {p['completion_tokens']:,} completion · "
               f"{lessons} lessons so far · created {run['created']}"
               + (f" · started {run['started']}" if run["started"] else "")
               + (f" · finished {run['finished']}" if run["finished"] else ""))
    if run.get("error"):
        st.error("The run stopped with an error", icon=":material/error:")
        st.code(run["error"], language=None, wrap_lines=True)
    if run["status"] == "running" and not jobs.is_running(run_id):
        st.info("The database marks this run as running but no worker of this app is on it (another process, or "
                "the app restarted mid-run). If it does not move, Resume finishes it without redoing finished work.",
                icon=":material/info:")

    c1, c2, _ = st.columns([1, 1, 2])
    status = c1.selectbox("Show items", ["all", *run_store.ITEM_STATUSES], key="ext_item_status")
    total = p["total"] if status == "all" else p[status]
    pages = max(1, -(-total // ITEMS_PER_PAGE))
    if st.session_state.get("ext_item_page", 1) > pages:
        st.session_state["ext_item_page"] = 1
    page = c2.number_input(f"Item page (of {pages})", min_value=1, max_value=pages, key="ext_item_page")
    items = run_store.list_items(ws.db, run_id, status=None if status == "all" else status,
                                 limit=ITEMS_PER_PAGE, offset=(page - 1) * ITEMS_PER_PAGE)
    st.dataframe(items_frame(items), hide_index=True, width="stretch", key="ext_items_table",
                 column_config={"error": st.column_config.TextColumn("error", width="medium")})
    if was_active and not active:
        st.rerun(scope="app")  # stop polling; show the final state with the right buttons


def render_run_panel(ws: Workspace, run_id: str) -> None:
    """The progress panel; polls once a second while the run is active."""
    active = is_active(ws, run_id)
    fragment = st.fragment(run_every=POLL_S if active else None)(_panel_body)
    fragment(ws, run_id, active)
