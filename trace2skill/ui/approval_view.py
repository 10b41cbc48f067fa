"""The Review & diff screen's approval and discussion panels: the workspace's approval policy, who
approved the result shown (an approval is of the result with its hunk decisions and edits), the
"Approve this proposal" button, the open threads before a save, and the threads on each hunk and on
the whole proposal."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from trace2skill.approvals import SaveCheck, approvals, approve_version, result_key, save_check
from trace2skill.comments import hunk_subject, open_on_review, open_threads, review_prefix
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.models import SkillVersion, content_hash
from trace2skill.store import Workspace
from trace2skill.store.comments import open_thread_counts
from trace2skill.ui.comments_view import render_thread, threads_label
from trace2skill.ui.escape import safe_label

POLICY_WORDS = {1: "one reviewer: whoever saves approves the result by saving it",
                2: "two-person approval: two different reviewers must approve the result before anyone saves it, "
                   "and the author of the last edit cannot be its only approver"}


def _names(names: list[str]) -> str:
    return ", ".join(safe_label(n) for n in names)


def _approve(ws: Workspace, version_id: str, who: str, files: dict[str, str]) -> None:
    try:
        new = approve_version(ws.db, version_id, who, files)
    except Trace2SkillError as exc:
        st.session_state["rev_flash_info"] = f"Not approved: {exc}"
        return
    st.session_state["rev_flash_success" if new else "rev_flash_info"] = (
        f"{who} approved this result of {version_id[:12]}." if new else "You had already approved this result.")


def render_approvals(ws: Workspace, version: SkillVersion, result: Mapping[str, str], who: str) -> SaveCheck:
    """The policy, the approvals of the result shown, and the Approve button; returns what the
    policy says about `who` saving it."""
    check = save_check(ws.db, version, result, who)
    key = result_key(result)
    mine = any(a.actor == who and a.result == key for a in approvals(ws.db, version.id))
    with st.container(border=True, key="rev_approvals"):
        st.markdown(f"**Approval policy:** {POLICY_WORDS.get(check.required, f'{check.required} reviewers')}",
                    help="Set for the workspace with `trace2skill settings set required_approvals 1|2`.")
        if check.approved_by:
            st.markdown(f":material/verified: **Approved by {_names(check.approved_by)}** "
                        f"({len(check.approved_by)} of {check.required} approval{'s' if check.required > 1 else ''})")
        else:
            st.caption("Nobody has approved this result yet.")
        if check.other_results:
            st.caption(f"{_names(check.other_results)} approved a different result of this proposal (other hunk "
                       "decisions or edits): that approval does not count for the result shown.")
        if check.author:
            st.caption(f"Author of the last edit: {safe_label(check.author)}"
                       + (" (your hunk decisions or edits changed the proposal)" if check.author == who else ""))
        st.button("You approved this result" if mine else "Approve this proposal", key="rev_approve",
                  icon=":material/thumb_up:", disabled=mine, on_click=_approve,
                  args=(ws, version.id, who, dict(result)),
                  help="Records that you checked this result (with the hunk decisions and edits shown) and agree "
                       "it should be saved.")
    return check


def render_open_threads(ws: Workspace, old_id: str, new_id: str) -> int:
    """A warning before Save when the proposal or its hunks have open threads; returns how many."""
    count = open_on_review(ws.db, old_id, new_id)
    if count:
        st.warning(f"This proposal has {plural(count, 'open thread')} (on it or on its hunks): read and resolve "
                   "them before saving.", icon=":material/forum:")
    return count


def hunk_open_counts(ws: Workspace, old_id: str, new_id: str) -> dict[str, int]:
    """Open threads per hunk between two versions (by hunk id)."""
    return open_thread_counts(ws.db, "hunk", prefix=review_prefix(old_id, new_id))


def render_hunk_comments(ws: Workspace, old_id: str, new_id: str, path: str, index: int, open_counts: dict[str, int],
                         who: str) -> None:
    """The threads on one hunk behind a switch that says how many are open (on at first when some are)."""
    subject = hunk_subject(old_id, new_id, path, index)
    count = open_counts.get(subject, 0)
    if st.toggle(threads_label(count, f"Comments on hunk {index + 1}"), value=bool(count), key=f"rev_hc:{subject}"):
        with st.container(key=f"rev_hthreads-{index}-{content_hash(subject, 10)}"):
            render_thread(ws, "hunk", subject, who=who, what="this hunk")


def render_proposal_comments(ws: Workspace, version_id: str, who: str) -> None:
    """The threads on the whole proposal."""
    count = open_threads(ws.db, "proposal", [version_id]).get(version_id, 0)
    with st.expander(threads_label(count, "Discussion of this proposal"), icon=":material/forum:",
                     expanded=bool(count), key=f"rev_pc:{version_id}"):
        render_thread(ws, "proposal", version_id, who=who, what="this proposal")
