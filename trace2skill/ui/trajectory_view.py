"""The step viewer of the Trajectories screen: one trajectory, escaped, with its signals marked at
their steps, long observations collapsed, the outcome editable and the lessons drawn from it."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd
import streamlit as st

from trace2skill.errors import NotFoundError
from trace2skill.models import OutcomeLabel, StoredSignal, StoredStep, StoredTrajectory
from trace2skill.store import Workspace
from trace2skill.store.lessons import LessonFilter, count_lessons, list_lessons
from trace2skill.store.trajectories import get_trajectory, set_outcome
from trace2skill.ui.escape import STYLE, missing_step_html, safe_label, signal_html, split_long
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.session_view import render_session
from trace2skill.ui.split_view import render_trajectory_split
from trace2skill.ui.step_links import StepLink, focus_html, linked_step, open_step, scroll_to
from trace2skill.ui.words import NOT_RECORDED, format_words, outcome_detail_words, plural, signal_words, time_html

OUTCOMES: list[OutcomeLabel] = ["success", "failure", "unknown"]
STEPS_PER_PAGE = 40
LESSONS_SHOWN = 50


def signals_by_step(signals: list[StoredSignal]) -> dict[int | None, list[StoredSignal]]:
    grouped: dict[int | None, list[StoredSignal]] = {}
    for s in signals:
        grouped.setdefault(s.step_idx, []).append(s)
    return grouped


def _arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, indent=2)


def _collapsible(text: str) -> None:
    head, rest = split_long(text)
    st.code(head or "(empty)", language=None, wrap_lines=True)
    if rest:
        with st.expander(f"Show {len(rest):,} more characters", icon=":material/unfold_more:"):
            st.code(rest, language=None, wrap_lines=True)


def _step(step: StoredStep, marks: list[StoredSignal], expanded: bool = False, marked: str | None = None) -> None:
    """One step in an expander; with `marked` (the step's text as HTML, a quote or words marked) that
    is shown, and the step as stored one click further."""
    tools = ", ".join(safe_label(c.name, 30) for c in step.tool_calls)
    label = f"[{step.idx}] {safe_label(step.role, 20)}" + (f" · calls {tools}" if tools else "")
    if step.is_error:
        label += " · error"
    if marks:
        label += " · " + ", ".join(sorted({safe_label(signal_words(m.kind), 40) for m in marks}))
    icon = ":material/error:" if step.is_error else (":material/flag:" if marks else None)
    with st.expander(label, expanded=expanded or bool(marks) or step.is_error or step.role != "system", icon=icon):
        for m in marks:
            st.html(signal_html(m.kind, m.step_idx, m.detail))
        if marked is None:
            _body(step)
            return
        st.html(marked)
        with st.expander("The step as stored (text, tool calls and results apart)", icon=":material/unfold_more:"):
            _body(step)


def _body(step: StoredStep) -> None:
    if step.reasoning:
        st.caption("Reasoning")
        st.text(step.reasoning)
    if step.text:
        _collapsible(step.text)
    for call in step.tool_calls:
        st.caption(f"Tool call: {safe_label(call.name, 60)}")
        st.code(_arguments(call.arguments), language="json", wrap_lines=True)
    for result in step.tool_results:
        st.caption("Tool result · error" if result.is_error else "Tool result")
        _collapsible(result.content)


def _outcome_editor(ws: Workspace, t: StoredTrajectory) -> None:
    cols = st.columns([2, 1, 3], vertical_alignment="bottom")
    current = t.outcome if t.outcome in OUTCOMES else "unknown"
    choice = cols[0].selectbox("Outcome", OUTCOMES, index=OUTCOMES.index(current), key=f"traj_outcome_edit_{t.id}")
    if cols[1].button("Save outcome", key="traj_outcome_save", disabled=choice == current,
                      icon=":material/save:"):
        set_outcome(ws.db, t.id, choice, actor=ui_reviewer())
        st.session_state["traj_flash"] = f"Outcome set to {choice} (recorded as your decision)."
        st.rerun()
    source = "set by you" if t.outcome_source == "user" else "from the data"
    reward = "" if t.reward is None else f" · reward {t.reward}"
    cols[2].caption(f"Outcome {source}{reward}")
    if t.outcome_detail:
        st.caption(f"Why: {outcome_detail_words(t.outcome_detail)}",
                   help=f"As the data records it: `{t.outcome_detail.replace('`', '')}`")


def _lessons(ws: Workspace, trajectory_id: str) -> None:
    flt = LessonFilter(trajectory_id=trajectory_id)
    total = count_lessons(ws.db, flt)
    st.subheader(f"Lessons from this trajectory ({total})")
    if not total:
        st.caption("No lessons yet: run an extraction over it on the Extract page.")
        return
    rows = list_lessons(ws.db, flt, limit=LESSONS_SHOWN)
    table = pd.DataFrame([{"status": r.status, "kind": r.kind, "title": r.title, "content": r.content,
                           "grounded": r.grounded, "run": r.run_id, "id": r.id} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", key="traj_lessons_table")
    if total > LESSONS_SHOWN:
        st.caption(f"Showing {LESSONS_SHOWN} of {total}; filter by this trajectory on the Lessons page for all.")


def render_trajectory(ws: Workspace, trajectory_id: str) -> None:
    try:
        t = get_trajectory(ws.db, trajectory_id)
    except NotFoundError as exc:
        st.error(str(exc), icon=":material/search_off:")
        return
    st.html(STYLE)
    st.subheader("Trajectory")
    st.code(t.id, language=None)
    render_trajectory_split(ws, t.id)
    render_session(ws, t)
    st.caption(f"{html.escape(format_words(t.source_format))} · {plural(t.n_steps, 'step')} · "
               f"{plural(t.n_tool_calls, 'tool call')} · {plural(t.n_errors, 'error')} · imported "
               f"{time_html(t.imported_at)}", unsafe_allow_html=True)
    meta = {"source file": t.source_name or NOT_RECORDED, "task id": t.task_id or NOT_RECORDED,
            "model": t.model or NOT_RECORDED}
    st.dataframe(pd.DataFrame([meta]), hide_index=True, width="stretch")
    st.caption("Task")
    _collapsible(t.task or "(no task text)")
    _outcome_editor(ws, t)
    if t.ground_truth:
        with st.expander("Ground truth", icon=":material/verified:"):
            st.json(t.ground_truth, expanded=2)
    if t.final_output:
        with st.expander("Final output", icon=":material/output:"):
            st.text(t.final_output)

    marks = signals_by_step(t.signals)
    st.subheader(f"Signals ({len(t.signals)})")
    if t.signals:
        table = pd.DataFrame([{"step": "whole run" if s.step_idx is None else f"step {s.step_idx}",
                               "signal": signal_words(s.kind), "detail": s.detail} for s in t.signals])
        step_column = st.column_config.ButtonColumn("step", type="tertiary", key="traj_signal_step", alignment="left",
                                                    help="Go to the step", on_click=_to_signal_step,
                                                    args=(t.id, [s.step_idx for s in t.signals]))
        with st.container(key="traj_signals"):
            st.dataframe(table, hide_index=True, width="stretch", key="traj_signals_table",
                         column_config={"step": step_column})
        for s in marks.get(None, []):
            st.html(signal_html(s.kind, None, s.detail))
    else:
        st.caption("No signals: no tool errors, loops, halts or ground-truth mismatches found.")

    steps = t.steps
    st.subheader(f"Steps ({len(steps)})")
    link, scroll = linked_step(t.id)
    at = next((n for n, step in enumerate(steps) if link and step.idx == link.step), None)
    if link is not None and at is None:
        st.html(f'<div id="{link.anchor}" class="t2s-anchor">{missing_step_html(link.step, len(steps))}</div>')
    start = 0
    if len(steps) > STEPS_PER_PAGE:
        pages = -(-len(steps) // STEPS_PER_PAGE)
        key = f"traj_step_page_{t.id}"
        if scroll and at is not None:
            st.session_state[key] = at // STEPS_PER_PAGE + 1
        st.session_state.setdefault(key, 1)
        page = st.number_input(f"Step page (of {pages}, {STEPS_PER_PAGE} steps each)", 1, pages, key=key)
        start = (page - 1) * STEPS_PER_PAGE
    with st.container(height=900 if len(steps) > 8 else "content", key="traj_steps"):
        for step in steps[start : start + STEPS_PER_PAGE]:
            if link is not None and step.idx == link.step:
                head, marked = focus_html(ws, link, step)
                with st.container(key="t2s_focus_step"):
                    st.html(head)
                    _step(step, marks.get(step.idx, []), expanded=True, marked=marked)
            else:
                _step(step, marks.get(step.idx, []))
    _lessons(ws, t.id)
    if scroll and link is not None:
        scroll_to(link.anchor)


def _to_signal_step(trajectory_id: str, step_of_row: list[int | None]) -> None:
    click = st.session_state.get("traj_signal_step")
    row = click["row"] if click else None
    if row is not None and row < len(step_of_row) and step_of_row[row] is not None:
        open_step(StepLink(trajectory_id, int(step_of_row[row] or 0)))
