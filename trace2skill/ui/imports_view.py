"""The Trajectories screen's import history and outcome edits in bulk: each import in one line with a
delete button that first asks, naming what goes (trajectories and the lessons drawn from them); and
setting the outcome of every trajectory that matches the filters, after a confirmation. Both are
recorded as decisions."""

from __future__ import annotations

import dataclasses

import streamlit as st

from trace2skill.errors import NotFoundError
from trace2skill.imports import deletion_done, deletion_question, plural, status_text, when, who
from trace2skill.models import ImportRecord, OutcomeLabel
from trace2skill.store import Workspace
from trace2skill.store.imports import DeletionPlan, count_imports, delete_import, deletion_plan, list_imports
from trace2skill.store.outcomes import set_outcomes
from trace2skill.store.trajectories import TrajectoryFilter, trajectory_ids
from trace2skill.ui.escape import safe_label
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.words import format_words

SHOWN = 20
FLASH = "traj_flash"  # the page shows and clears it
CONFIRM_DELETE = "imports_confirm_delete"
CONFIRM_OUTCOME = "bulk_outcome_confirm"
OUTCOMES: list[OutcomeLabel] = ["success", "failure", "unknown"]


def _safe(plan: DeletionPlan) -> DeletionPlan:
    """The plan with its file name fit for the screen (text from the data never reaches Markdown)."""
    record = plan.record.model_copy(update={"file": safe_label(plan.record.file, 80)})
    return dataclasses.replace(plan, record=record)


def _line(record: ImportRecord) -> str:
    counts = (f"{record.imported:,} added · {record.duplicates:,} already present · {record.relabelled:,} relabelled"
              f" · {record.errors:,} errors · {plural(record.trajectories, 'trajectory')} still here")
    state = "" if record.status == "done" else f" · {status_text(record)}"
    fmt = format_words(record.format) if record.format else "not recognised"
    return (f"{record.id} · {safe_label(record.file, 80)} · {safe_label(fmt, 30)} · "
            f"{when(record.started)} · {safe_label(who(record), 40)} — {counts}{state}")


def _ask_delete(ws: Workspace, import_id: int) -> None:
    try:
        plan = deletion_plan(ws.db, import_id)
    except NotFoundError as exc:
        st.session_state.pop(CONFIRM_DELETE, None)
        st.error(str(exc), icon=":material/search_off:")
        return
    with st.container(border=True):
        st.warning(deletion_question(_safe(plan)), icon=":material/delete_forever:")
        st.caption("Their steps and signals go too, and the lessons' replay checks; trajectories another import "
                   "also brought stay. This cannot be undone (importing the file again brings the trajectories "
                   "back, not the lessons).")
        yes, no = st.columns(2)
        if yes.button("Delete", key="imports_delete_yes", type="primary", icon=":material/delete:"):
            done = delete_import(ws.db, import_id, actor=ui_reviewer())
            st.session_state.pop(CONFIRM_DELETE, None)
            st.session_state[FLASH] = deletion_done(_safe(done))
            st.rerun()
        if no.button("Cancel", key="imports_delete_no", icon=":material/close:"):
            st.session_state.pop(CONFIRM_DELETE, None)
            st.rerun()


def render_imports(ws: Workspace) -> None:
    """Every import, newest first, each with a delete button."""
    total = count_imports(ws.db)
    asking = st.session_state.get(CONFIRM_DELETE)
    with st.expander(f"Import history · {plural(total, 'import')}", icon=":material/history:",
                     expanded=asking is not None):
        if not total:
            st.caption("No imports yet.")
            return
        st.caption("Each file imported, with what it did. Deleting an import removes the trajectories it added "
                   "(unless another import also brought them) and the lessons drawn from them.")
        if asking is not None:
            _ask_delete(ws, int(asking))
        for record in list_imports(ws.db, limit=SHOWN):
            row = st.columns([9, 1], vertical_alignment="center")
            row[0].text(_line(record))
            if row[1].button("Delete…", key=f"imports_delete_{record.id}", icon=":material/delete:",
                             help="Asks first, naming what would be deleted"):
                st.session_state[CONFIRM_DELETE] = record.id
                st.rerun()
        if total > SHOWN:
            st.caption(f"The {SHOWN} latest of {total:,} imports; `trace2skill imports` lists them all.")


def render_bulk_outcome(ws: Workspace, flt: TrajectoryFilter, matching: int) -> None:
    """Set the outcome of every trajectory matching the filters (asked first; one decision each)."""
    asking = st.session_state.get(CONFIRM_OUTCOME)
    with st.expander(f"Set outcomes · {plural(matching, 'matching trajectory')}",
                     icon=":material/label:", expanded=asking is not None):
        st.caption("Set the outcome of every trajectory that matches the filters above, e.g. when the data's "
                   "labels were wrong. Each change is recorded as your decision; importing the file again "
                   "leaves these outcomes as you set them.")
        c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
        label = c1.selectbox("New outcome", OUTCOMES, key="bulk_outcome")
        if c2.button(f"Set {plural(matching, 'trajectory')} to {label}…", key="bulk_outcome_set",
                     disabled=not matching, icon=":material/edit:"):
            st.session_state[CONFIRM_OUTCOME] = (label, trajectory_ids(ws.db, flt))
            st.rerun()
        if asking is None:
            return
        outcome, ids = asking
        with st.container(border=True):
            st.warning(f"Set the outcome of {plural(len(ids), 'trajectory')} to {outcome}?",
                       icon=":material/label:")
            yes, no = st.columns(2)
            if yes.button("Set outcomes", key="bulk_outcome_yes", type="primary", icon=":material/check:"):
                try:
                    done = set_outcomes(ws.db, ids, outcome, actor=ui_reviewer())
                except NotFoundError as exc:  # deleted meanwhile
                    st.session_state.pop(CONFIRM_OUTCOME, None)
                    st.error(str(exc), icon=":material/error:")
                    return
                st.session_state.pop(CONFIRM_OUTCOME, None)
                st.session_state[FLASH] = (f"Set {plural(len(done.changed), 'trajectory')} to "
                                           f"{outcome} ({done.unchanged:,} already were); recorded as your "
                                           "decisions.")
                st.rerun()
            if no.button("Cancel", key="bulk_outcome_no", icon=":material/close:"):
                st.session_state.pop(CONFIRM_OUTCOME, None)
                st.rerun()
