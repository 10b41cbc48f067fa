"""Lessons at a glance: how many of each kind, from failures or successes, and how far their
review has got — charts a reviewer reads faster than the table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trace2skill.store import Workspace
from trace2skill.store.stats import LessonBreakdown, lesson_breakdown
from trace2skill.ui.words import kind_words


def kind_frame(breakdown: LessonBreakdown) -> pd.DataFrame:
    """Lessons by kind (in words) and status."""
    frame = pd.DataFrame(breakdown.by_kind, columns=["kind", "status", "lessons"])
    frame["kind"] = frame["kind"].map(kind_words)
    return frame


def outcome_series(breakdown: LessonBreakdown) -> pd.Series:
    """Lessons by the outcome of the trajectory they came from."""
    return pd.Series(dict(breakdown.by_outcome), name="lessons", dtype="int64").rename_axis("outcome")


def render_lesson_charts(ws: Workspace) -> None:
    breakdown = lesson_breakdown(ws.db)
    if not breakdown.by_kind:
        return
    frame = kind_frame(breakdown)
    with st.expander("Lessons at a glance", icon=":material/bar_chart:"):
        left, right = st.columns(2)
        with left:
            st.caption("By kind, and how far their review has got")
            by_kind = frame.pivot_table(index="kind", columns="status", values="lessons", aggfunc="sum", fill_value=0)
            st.bar_chart(by_kind, horizontal=True, height=220)
        with right:
            st.caption("By the outcome of the trajectory they came from")
            st.bar_chart(outcome_series(breakdown), horizontal=True, height=220)
