"""A run's progress over time on its panel: items finished (done, and failed when any failed),
added up, against the time since the run started — in seconds, minutes or hours, whichever reads
best for the run's length. A step for each time items finished, flat while nothing did (up to its
latest heartbeat for a run still going). Shown once two items have finished."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from trace2skill import runs
from trace2skill.models import Run
from trace2skill.runs.state import seconds_between
from trace2skill.store import Workspace
from trace2skill.store.run_timeline import TimelinePoint, finished_over_time

MIN_FINISHED = 2
TAIL_SHARE = 0.03  # the chart goes on this share of the run's length past its end
COLORS = {"done": "#2f9e44", "failed": "#e03131"}
# (longest span shown in this unit, the unit's name, seconds per unit)
UNITS = ((180.0, "seconds", 1.0), (3 * 3600.0, "minutes", 60.0), (float("inf"), "hours", 3600.0))


def time_unit(span_s: float) -> tuple[str, float]:
    """The unit to count a span of `span_s` seconds in, and its length in seconds."""
    return next((name, size) for longest, name, size in UNITS if span_s <= longest)


def timeline_frame(points: list[TimelinePoint], end_s: float | None = None) -> tuple[pd.DataFrame, str]:
    """(rows of time, series, items, the time axis's title): per point the items done and, when any
    failed, the items failed, both added up; the last counts carried on to `end_s` (the run's end,
    or its latest heartbeat) and a little beyond, so the last step has a width to be seen."""
    if points:
        last = points[-1]
        end = max(end_s or 0.0, last.seconds)
        points = [*points, TimelinePoint(end + max(end * TAIL_SHARE, 0.5), last.done, last.failed)]
    unit, size = time_unit(points[-1].seconds if points else 0.0)
    series = ["done", "failed"] if any(p.failed for p in points) else ["done"]
    rows = [{"time": round(p.seconds / size, 3), "series": s, "items": getattr(p, s)} for p in points for s in series]
    return pd.DataFrame(rows, columns=["time", "series", "items"]), f"{unit} since the run started"


def timeline_chart(frame: pd.DataFrame, x_title: str) -> alt.Chart:
    series = list(dict.fromkeys(frame["series"]))
    return alt.Chart(frame).mark_area(interpolate="step-after", opacity=0.85).encode(
        x=alt.X("time:Q", title=x_title, axis=alt.Axis(tickCount=8)),
        y=alt.Y("items:Q", title="finished", stack=True, axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=series, range=[COLORS[s] for s in series]),
                        legend=alt.Legend() if len(series) > 1 else None),
        order=alt.Order("series:N"),
        tooltip=[alt.Tooltip("time:Q", title=x_title), alt.Tooltip("series:N", title="items"),
                 alt.Tooltip("items:Q", title="finished")],
    ).properties(height=170)


def render_run_timeline(ws: Workspace, run: Run, key: str) -> None:
    """The chart, under the run's counts (nothing before two items have finished)."""
    if run.progress.done + run.progress.failed < MIN_FINISHED:
        return
    points = finished_over_time(ws.db, run.id, run.started)
    if len(points) < 2:
        return
    last_sign = run.finished or run.heartbeat  # its end, or (still going) its latest heartbeat
    frame, x_title = timeline_frame(points, seconds_between(run.started, last_sign) if last_sign else None)
    items = runs.get_kind(run.kind).items
    with st.container(key=f"{key}_timeline"):
        st.caption(f"{items.capitalize()} finished over time", help="Added up since the run started: green done, "
                   "red failed. A flat stretch is a wait: nothing finished then (or the run was paused).")
        st.altair_chart(timeline_chart(frame, x_title), width="stretch")
