"""A run on screen, whatever its kind: its state, Cancel and Resume as the run really stands (read
from the database, so a reload or another browser shows the same), its budget, progress with pace
and ETA, the live cost meter (tokens and money spent, budget left), each item's attempts, last
error and next retry, and the run's LLM call log. The panel re-runs itself every second while the
run is active, and reruns the page once when it ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from trace2skill import runs
from trace2skill.errors import Trace2SkillError
from trace2skill.llm.batch import left_open_words
from trace2skill.models import ITEM_STATUSES, RunItem, utcnow
from trace2skill.runs.state import RunState, format_duration, format_pace, seconds_between
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.ui.batch_view import batch_panel, waiting_for_file
from trace2skill.ui.call_log import render_call_log
from trace2skill.ui.costs_view import budget_form, cost_meter
from trace2skill.ui.run_timeline import render_run_timeline
from trace2skill.ui.words import as_time, plural, time_column, time_html

ITEMS_PER_PAGE = 50
POLL_S = 1.0
ITEM_COLUMNS = ["item", "status", "attempts", "last error", "retry in", "prompt tokens", "completion tokens",
                "started", "finished"]


def state_of(ws: Workspace, run_id: str) -> RunState:
    return runs.describe(ws, run_id, running_here=runs.running_here(run_id))


def is_active(ws: Workspace, run_id: str) -> bool:
    """Something executes the run now (this app or another process)."""
    return state_of(ws, run_id).alive


def items_frame(items: list[RunItem]) -> pd.DataFrame:
    now = utcnow()

    def retry_in(item: RunItem) -> str:
        if item.retry_at is None or item.status != "running":
            return ""
        return format_duration(seconds_between(now, item.retry_at))

    frame = pd.DataFrame([{
        "item": i.item_id, "status": i.status, "attempts": i.attempts, "last error": i.error or "",
        "retry in": retry_in(i), "prompt tokens": i.prompt_tokens, "completion tokens": i.completion_tokens,
        "started": as_time(i.started), "finished": as_time(i.finished),
    } for i in items], columns=ITEM_COLUMNS)
    for column in ("started", "finished"):  # not yet: an empty cell, not "None"
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def run_controls(ws: Workspace, run_id: str, client_factory: Callable[[], Any], key: str) -> None:
    """Cancel and Resume, enabled as the run really stands."""
    state = state_of(ws, run_id)
    buttons = st.container(horizontal=True)
    if buttons.button("Cancel", key=f"{key}_cancel", disabled=not state.can_cancel, icon=":material/stop_circle:",
                      help="Stop the run: nothing new starts, calls in flight are abandoned."):
        _act(lambda: runs.cancel(ws, run_id))
    if buttons.button("Resume", key=f"{key}_resume", disabled=not state.can_resume, icon=":material/replay:",
                      help="Re-queue failed, cancelled, stopped and interrupted items; finished work is kept."):
        _act(lambda: runs.start_background(ws, run_id, client_factory(), resume=True))
    if not state.alive and (state.run.status == "stopped" or runs.budget_of(state.run.config)):
        budget_form(ws, state.run, key)


def _act(action: Callable[[], object]) -> None:
    try:
        action()
    except Trace2SkillError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.rerun()


def _headline(state: RunState, key: str) -> None:
    p = state.run.progress
    st.progress(p.fraction_done, text=f"Run {state.run.id}: {state.headline} — {p.done} of {p.total} "
                                      f"{runs.get_kind(state.run.kind).items} done")
    # Each number as wide as it needs (never cut off); the row wraps when the screen is narrow.
    row = st.container(horizontal=True, horizontal_alignment="distribute", key=f"{key}_counts")
    for status in ITEM_STATUSES:
        row.metric(status.capitalize(), getattr(p, status), width="content")
    row.metric("Elapsed", format_duration(state.elapsed_s), width="content")
    row.metric("Pace", format_pace(state.per_minute), width="content",
               help="Items finished per minute since the run last started.")
    row.metric("ETA", format_duration(state.eta_s) if state.eta_s is not None else "-", width="content",
               help="Time to finish the queued and running items at this pace.")


def _notes(ws: Workspace, state: RunState) -> None:
    run = state.run
    if run.status == "stopped" and waiting_for_file(ws, run):
        pass  # the batches panel says what the run waits for
    elif run.status == "stopped":
        st.warning(f"{run.error or 'Stopped at its budget.'} (raise the budget above, then Resume)",
                   icon=":material/savings:")
    elif run.error:
        st.error("The run stopped with an error", icon=":material/error:")
        st.code(run.error, language=None, wrap_lines=True)
    at_endpoint = len(state.open_batches)
    if state.interrupted and at_endpoint:
        st.info(f"The process that ran this run stopped, but {plural(at_endpoint, 'batch', 'batches')} "
                f"of its requests {'is' if at_endpoint == 1 else 'are'} still at the endpoint, which goes on "
                "answering (and billing) them. Nothing here collects the answers until you Resume: it waits for "
                "those batches without sending their requests again.", icon=":material/info:")
    elif state.interrupted:
        st.info("Nothing is executing this run now (the process that ran it stopped, or it never started). "
                "Resume finishes it without redoing finished work.", icon=":material/info:")
    elif run.status == "cancelled":
        st.caption(f"Cancelled: {run.progress.cancelled} items did not finish. Resume runs them.")
    if run.status == "cancelled" and state.open_batches:  # nothing executes it; the endpoint did not take the cancel
        st.warning(left_open_words(list(state.open_batches)), icon=":material/warning:")


def _items(ws: Workspace, run_id: str, total: dict[str, int], key: str) -> None:
    c1, c2, _ = st.columns([1, 1, 2])
    status = c1.selectbox("Show items", ["all", *ITEM_STATUSES], key=f"{key}_item_status")
    count = sum(total.values()) if status == "all" else total[status]
    pages = max(1, -(-count // ITEMS_PER_PAGE))
    if st.session_state.get(f"{key}_item_page", 1) > pages:
        st.session_state[f"{key}_item_page"] = 1
    page = c2.number_input(f"Item page (of {pages})", min_value=1, max_value=pages, key=f"{key}_item_page")
    items = run_store.list_items(ws.db, run_id, status=None if status == "all" else status,
                                 limit=ITEMS_PER_PAGE, offset=(int(page) - 1) * ITEMS_PER_PAGE)
    st.dataframe(items_frame(items), hide_index=True, width="stretch", key=f"{key}_items_table",
                 column_config={"last error": st.column_config.TextColumn("last error", width="medium"),
                                "started": time_column("started"), "finished": time_column("finished")})


def _panel_body(ws: Workspace, run_id: str, was_active: bool, key: str, extra: Callable[[RunState], None] | None,
                show_items: bool, shown_status: str | None) -> None:
    state = state_of(ws, run_id)
    _headline(state, key)
    p = state.run.progress
    cost_meter(ws, state.run)
    run = state.run
    st.caption(f"Created {time_html(run.created)}" + (f" · started {time_html(run.started)}" if run.started else "")
               + (f" · finished {time_html(run.finished)}" if run.finished else ""), unsafe_allow_html=True)
    render_run_timeline(ws, state.run, key)
    if extra is not None:
        extra(state)
    batch_panel(ws, run, key, polled=state.alive)
    _notes(ws, state)
    if show_items:
        _items(ws, run_id, {s: getattr(p, s) for s in ITEM_STATUSES}, key)
    if was_active and not state.alive:
        st.rerun(scope="app")  # stop polling; show the final state with the right buttons
    if shown_status is not None and _settled(state.run.status) != _settled(shown_status):
        st.rerun(scope="app")  # the page's picker still says the run is under way (or not): draw it again


def _settled(status: str) -> str:
    """Queued and running count as one here: a page drawn as a run starts (its flash message shown
    once) is not drawn again for that step, only when the run ends or starts again."""
    return "under way" if status in ("queued", "running") else status


def render_run_panel(ws: Workspace, run_id: str, *, key: str = "ext",
                     extra: Callable[[RunState], None] | None = None, show_items: bool = True,
                     shown_status: str | None = None) -> None:
    """The live panel; polls once a second while something executes the run. `shown_status`: the
    run's status as the page shows it elsewhere (in its run picker); when the run's status moves on
    from it, the whole page is drawn again, so no label keeps an old status."""
    active = is_active(ws, run_id)
    fragment = st.fragment(run_every=POLL_S if active else None)(_panel_body)
    fragment(ws, run_id, active, key, extra, show_items, shown_status)
    render_call_log(ws, run_id, key=key)
