"""Near-duplicate groups on the Lessons screen, each settled at once: keep one lesson (approved,
the others rejected as its duplicates) or reject the whole group. Decisions are recorded as the
reviewer's."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.models import Lesson
from trace2skill.review import keep_one, reject_group, representative
from trace2skill.store import Workspace
from trace2skill.ui.lesson_view import duplicate_groups
from trace2skill.ui.reviewer import ui_reviewer


def render_duplicate_groups(ws: Workspace, rows: list[Lesson], threshold: float) -> None:
    groups = duplicate_groups(tuple(f"{r.title}\n{r.content}" for r in rows), threshold)
    if not groups:
        st.caption("No near-duplicates on this page.")
    for n, group in enumerate(groups, start=1):
        members = [rows[i] for i in group]
        with st.container(border=True):
            st.caption(f"Group {n}: {len(group)} similar lessons")
            st.dataframe(pd.DataFrame([{"status": m.status, "title": m.title, "guidance": m.content, "id": m.id}
                                       for m in members]),
                         hide_index=True, width="stretch", key=f"les_dup_{n}")
            _group_actions(ws, members)


def _group_actions(ws: Workspace, members: list[Lesson]) -> None:
    ids = [m.id for m in members]
    tag = ids[0]
    names = {m.id: f"{m.title[:70]} · {m.id[:10]}" for m in members}  # no status: a changed label resets it
    pick, keep_col, reject_col = st.columns([3, 1.4, 1], vertical_alignment="bottom")
    keep = pick.selectbox("Keep", ids, index=ids.index(representative(members)), format_func=lambda i: names[i],
                          key=f"les_keep_{tag}",
                          help="The lesson approved when you keep one; the others are rejected as its duplicates.")
    keep = keep or ids[0]
    if keep_col.button("Approve this group, keep one", key=f"les_keep_go_{tag}", icon=":material/done_all:",
                       width="stretch", help="Approve the lesson chosen under Keep and reject the others."):
        try:
            done = keep_one(ws.db, ids, keep, actor=ui_reviewer())
        except Trace2SkillError as exc:
            st.error(f"Not done: {exc}.", icon=":material/block:")
            return
        st.session_state["les_flash"] = (f"Kept one lesson ({'approved' if done.approved else 'already approved'});"
                                         f" rejected {plural(done.rejected, 'near-duplicate')}.")
        st.rerun()
    if reject_col.button("Reject this group", key=f"les_reject_group_{tag}", icon=":material/remove_done:",
                         width="stretch", help="Reject every lesson of this group."):
        rejected = reject_group(ws.db, ids, actor=ui_reviewer())
        st.session_state["les_flash"] = f"Rejected {plural(rejected, 'lesson')} of the group."
        st.rerun()
