"""Lessons screen helpers: the editable table's rows, applying its edits through the store (stale
edits refused), near-duplicate groups, and one lesson's evidence beside the steps it quotes, with
its decisions on keys (approve, reject, edit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from trace2skill.analysis.flags import label
from trace2skill.analysis.grounding import locate_in_step, step_text
from trace2skill.errors import InvalidValueError, NotFoundError, StaleEditError, Trace2SkillError
from trace2skill.models import LESSON_STATUSES, Evidence, Lesson, StoredStep
from trace2skill.review import approve, problems
from trace2skill.store import Workspace
from trace2skill.store.lessons import get_lesson, save_lesson_row, set_status_checked
from trace2skill.store.trajectories import get_steps, get_trajectory
from trace2skill.ui.escape import STYLE, missing_step_html, quote_html
from trace2skill.ui.lesson_keys import APPROVE, EDIT, GOTO, REJECT, edit_open_key, focus_editor_if_asked, open_editor
from trace2skill.ui.lesson_quality import render_checks, render_flags
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.step_links import StepLink, step_page_link
from trace2skill.ui.words import kind_words
from trace2skill.verify.verdicts import WORDS

EDITABLE_COLUMNS = ("status", "title", "content")
ID_HELP = "Shortened to fit; select a cell and copy it (Ctrl+C) for the whole id."
COLUMNS = ["status", "title", "content", "flags", "replay", "kind", "grounded", "evidence", "trajectory", "run", "id",
           "version"]


def grounded_label(value: bool | None) -> str:
    return "unchecked" if value is None else ("yes" if value else "no")


def table_of(rows: list[Lesson]) -> pd.DataFrame:
    return pd.DataFrame([{
        "status": r.status, "title": r.title, "content": r.content,
        "flags": ", ".join(label(f.code) for f in r.flags), "replay": WORDS.get(r.verdict or "", ""),
        "kind": kind_words(r.kind),
        "grounded": grounded_label(r.grounded), "evidence": len(r.evidence), "trajectory": r.trajectory_id,
        "run": r.run_id or "", "id": r.id, "version": r.version,
    } for r in rows], columns=COLUMNS)


def column_config() -> dict[str, Any]:
    return {
        "status": st.column_config.SelectboxColumn("status", options=list(LESSON_STATUSES), required=True,
                                                   width="small"),
        "title": st.column_config.TextColumn("title", required=True, width="large", max_chars=300),
        "content": st.column_config.TextColumn("guidance", required=True, width="large", max_chars=4000,
                                               help="Long text: edit it under Evidence below, in a full-size box."),
        "kind": st.column_config.TextColumn("kind", width="small"),
        "grounded": st.column_config.TextColumn("grounded", width="small"),
        "evidence": st.column_config.NumberColumn("evidence", width="small", help="quotes cited"),
        "version": st.column_config.NumberColumn("version", width="small"),
        **{name: st.column_config.TextColumn(name, width="small", help=ID_HELP)
           for name in ("trajectory", "run", "id")},
    }


@dataclass
class SaveResult:
    saved: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # messages (stale edits, invalid values)


def apply_edits(ws: Workspace, shown: list[tuple[str, int]], edited_rows: dict[Any, dict[str, Any]]) -> SaveResult:
    """Save the editor's changed cells, row by row, against the versions the reviewer saw."""
    result = SaveResult()
    for position, changes in sorted(edited_rows.items(), key=lambda kv: int(kv[0])):
        index = int(position)
        if index >= len(shown):
            continue
        lesson_id, version = shown[index]
        wanted = {k: v for k, v in changes.items() if k in EDITABLE_COLUMNS}
        if not wanted:
            continue
        if wanted.get("status") == "approved" and problems(get_lesson(ws.db, lesson_id)):
            result.refused.append(f"Not approved (lesson {lesson_id}): it is flagged or its quotes were not found; "
                                  "open it below and approve it there, confirming its problems")
            continue
        try:
            save_lesson_row(ws.db, lesson_id, wanted, expected_version=version, actor=ui_reviewer())
        except StaleEditError as exc:
            result.refused.append(f"Not saved: {exc}")
        except (InvalidValueError, NotFoundError) as exc:
            result.refused.append(f"Not saved (lesson {lesson_id}): {exc}")
        else:
            result.saved.append(lesson_id)
    return result


