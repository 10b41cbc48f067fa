"""Long sessions split into tasks on the Trajectories screen (see `trace2skill.sessions`): the open
trajectory's place (a task cut from a session, with a way back to it; a split session, with its
tasks; a session with several requests, with "Split into tasks"), a filter for sessions and their
tasks, and the optional split right after an upload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from trace2skill.humanize import plural
from trace2skill.models import StoredTrajectory
from trace2skill.sessions import as_trajectory, split_points, split_session, split_sessions
from trace2skill.store import Workspace
from trace2skill.store.sessions import SessionKind, kind_clause, places, session_counts, unit_info, units_of
from trace2skill.store.trajectories import TrajectoryFilter, list_trajectories
from trace2skill.textcut import task_words
from trace2skill.ui.escape import safe_label
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.step_links import StepLink, open_step

SPLIT_LABEL = "Split long sessions into tasks"
SPLIT_HELP = ("A session that holds several requests (a Claude Code session, a chat with several questions) is "
              "cut at each message of the user's that starts a new request once the agent has finished its "
              "turn; each part becomes a trajectory of its own, and extraction analyses the parts instead of the "
              "whole session. It can also be done later, on a trajectory's page. A τ-bench or SWE-agent run, a "
              "trace and a text-log episode are one task each and are never split.")
PARTS_SHOWN = 50
KINDS: dict[str, SessionKind | None] = {
    "all": None, "split sessions": "sessions", "tasks cut from sessions": "units",
    "all but split sessions": "whole"}


def session_filter(ws: Workspace, container: Any) -> list[str]:
    """The filter "Sessions" (shown once a session was split): clauses for `TrajectoryFilter.extra_where`."""
    sessions, units = session_counts(ws.db)
    if not sessions:
        return []
    choice = container.selectbox("Sessions", list(KINDS), key="traj_sessions",
                                 help=f"{plural(sessions, 'session')} split into {plural(units, 'task')}.")
    kind = KINDS.get(choice or "all")
    return [kind_clause(kind)] if kind else []


SESSION_COLUMN_HELP = ("A session split into tasks is not analysed itself: extraction reads its tasks, each a "
                       "trajectory of its own.")


def session_words(ws: Workspace, ids: Sequence[str]) -> list[str] | None:
    """The trajectories table's "session" column for these rows: "split into 3 tasks", "task 2 of 3",
    or empty; None (no column) while no session is split."""
    if not session_counts(ws.db)[0]:
        return None
    found = places(ws.db, list(ids))

    def words(place: tuple[int, int] | None) -> str:
        if place is None:
            return ""
        part, parts = place
        return f"split into {plural(parts, 'task')}" if part == 0 else f"task {part} of {parts}"

    return [words(found.get(i)) for i in ids]


def split_uploaded(ws: Workspace, ids: Sequence[str]) -> str:
    """Split the sessions just imported; what was done, in words."""
    report = split_sessions(ws.db, list(ids), ui_reviewer())
    return f"Sessions: {report.words()}."


def render_session(ws: Workspace, t: StoredTrajectory) -> None:
    """Where the open trajectory stands: a task of a session, a split session, or a session that
    holds several requests (with the button that splits it)."""
    unit = unit_info(ws.db, t.id)
    if unit is not None:
        row = st.container(horizontal=True, vertical_alignment="center")
        row.badge(f"Part {unit.part} of {unit.parts} of session {unit.session_id[:12]}",
                  icon=":material/splitscreen:", color="blue")
        row.button("Open the session", key="session_open", icon=":material/arrow_upward:", on_click=open_step,
                   args=(StepLink(unit.session_id, unit.first_step),),
                   help=f"The whole session, at this task's first step (step {unit.first_step}).")
        return
    units = units_of(ws.db, t.id)
    if units:
        st.info(f"Split into {plural(len(units), 'task')}: extraction analyses each task on its own, not this "
                "whole session.", icon=":material/splitscreen:")
        tasks = {r.id: r.task for r in list_trajectories(ws.db, TrajectoryFilter(ids=[u.unit_id for u in units]),
                                                         limit=len(units))}
        with st.expander(f"The tasks of this session ({len(units)})", icon=":material/list:"):
            for u in units[:PARTS_SHOWN]:
                st.button(f"Part {u.part}: steps {u.first_step}–{u.last_step} · "
                          f"{safe_label(task_words(tasks.get(u.unit_id, ''), 12), 90)}", key=f"session_part_{u.part}",
                          type="tertiary", on_click=open_step, args=(StepLink(u.unit_id, 0),))
            if len(units) > PARTS_SHOWN:
                st.caption(f"Showing {PARTS_SHOWN} of {len(units)}; the Sessions filter above lists them all.")
        return
    points = split_points(as_trajectory(t))
    if not points:
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(f"This session holds {len(points) + 1} requests (new ones start at step"
                f"{'s' if len(points) > 1 else ''} {', '.join(map(str, points))}).", help=SPLIT_HELP)
    if row.button("Split into tasks", key="session_split", icon=":material/splitscreen:"):
        ids = split_session(ws.db, t.id, ui_reviewer())
        st.session_state["traj_flash"] = (f"Split into {plural(len(ids), 'task')} (recorded as your decision); "
                                          "extraction now analyses them instead of the whole session.")
        st.rerun()
