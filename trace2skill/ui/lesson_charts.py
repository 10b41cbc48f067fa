"""Lessons at a glance: how many of each kind, from failures or successes, and how far their
review has got — charts a reviewer reads faster than the table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trace2skill.store import Workspace
from trace2skill.store.stats import lesson_breakdown
from trace2skill.ui.words import kind_words


def breakdown_frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["kind", "outcome", "status", "lessons"])
    frame["kind"] = frame["kind"].map(kind_words)
    return frame


def render_lesson_charts(ws: Workspace) -> None:
    rows = lesson_breakdown(ws.db)
    if not rows:
        return
    frame = breakdown_frame(rows)
    with st.expander("Lessons at a glance", icon=":material/bar_chart:"):
        left, right = st.columns(2)
        with left:
            st.caption("By kind, and how far their review has got")
            by_kind = frame.pivot_table(index="kind", columns="status", values="lessons", aggfunc="sum", fill_value=0)
            st.bar_chart(by_kind, horizontal=True, height=220)
        with right:
            st.caption("By the outcome of the trajectory they came from")
            by_outcome = frame.groupby("outcome", as_index=True)["lessons"].sum()
            st.bar_chart(by_outcome, horizontal=True, height=220)