@st.cache_data(ttl=600, max_entries=64, show_spinner="Comparing lessons…")
def duplicate_groups(texts: tuple[str, ...], threshold: float) -> list[list[int]]:
    from trace2skill.embed import near_duplicate_groups

    return near_duplicate_groups(list(texts), threshold)


def _badge(grounded: bool | None, match: str | None = None) -> None:
    if grounded is None:
        st.badge("unchecked", icon=":material/help:", color="gray")
    elif grounded:
        st.badge(f"grounded ({match})" if match in ("exact", "fuzzy") else "grounded",
                 icon=":material/verified:", color="green")
    else:
        st.badge("ungrounded", icon=":material/report:", color="red")


def evidence_span(ev: Evidence, step: StoredStep) -> tuple[int, int] | None:
    """Where to mark a quote in `step_text(step)`: the span grounding stored; for evidence checked
    before spans were stored (or never checked) the very search grounding does; nothing for
    evidence grounding did not find."""
    if ev.grounded is False:
        return None
    start, end = ev.start, ev.end
    if start is not None and end is not None and 0 <= start <= end <= len(step_text(step)):
        return start, end
    found = locate_in_step(step, ev.quote)
    return (found.start, found.end) if found else None


def evidence_caption(ev: Evidence, span: tuple[int, int] | None) -> str:
    """The stored grounding verdict, as shown beside the step (never a verdict of the screen's own)."""
    grounded, match = ev.grounded, ev.match
    if grounded is None:
        return " · grounding not checked" + (" · quote located" if span else "")
    if not grounded:
        return " · quote not found in this step"
    how = f" ({match})" if match in ("exact", "fuzzy") else ""
    return f" · quote found{how}" if span else f" · quote grounded{how} but not located in this step"


def render_lesson(ws: Workspace, lesson_id: str, after: str | None = None) -> None:
    """One lesson: its text, decision buttons, and each quote beside the step it cites. A decision
    moves on to `after` (the next lesson), if any."""
    try:
        lesson = get_lesson(ws.db, lesson_id)
    except NotFoundError as exc:
        st.error(str(exc), icon=":material/search_off:")
        return
    st.html(STYLE)
    _lesson_text(lesson)
    _edit_form(ws, lesson)
    render_flags(lesson)
    render_checks(ws, lesson)
    _decision_buttons(ws, lesson, after)
    _confirmation(ws, lesson, after)
    _evidence(ws, lesson)


def _lesson_text(lesson: Lesson) -> None:
    head = st.columns([3, 1], vertical_alignment="center")
    with head[0]:
        st.caption(f"{kind_words(lesson.kind)} · {lesson.status} · version {lesson.version}"
                   + (f" · last edited by {lesson.edited_by}" if lesson.edited_by else ""))
    with head[1]:
        _badge(lesson.grounded)
    st.caption("Title")
    st.text(lesson.title)
    if lesson.description:
        st.caption("Description")
        st.text(lesson.description)
    st.caption("Guidance")
    st.code(lesson.content, language=None, wrap_lines=True)
    st.caption(f"From trajectory {lesson.trajectory_id}" + (f" · run {lesson.run_id}" if lesson.run_id else ""))


def _edit_form(ws: Workspace, lesson: Lesson) -> None:
    """Title, description and guidance edited in full-size boxes, saved against the version shown."""
    with (st.expander("Edit this lesson", icon=":material/edit:", key=edit_open_key(lesson.id), on_change="rerun"),
          st.form(f"les_edit_{lesson.id}_{lesson.version}")):
        focus_editor_if_asked(lesson.id)
        title = st.text_input("Title", lesson.title, max_chars=300, key=f"les_edit_title_{lesson.id}_{lesson.version}")
        description = st.text_area("Description (when it applies)", lesson.description, height=80)
        content = st.text_area("Guidance", lesson.content, height=220, max_chars=4000,
                               help="What the agent should do; this is what a skill edit is built from.")
        if not st.form_submit_button("Save changes", icon=":material/save:", type="primary"):
            return
    wanted = {k: v for k, v in (("title", title), ("description", description), ("content", content))
              if v != getattr(lesson, k)}
    if not wanted:
        st.session_state["les_flash"] = "Nothing changed."
        st.rerun()
    try:
        save_lesson_row(ws.db, lesson.id, wanted, expected_version=lesson.version, actor=ui_reviewer())
    except Trace2SkillError as exc:
        st.session_state["les_errors"] = [f"Not saved: {exc}"]
    else:
        st.session_state["les_flash"] = "Lesson saved (recorded as your edit)."
    st.rerun()


