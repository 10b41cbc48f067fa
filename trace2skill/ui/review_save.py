"""The Review & diff screen's Save area: what Save will do, the reviewer and message recorded with it,
the discussion of the proposal and its open threads, the approval policy with who approved the
result shown, the held-out gate, the findings to confirm, and the Save button — refused (disabled,
with the reason) while the gate or the approval policy says no."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from trace2skill.errors import Trace2SkillError
from trace2skill.models import SkillVersion
from trace2skill.reviewers import UNNAMED_APP_USER
from trace2skill.skill.validate import Finding
from trace2skill.skill_review import HunkCounts, save_review
from trace2skill.store import Workspace
from trace2skill.ui.approval_view import render_approvals, render_open_threads, render_proposal_comments
from trace2skill.ui.escape import safe_label
from trace2skill.ui.evaluation_view import save_refused
from trace2skill.ui.proposal_checks import confirm_findings
from trace2skill.ui.review_panels import save_message
from trace2skill.ui.reviewer import ui_reviewer


def render_save(ws: Workspace, new: SkillVersion, old: SkillVersion, merged: Mapping[str, str],
                final: Mapping[str, str], counts: HunkCounts, edited: Mapping[str, str],
                lint: list[Finding], validation: list[Finding], pair: str,
                on_saved: Callable[[], None] = lambda: None) -> None:
    skill = new.skill
    named = ui_reviewer()
    render_proposal_comments(ws, new.id, named)
    st.subheader("Save")
    as_is = dict(final) == new.files
    st.caption(counts.text() + (f"; {len(edited)} file(s) edited by hand" if edited else "")
               + ". Undecided hunks are saved as proposed. Save makes the result the current version of "
               + safe_label(skill) + (": this version itself, as it is." if as_is
                                      else f", as a new version whose parent is {new.id[:12]}."))
    c1, c2 = st.columns([1, 2])
    who = c1.text_input("Reviewer", key="rev_reviewer", placeholder="your name",
                        value="" if named == UNNAMED_APP_USER else named,
                        help="Recorded with the save and your approval: a line you reword is shown as reworded by "
                             "you.")
    message = c2.text_input("Message", key="rev_message", placeholder=f"review of {new.id[:12]}")
    saver = who.strip() or named
    render_open_threads(ws, old.id, new.id)
    policy = render_approvals(ws, new, final, saver)
    st.toggle("Refuse to save when the held-out score regresses", key="rev_gate",
              help=f"Uses the latest complete A/B result of {new.id[:12]} against {old.id[:12]}.")
    refused = save_refused(ws, new.id, old.id)
    if refused:
        st.error(f"Saving is refused by the gate: {refused}", icon=":material/block:")
    if policy.reason:
        st.error(f"Saving is refused by the approval policy: {policy.reason}.", icon=":material/how_to_reg:")
    may_save, confirmed = confirm_findings([*lint, *validation], {id(f): "spec" for f in validation},
                                           key=f"rev_confirm:{pair}")
    if st.button("Save as the current version", type="primary", key="rev_save", icon=":material/save:",
                 disabled=bool(refused) or bool(policy.reason) or not may_save):
        try:
            outcome = save_review(ws.db, new, old, merged, final, actor=saver, confirmed=confirmed,
                                  message=message.strip() or f"review of {new.id[:12]}: {counts.text()}")
        except Trace2SkillError as exc:
            st.error(str(exc), icon=":material/block:")
            return
        on_saved()
        kind, text = save_message(outcome, skill, new)
        st.session_state[f"rev_flash_{kind}"] = text
        st.rerun()
