"""Trajectories picked on the Trajectories screen and sent to Extract: the "Extract lessons from
these N" bar under the table, the picked selection as Extract shows it (with a way to clear it),
and the list of what a run will process, shown before Start."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from trace2skill.analysis.picked import LIST_UP_TO, PLAN_COLUMNS, plan_rows, usable_picked
from trace2skill.humanize import plural
from trace2skill.store import Workspace
from trace2skill.store.trajectories import TrajectoryFilter, trajectory_ids

PICKED_KEY = "ext_picked"  # session state: the ids sent from Trajectories (absent: Extract uses its filters)
_OPEN_KEY, _TICKED_KEY = "traj_opened", "traj_ticked_before"


def row_to_open(ticked: Sequence[str]) -> str | None:
    """Which of the ticked rows the step viewer shows: the one ticked last (else the one shown
    before, while still ticked; else the last)."""
    before = st.session_state.get(_TICKED_KEY) or []
    new = [i for i in ticked if i not in before]
    shown = st.session_state.get(_OPEN_KEY)
    chosen = new[-1] if new else shown if shown in ticked else (ticked[-1] if ticked else None)
    st.session_state[_TICKED_KEY], st.session_state[_OPEN_KEY] = list(ticked), chosen
    return chosen


def render_send_to_extract(ws: Workspace, flt: TrajectoryFilter, total: int, ticked: Sequence[str]) -> None:
    """Under the Trajectories table: send the ticked rows, or every trajectory the filter matches,
    to Extract, which opens with them picked."""
    bar = st.container(horizontal=True, vertical_alignment="center")
    every = bar.checkbox(f"All {total} matching the filter", key="traj_pick_all", disabled=not total,
                         help="Instead of the ticked rows: every trajectory the filters above match, on every page.")
    n = total if every else len(ticked)
    if bar.button(f"Extract lessons from these {n}", key="traj_to_extract", disabled=not n,
                  icon=":material/psychology:", type="primary" if n else "secondary"):
        st.session_state[PICKED_KEY] = trajectory_ids(ws.db, flt) if every else list(ticked)
        st.switch_page("views/extract.py")
    if not every:
        bar.caption("Tick rows in the table to pick them (a ticked row also opens below).")


def render_picked(ws: Workspace) -> list[str] | None:
    """On Extract: the picked selection (the ids a run can use) with a button to clear it; None
    when nothing was picked (Extract then selects with its filters)."""
    picked = st.session_state.get(PICKED_KEY)
    if not picked:
        return None
    usable = usable_picked(ws.db, picked)
    box = st.container(horizontal=True, vertical_alignment="center")
    box.info(f"{plural(len(picked), 'trajectory')} picked on the Trajectories screen"
             + (f"; left out: {usable.note()}" if usable.note() else "") + ".", icon=":material/checklist:")
    if box.button("Clear the selection", key="ext_clear_picked", icon=":material/close:",
                  help="Forget the picked trajectories and choose with the filters instead."):
        del st.session_state[PICKED_KEY]
        st.rerun()
    return usable.ids


def render_run_list(ws: Workspace, ids: Sequence[str], analysts: Sequence[str]) -> None:
    """The trajectories a run over `ids` will process, in order, before it starts."""
    rows = plan_rows(ws.db, ids, analysts)
    more = f" (the first {LIST_UP_TO} listed)" if len(ids) > LIST_UP_TO else ""
    st.markdown(f"**This run will process {plural(len(ids), 'trajectory')}**{more}")
    if not rows:
        st.caption("None: change the selection.")
        return
    st.dataframe(pd.DataFrame(rows, columns=PLAN_COLUMNS), hide_index=True, width="stretch", key="ext_plan_table",
                 height=min(38 + 35 * len(rows), 320),
                 column_config={"task": st.column_config.TextColumn("task", width="large"),
                                "id": st.column_config.TextColumn("id", width="small")})