def _decision_buttons(ws: Workspace, lesson: Lesson, after: str | None) -> None:
    buttons = st.container(horizontal=True)
    labels = {"proposed": "Mark proposed", "approved": "Approve", "rejected": "Reject"}
    keys = {"approved": APPROVE, "rejected": REJECT}
    for status, icon in zip(LESSON_STATUSES, (":material/undo:", ":material/check:", ":material/close:"), strict=True):
        if buttons.button(labels[status], key=f"les_set_{status}", disabled=lesson.status == status, icon=icon,
                          shortcut=keys.get(status)):
            _decide(ws, lesson, status, after)
    buttons.button("Edit", key="les_edit_key", icon=":material/edit:", shortcut=EDIT, on_click=open_editor,
                   args=(lesson.id,), help="Open the edit form above, ready to type in its title.")


def _decide(ws: Workspace, lesson: Lesson, status: str, after: str | None = None) -> None:
    if status == "approved" and problems(lesson):
        st.session_state[f"les_confirming_{lesson.id}"] = True
        st.rerun()
    try:
        set_status_checked(ws.db, lesson.id, status, expected_version=lesson.version, actor=ui_reviewer())
    except StaleEditError as exc:
        st.session_state["les_errors"] = [str(exc)]
    else:
        st.session_state["les_flash"] = f"Lesson marked {status}."
        if after:
            st.session_state[GOTO] = after
    st.rerun()


def _confirmation(ws: Workspace, lesson: Lesson, after: str | None) -> None:
    """A flagged lesson's approval, asked for and confirmed explicitly."""
    if not st.session_state.get(f"les_confirming_{lesson.id}") or lesson.status == "approved":
        return
    with st.container(border=True):
        st.markdown("**Approve this lesson despite its problems?**")
        for issue in problems(lesson):
            st.text(f"- {issue}")
        if st.button("Approve", key=f"les_confirm_go_{lesson.id}", type="primary", icon=":material/check:",
                     disabled=not st.checkbox("I checked these problems", key=f"les_confirm_{lesson.id}")):
            approve(ws.db, [lesson.id], actor=ui_reviewer(), despite_problems=True)
            st.session_state.pop(f"les_confirming_{lesson.id}", None)
            st.session_state["les_flash"] = "Lesson approved; the problems you confirmed are recorded with it."
            if after:
                st.session_state[GOTO] = after
            st.rerun()


def _evidence(ws: Workspace, lesson: Lesson) -> None:
    evidence = lesson.evidence
    st.markdown(f"**Evidence ({len(evidence)} quote{'s' if len(evidence) != 1 else ''})**")
    if not evidence:
        st.caption("This lesson cites no steps.")
        return
    steps = get_steps(ws.db, lesson.trajectory_id, sorted({e.step_idx for e in evidence}))
    for n, ev in enumerate(evidence):
        with st.container(border=True):
            top = st.columns([2, 1, 1], vertical_alignment="center")
            top[0].caption(f"Quote {n + 1} · step {ev.step_idx}")
            step_page_link(top[1], StepLink(lesson.trajectory_id, ev.step_idx, lesson.id, n),
                           f"Open step {ev.step_idx} in its trajectory")
            with top[2]:
                _badge(ev.grounded, ev.match)
            left, right = st.columns(2)
            with left:
                st.caption("Quoted")
                st.code(ev.quote, language=None, wrap_lines=True)
            with right:
                step = steps.get(ev.step_idx)
                if step is None:
                    run = get_trajectory(ws.db, lesson.trajectory_id, with_steps=False)
                    st.html(missing_step_html(ev.step_idx, run.n_steps))
                    continue
                span = evidence_span(ev, step)
                st.caption(f"Step {step.idx} ({step.role})" + evidence_caption(ev, span))
                st.html(quote_html(step_text(step), span))
