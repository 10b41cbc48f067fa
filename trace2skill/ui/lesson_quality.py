"""The Lessons screen's quality parts: filters for flags and replay verification, the count of
lessons hidden as unusable, bulk decisions that hold flagged lessons back unless confirmed, and a
lesson's flags and replay evidence."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import pandas as pd
import streamlit as st

from trace2skill.analysis.flags import label
from trace2skill.models import Lesson, LessonCheck
from trace2skill.review import approve
from trace2skill.store import Workspace
from trace2skill.store.lessons import LessonFilter, count_lessons, flag_counts, set_status
from trace2skill.store.verifications import checks_of
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.words import plural
from trace2skill.verify.verdicts import WORDS

QUALITY: dict[str, bool | None] = {"without flags": False, "all": None, "flagged only": True}
VERIFICATION: dict[str, str | None] = {"any": None, "verified": "verified", "not verified": "not_verified",
                                       "cannot be checked": "not_verifiable", "not checked yet": "unchecked"}


def hidden_notice(ws: Workspace, flt: LessonFilter, quality: str) -> int:
    """When flagged lessons are left out: how many, by reason, and a way to show them. Returns how
    many are hidden."""
    if QUALITY[quality] is not False:
        return 0
    flagged = replace(flt, flagged=True)
    hidden = count_lessons(ws.db, flagged)
    if not hidden:
        return 0
    reasons = ", ".join(f"{label(code)} {n}" for code, n in flag_counts(ws.db, flagged).items())
    box = st.container(horizontal=True, vertical_alignment="center")
    box.warning(f"{plural(hidden, 'lesson')} hidden as unusable: {reasons}.", icon=":material/visibility_off:")
    box.button("Show them", key="les_show_hidden", icon=":material/visibility:", on_click=_show_all)
    return hidden


def nothing_matches_words(ws: Workspace, hidden: int) -> str:
    """What an empty lessons table means: no lessons yet, only unusable ones, or filters too narrow."""
    if hidden:
        which = "the one lesson that matches is" if hidden == 1 else f"the {hidden:,} that match are"
        return f"No usable lesson matches: {which} hidden as unusable (above: Show them)."
    if not count_lessons(ws.db, LessonFilter()):
        return "No lessons yet: run an extraction on the Extract page."
    return "No lessons match these filters: widen them."


def _show_all() -> None:
    st.session_state["les_quality"] = "all"


def bulk_decision(ws: Workspace, ids: list[str], status: str, *, despite: bool) -> str:
    """Approve or reject every lesson of `ids`; flagged ones are approved only with `despite`."""
    if status != "approved":
        return f"{status.capitalize()} {plural(set_status(ws.db, ids, status, actor=ui_reviewer()), 'lesson')}."
    outcome = approve(ws.db, ids, actor=ui_reviewer(), despite_problems=despite)
    held = len(outcome.needs_confirmation)
    left = "1 flagged lesson was left as it was" if held == 1 else f"{held:,} flagged lessons were left as they were"
    return f"Approved {plural(outcome.approved, 'lesson')}." + (
        f" {left}: tick the box to approve them too." if held else "")


def render_flags(lesson: Lesson) -> None:
    if not lesson.flags:
        return
    lines = "\n".join(f"- {label(f.code)}: {f.reason}" for f in lesson.flags)
    st.warning(f"Quality flags found by code:\n{lines}", icon=":material/flag:")


def _replays(title: str, replays: list[dict[str, object]]) -> None:
    st.caption(title)
    st.dataframe(pd.DataFrame([{"replay": r["repeat"], "passed": r["passed"], "answer": r["answer"],
                                "scored": r["detail"]} for r in replays],
                              columns=["replay", "passed", "answer", "scored"]), hide_index=True, width="stretch")


def render_checks(ws: Workspace, lesson: Lesson) -> None:
    """The lesson's replay verification: the verdict in words and each replay's answer and score."""
    checks: list[LessonCheck] = checks_of(ws.db, lesson.id)
    if not checks:
        st.caption("Not verified by replay yet (Extract screen: Verify lessons; or `trace2skill verify`).")
        return
    check = checks[0]
    rates = "" if check.rate_with is None else (
        f" — passed {check.rate_with:.0%} of {check.repeats} replays with it, "
        f"{check.rate_without or 0:.0%} without it")
    color: Literal["green", "gray", "red"] = (
        "green" if check.verdict in ("fixed", "kept") else "gray" if check.verdict == "not_verifiable" else "red")
    st.badge(f"Replay: {WORDS[check.verdict]}{rates}", color=color, icon=":material/replay:")
    if check.round:
        revising = plural(len(lesson.revises), "lesson")
        st.caption(f"Written in round {check.round} of the fix loop (revising {revising}).")
    with st.expander("Replay evidence"):
        _replays("With the lesson", check.evidence.get("with_lesson", []))
        _replays("Without it (the frozen skill alone)", check.evidence.get("baseline", []))
