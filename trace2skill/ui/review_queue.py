"""The Lessons screen's team review: "My queue" (only the lessons assigned to you), the open threads
of each lesson in the table, the selected lesson's comment threads, and the review queue panel —
assign lessons (those matching the filters, those on this page, a run's, or a near-duplicate group)
to one or several reviewers, and each reviewer's progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from trace2skill.assignments import DUPLICATE_THRESHOLD, assign_lessons, near_duplicate_units, progress
from trace2skill.comments import open_threads
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.models import Lesson
from trace2skill.reviewers import UNNAMED_APP_USER
from trace2skill.store import Workspace
from trace2skill.store.decisions import known_reviewers, latest_deciders
from trace2skill.store.lessons import LessonFilter, count_lessons, lesson_ids, lessons_by_ids
from trace2skill.store.runs import list_runs
from trace2skill.ui.comments_view import render_thread, threads_label
from trace2skill.ui.lesson_view import duplicate_groups
from trace2skill.ui.reviewer import ui_reviewer

CHOICES = ("matching the filters", "on this page", "of a run", "a near-duplicate group on this page")
PROGRESS_COLUMNS = ["reviewer", "assigned", "decided", "decided by them", "left", "done"]


def queue_filter(ws: Workspace) -> str | None:
    """The "My queue" switch: your name when it is on (the table then shows only your lessons)."""
    me = ui_reviewer()
    if me == UNNAMED_APP_USER:
        st.toggle("My queue", key="les_mine", value=False, disabled=True,
                  help="Give your name in the sidebar to see the lessons assigned to you.")
        return None
    mine = count_lessons(ws.db, LessonFilter(assigned_to=me))
    left = count_lessons(ws.db, LessonFilter(assigned_to=me, status="proposed")) if mine else 0
    on = st.toggle(f"My queue: {plural(mine, 'lesson')} assigned to you, {left} to review", key="les_mine",
                   disabled=not mine, help="Only the lessons assigned to you (with the other filters).")
    return me if on and mine else None


def with_threads(ws: Workspace, table: pd.DataFrame, rows: list[Lesson]) -> pd.DataFrame:
    """The lessons table with who decided each lesson last and its open threads."""
    ids = [r.id for r in rows]
    counts = open_threads(ws.db, "lesson", ids)
    deciders = latest_deciders(ws.db, "lesson", ids)
    table = table.assign(threads=[counts.get(i, 0) for i in ids])
    table.insert(1, "decided by", [deciders.get(i, "") for i in ids])
    return table


def render_lesson_comments(ws: Workspace, lesson_id: str) -> None:
    """The selected lesson's comment threads."""
    count = open_threads(ws.db, "lesson", [lesson_id]).get(lesson_id, 0)
    st.subheader(threads_label(count), anchor=False)
    render_thread(ws, "lesson", lesson_id, who=ui_reviewer(), what="this lesson", key="les_comments")


def _progress_table(ws: Workspace) -> None:
    found = progress(ws.db)
    if not found:
        st.caption("No lessons are assigned yet.")
        return
    rows = [{"reviewer": p.reviewer, "assigned": p.assigned, "decided": p.decided, "decided by them": p.decided_by_them,
             "left": p.left, "done": p.decided / p.assigned if p.assigned else 0.0} for p in found]
    st.dataframe(pd.DataFrame(rows, columns=PROGRESS_COLUMNS), hide_index=True, width="stretch", key="les_progress",
                 column_config={"done": st.column_config.ProgressColumn("done", min_value=0.0, max_value=1.0,
                                                                        format="percent"),
                                "decided by them": st.column_config.NumberColumn(
                                    "decided by them", help="Decided by the reviewer whose queue it is")})


@dataclass
class _Choice:
    """The lessons the Assign panel would assign: how many, how to fetch their ids (only when the
    button is pressed: "the lessons matching the filters" can be 500,000 ids), in words."""

    count: int
    ids: Callable[[], list[str]]
    how: str


def _chosen(ws: Workspace, choice: str, flt: LessonFilter, rows: list[Lesson], total: int) -> _Choice:
    """The Assign panel's choice (`total`: how many lessons match the filters)."""
    if choice == CHOICES[1]:
        page = [r.id for r in rows]
        return _Choice(len(page), lambda: page, "the lessons on one page")
    if choice == CHOICES[2]:
        runs = [r.id for r in list_runs(ws.db, "extraction", 50, with_progress=False)]
        run = st.selectbox("Run", runs, key="les_assign_run")
        if not run:
            return _Choice(0, list, "")
        of_run = LessonFilter(run_id=run)
        return _Choice(count_lessons(ws.db, of_run), lambda: lesson_ids(ws.db, of_run), f"run {run}")
    if choice == CHOICES[3]:
        found = duplicate_groups(tuple(f"{r.title}\n{r.content}" for r in rows), DUPLICATE_THRESHOLD)
        groups = [[rows[i].id for i in group] for group in found]
        if not groups:
            st.caption("No near-duplicates on this page.")
            return _Choice(0, list, "")
        titles = {r.id: r.title for r in rows}
        n = st.selectbox("Group", range(len(groups)), key="les_assign_group",
                         format_func=lambda i: f"{len(groups[i])} lessons like “{titles[groups[i][0]][:60]}”")
        group = list(groups[n or 0])
        return _Choice(len(group), lambda: group, "a near-duplicate group")
    return _Choice(total, lambda: lesson_ids(ws.db, flt), "the lessons matching the filters")


def render_assign(ws: Workspace, flt: LessonFilter, rows: list[Lesson], total: int) -> None:
    """The review queue panel: assign lessons to reviewers, and progress per reviewer (`total`: how
    many lessons match the filters)."""
    with st.expander("Review queue: assign lessons, progress per reviewer", icon=":material/assignment_ind:",
                     key="les_queue_panel"):
        _progress_table(ws)
        choice = st.segmented_control("Assign the lessons", CHOICES, default=CHOICES[0], required=True,
                                      key="les_assign_what")
        chosen = _chosen(ws, str(choice or CHOICES[0]), flt, rows, total)
        known = [n for n in known_reviewers(ws.db, limit=50) if n != UNNAMED_APP_USER]
        c1, c2 = st.columns(2)
        picked = c1.multiselect("To", known, key="les_assign_to", help="Several reviewers: the lessons are shared "
                                "out evenly among them.")
        others = c2.text_input("Other names (comma-separated)", key="les_assign_new")
        together = st.checkbox("Keep near-duplicates together (one reviewer settles a group)", key="les_assign_dups",
                               disabled=choice == CHOICES[3])
        names = [*picked, *(n.strip() for n in others.split(",") if n.strip())]
        if st.button(f"Assign {plural(chosen.count, 'lesson')}", key="les_assign_go", icon=":material/assignment_add:",
                     disabled=not chosen.count or not names):
            ids, how = chosen.ids(), chosen.how
            try:
                groups = near_duplicate_units(lessons_by_ids(ws.db, ids)) if together else []
                done = assign_lessons(ws.db, ids, names, actor=ui_reviewer(), groups=groups, how=how)
            except Trace2SkillError as exc:
                st.error(f"Not assigned: {exc}", icon=":material/block:")
                return
            st.session_state["les_flash"] = "Assigned " + "; ".join(
                f"{plural(a.lessons, 'lesson')} to {a.reviewer} ({a.new} new)" for a in done) + "."
            st.rerun()
