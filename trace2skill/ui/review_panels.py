"""The Review & diff screen's parts: where the version under review stands (draft or saved), the
hunk counts, the chart of how many trajectories stand behind each change, one hunk with its
decision and support, a file's hand edits, the rendered preview, the history with each version's
state, who approved it and its open threads, and what a save says."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st
from sqlite_utils import Database

from trace2skill.approvals import history_approvers
from trace2skill.comments import open_threads
from trace2skill.diff import Hunk, unified_diff
from trace2skill.humanize import minute as when
from trace2skill.models import SkillVersion
from trace2skill.skill_review import DECISIONS, HunkCounts, SaveOutcome
from trace2skill.store.skills import list_versions
from trace2skill.store.version_states import VersionState, version_states
from trace2skill.ui.diff_view import HunkSupport, SupportSpread, hunk_text, spread_rows, spread_words
from trace2skill.ui.escape import safe_label
from trace2skill.ui.provenance_view import reviewer
from trace2skill.ui.review_view import HUNK_STATES, STATE_CLASS, preview_of
from trace2skill.ui.words import as_time, time_column

DECISION_LABELS = {"accept": "Accept", "reject": "Reject"}


def _decision_label(value: str) -> str:
    return DECISION_LABELS.get(value, value)


def _by(state: VersionState) -> str:
    return f"by {safe_label(reviewer(state.saved_by or 'user'))} ({when(state.saved_at)})"


def render_state(version: SkillVersion, states: list[VersionState], current: str | None) -> None:
    """Draft or saved: what the version under review is, and what Save will do."""
    skill = safe_label(version.skill)
    me = next((s for s in states if s.id == version.id), None)
    children = [s for s in states if s.parent == version.id and s.state == "saved"]
    if current == version.id:
        where = f"it is the current version of {skill}"
    else:
        where = f"the current version is {current[:12]}" if current else f"{skill} has no saved version yet"
    if version.source != "proposal":
        st.caption(f"Version {version.id[:12]} is {me.label if me else version.source}; {where}.")
    elif me and me.state == "saved":
        st.success(f"Saved: this proposal was saved as it is {_by(me)}; {where}.", icon=":material/verified:")
    elif children:
        newest = max(children, key=lambda s: s.order)
        tail = "it is the current version" if current == newest.id else where
        st.success(f"Reviewed: the result of this proposal was saved as version {newest.id[:12]} {_by(newest)}; "
                   f"{tail}.", icon=":material/verified:")
    else:
        st.info(f"Draft: this proposal is not part of {skill} until someone saves it. Accept or reject each hunk "
                "(an undecided hunk stays as proposed), edit the text if needed, then Save: the result becomes the "
                f"current version of {skill}.", icon=":material/edit_note:")


def render_counts(counts: HunkCounts) -> None:
    with st.container(horizontal=True, key="rev_counts", vertical_alignment="center"):
        st.markdown(f"**{counts.text()}**")
        st.badge(f"{counts.accepted} accepted", icon=HUNK_STATES["accept"][1], color="green")
        st.badge(f"{counts.rejected} rejected", icon=HUNK_STATES["reject"][1], color="red")
        st.badge(f"{counts.undecided} undecided", icon=HUNK_STATES[None][1], color="gray")


SINGLE_COLOR, SHARED_COLOR = "#f08c00", "#2f9e44"  # as the hunks' support badges: orange for one trajectory


def render_support_chart(spread: SupportSpread) -> None:
    """A bar per support level: how many changes that many trajectories stand behind (nothing when
    no change comes from a consolidation edit)."""
    if not spread.changes:
        return
    frame = pd.DataFrame(spread_rows(spread), columns=["trajectories", "changes"])
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("trajectories:O", title="trajectories behind the change", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("changes:Q", title="changes", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.condition("datum.trajectories > 1", alt.value(SHARED_COLOR), alt.value(SINGLE_COLOR)),
        tooltip=[alt.Tooltip("trajectories:O", title="trajectories"), alt.Tooltip("changes:Q", title="changes")],
    ).properties(height=170)
    with st.container(key="rev_support", border=True):
        words, picture = st.columns([2, 3], vertical_alignment="center")
        words.markdown("**How many trajectories stand behind each change**")
        words.caption(spread_words(spread), help="A change backed by many trajectories is a lesson seen again and "
                      "again; one backed by a single trajectory deserves a closer look.")
        picture.altair_chart(chart, width="stretch")


def render_hunk(h: Hunk, hs: HunkSupport, total: int, state: str | None, key: str, box: str, locked: bool) -> None:
    """One hunk in a box styled by its decision: the Accept / Reject choice, its state, its support."""
    label, icon, color = HUNK_STATES[state if state in DECISIONS else None]
    with st.container(key=f"rev_hbox-{STATE_CLASS.get(state, 'undecided')}-{box}", border=True):
        row = st.container(horizontal=True, vertical_alignment="bottom")
        row.segmented_control(f"Hunk {h.index + 1} of {total}", list(DECISIONS), format_func=_decision_label,
                              key=key, disabled=locked,
                              help="Undecided hunks stay as proposed; a rejected hunk is left out of the result.")
        row.badge(label, icon=icon, color=color)
        if hs.lines:
            row.badge(f"supported by {hs.count} trajector{'y' if hs.count == 1 else 'ies'}",
                      icon=":material/groups:", color="green" if hs.count > 1 else "orange")
            row.badge(f"{hs.verified} of {len(hs.lessons)} lessons verified by replay",
                      icon=":material/replay:", color="green" if hs.verified else "gray")
            row.caption(f"{len(hs.edits)} edit(s): {', '.join(e[:10] for e in hs.edits)}")
        elif not any(line.tag == "+" for line in h.lines):
            row.caption("removes lines only: nothing new to trace (see the merge tree for the edit)")
        else:
            row.caption("no consolidation edit behind these lines (base or manual text)")
        st.code(hunk_text(h), language="diff", wrap_lines=True)


def render_hand_edits(path: str, merged: str, edited: str, discard: Callable[[], None], key: str) -> None:
    """A file edited by hand: its edits against the accepted hunks, and a way back."""
    st.warning("You edited this file by hand: Unified, Side by side and the preview show your edited result. "
               "The hunk decisions are kept as they were while your edits stand.", icon=":material/edit:")
    st.button("Discard my edits to this file", key=key, on_click=discard, icon=":material/undo:")
    st.caption("Your edits")
    st.code(unified_diff(merged, edited, old_name=f"hunks/{path}", new_name=f"edited/{path}"), language="diff",
            wrap_lines=True)


def render_preview(path: str, text: str | None, key: str) -> None:
    """The result of one file as it reads: markdown rendered, other files as code."""
    st.caption("Preview of the result")
    with st.container(height=480, border=True, key=key):
        if text is None:
            st.caption("This file will not be in the saved version.")
            return
        preview = preview_of(path, text)
        if not preview.markdown:
            st.code(preview.body, language=preview.language, wrap_lines=True)
            return
        for name, value in preview.frontmatter.items():
            st.caption(f"{safe_label(name, 40)}: {safe_label(value, 300)}")
        st.markdown(preview.body)


def render_history(db: Database, skill: str, current: str | None, key: str = "rev_history") -> None:
    """Every version, newest first: draft or saved, which one is current, who saved it and when, who
    approved it (as it is) and its open threads."""
    states = version_states(db, skill)
    talk = open_threads(db, "proposal", [v.id for v in states])
    approvers = history_approvers(db, [(v.id, v.parent) for v in states])
    messages = {v.id: v.message for v in list_versions(db, skill)}
    saved_as = {}
    for v in sorted((v for v in states if v.state == "saved" and v.parent), key=lambda v: v.order):
        saved_as[v.parent] = v.id  # the reviewed result saved last, for a draft whose result was saved

    def label(v: VersionState) -> str:
        if v.state == "draft" and v.id in saved_as:
            return f"proposal (draft; its result saved as {saved_as[v.id][:12]})"
        return v.label

    rows = [{"id": v.id, "state": label(v), "current": "current" if v.id == current else "", "parent": v.parent or "",
             "saved by": reviewer(v.saved_by) if v.saved_by else "", "approved by": ", ".join(approvers.get(v.id, [])),
             "saved": as_time(v.saved_at), "made": as_time(v.created), "open threads": talk.get(v.id, 0),
             "message": messages.get(v.id, "")} for v in states]
    table = pd.DataFrame(rows, columns=["id", "state", "current", "parent", "saved by", "approved by", "saved", "made",
                                        "open threads", "message"])
    for column in ("saved", "made"):  # never saved: an empty cell, not "None"
        table[column] = pd.to_datetime(table[column], utc=True)
    st.dataframe(table, hide_index=True, width="stretch", key=key,
                 column_config={"saved": time_column("saved", "When a reviewer saved it (sorts by time)"),
                                "made": time_column("made", "When it was imported or proposed"),
                                "message": st.column_config.TextColumn("message", width="large")})


def save_message(outcome: SaveOutcome, skill: str, reviewed: SkillVersion) -> tuple[str, str]:
    """(kind, text) of the message a save of the `reviewed` version's result leaves: "success" or "info"."""
    name, vid = safe_label(skill), outcome.version_id
    kept = (f" {outcome.reworded} reworded line(s) keep the provenance of the lines they replaced."
            if outcome.reworded else "")
    if outcome.kind == "saved_as_is":
        what = "proposal" if reviewed.source == "proposal" else "version"
        return "success", f"Saved {what} {vid[:12]} as it is: it is now the current version of {name}."
    if outcome.kind == "new_version":
        return "success", (f"Saved version {vid} of {name} (parent {reviewed.id[:12]}): it is now the current "
                           f"version.{kept}")
    if outcome.kind == "saved_again":
        return "success", f"Saved version {vid} of {name} again: it is the current version once more."
    return "info", f"Nothing new to save: this result is already the current version of {name} ({vid[:12]})."
