"""The Consolidate screen's merge tree drawn as buttons, one per node and leaf, in rows from the root
down (each node above what it merges): clicking one opens it below the tree. Also the run's
conflicts summary and the opened node or leaf. Data from merge_tree_view / merge_node_view."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlite_utils import Database

from trace2skill.consolidate.conflicts import run_conflicts
from trace2skill.humanize import plural
from trace2skill.ui.escape import safe_label
from trace2skill.ui.merge_node_view import (
    ACCOUNT_COLUMNS,
    EDIT_COLUMNS,
    LeafDetail,
    NodeDetail,
    Support,
    apply_conflict_views,
)
from trace2skill.ui.merge_tree_view import LEAF_LIMIT, STATUS_WORDS, Cell, TreeView, tree_rows

OPEN_KEY = "con_open"  # session state: the opened box, (level, idx) for a node or a trajectory id for a leaf
ICONS = {"queued": ":material/schedule:", "running": ":material/progress_activity:", "done": ":material/check_circle:",
         "failed": ":material/error:", "fallback": ":material/warning:", "cancelled": ":material/block:"}
COLUMNS_UP_TO = 8  # a row with more boxes wraps instead of being aligned in columns
TABLE_CONFIG = {"content": st.column_config.TextColumn("content", width="medium"),
                "support": st.column_config.NumberColumn("support", help="Distinct trajectories behind the edit"),
                "verified": st.column_config.NumberColumn("verified", help="Lessons behind it verified by replay"),
                "what happened": st.column_config.TextColumn("what happened", width="large"),
                "outcome": st.column_config.TextColumn("outcome", width="large")}


def opened(view: TreeView) -> tuple[int, int] | str | None:
    """The box to show opened: the one clicked last, while it is in this tree; else the root."""
    chosen = st.session_state.get(OPEN_KEY)
    if chosen in {n.key for n in view.nodes} or chosen in {leaf.trajectory_id for leaf in view.leaves}:
        return chosen
    root = view.root
    return root.key if root else None


def _button_key(cell: Cell) -> str:
    return f"con_tree_{cell.key[0]}_{cell.key[1]}" if isinstance(cell.key, tuple) else f"con_leaf_{cell.key}"


def _label(cell: Cell) -> str:
    if isinstance(cell.key, tuple):
        return cell.label
    task, _, edits = cell.label.rpartition(" · ")
    return f"{safe_label(task, 70)} · {edits}"  # a task is data: plain characters only


def render_tree(view: TreeView, selected: tuple[int, int] | str | None) -> None:
    """The clickable tree; a click opens the box below the tree (the whole page reruns)."""
    rows = tree_rows(view)
    for row in rows:
        if len(row) <= COLUMNS_UP_TO:
            holders = [col.container(horizontal=True, horizontal_alignment="center")
                       for col in st.columns([c.width for c in row], gap="small")]
        else:
            wrap = st.container(horizontal=True, horizontal_alignment="center")
            holders = [wrap] * len(row)
        for holder, cell in zip(holders, row):
            leaf = not isinstance(cell.key, tuple)
            if holder.button(_label(cell), key=_button_key(cell), icon=ICONS.get(cell.status), wrap=True,
                             width="stretch" if leaf else "content",
                             type="primary" if cell.key == selected else "secondary",
                             help=f"{'Merge' if isinstance(cell.key, tuple) else 'Proposal'}: "
                                  f"{STATUS_WORDS.get(cell.status, cell.status)}. Click to open it below."):
                st.session_state[OPEN_KEY] = cell.key
                st.rerun(scope="app")
    if view.leaf_count > LEAF_LIMIT:
        st.caption(f"{plural(view.leaf_count, 'trajectory')}, one proposal each (too many to draw: open a "
                   "level-1 merge to see its proposals).")
    legend = st.container(horizontal=True, vertical_alignment="center")
    for status, words in STATUS_WORDS.items():
        legend.caption(f"{ICONS[status]} {words.split(':')[0]}")
    st.caption("Bottom row: one proposal of edits per trajectory, named by its task. Above: the merges, level by "
               "level (edits in → edits out); the top one is the root. Click any box to open it.")


def render_conflict_summary(db: Database, run_id: str, counters: dict[str, Any], column: Any) -> None:
    """The run's "Conflicts" count (every conflict, as the nodes count theirs) and, when there are
    any, where each is."""
    conflicts = run_conflicts(db, run_id, counters.get("conflicts") or [])
    merged = sum(1 for c in conflicts if c.where == "merge")
    column.metric("Conflicts", len(conflicts),
                  help=f"{merged} settled in merges (the nodes marked with conflicts), {len(conflicts) - merged} "
                       "withheld when applying the final patch (edits that change the same lines).")
    if not conflicts:
        return
    rows = [{"where": f"Level {c.level} · #{c.idx}" if c.node else "applying the final patch",
             "edits": ", ".join(c.labels) or plural(len(c.edit_ids), 'edit'), "what was said": c.reason}
            for c in conflicts]
    with st.expander(f"Conflicts of this run ({len(conflicts)}): open a node to see how each was settled"):
        st.dataframe(pd.DataFrame(rows, columns=["where", "edits", "what was said"]), hide_index=True,
                     width="stretch", key="con_conflicts_all")
        applied = apply_conflict_views(db, run_id, counters.get("conflicts") or [], Support.of_run(db, run_id),
                                       start=merged + 1)
        for view in applied:
            st.text(f"Conflict {view.number} (applying the final patch): {view.resolution}")
            _involved(view.rows)


def _involved(rows: list[dict[str, Any]]) -> None:
    """The edits of a conflict, each with its support, what became of it and its whole text."""
    for row in rows:
        with st.container(border=True, gap=None):
            st.text(f"{row['edit']} · supported by {row['support']} run{'s' if row['support'] != 1 else ''} · "
                       f"{row['outcome']}")
            st.text(row["content"] or "(no text)")


def render_node(detail: NodeDetail, *, is_root: bool) -> None:
    status = STATUS_WORDS.get(detail.status, detail.status)
    st.markdown(f"#### Level {detail.level} · #{detail.idx}{' (root)' if is_root else ''} — {status}")
    for line in detail.inputs:
        st.text(line)
    acc = detail.accounting
    st.markdown("**What happened to each input edit**")
    st.text(acc.sentence())
    if acc.unaccounted:
        labels = ", ".join(r.label for r in acc.unaccounted)
        st.error(f"{len(acc.unaccounted)} input edit(s) unaccounted for ({labels}): not used in an output edit, "
                 "not dropped with a reason, not named in a conflict. This merge lost them; re-run this node.",
                 icon=":material/report:")
    elif acc.settled and acc.rows:
        st.caption(":material/check_circle: Every input edit is accounted for.")
    if acc.rows:
        st.dataframe(pd.DataFrame(detail.accounting_rows(), columns=ACCOUNT_COLUMNS), hide_index=True,
                     width="stretch", column_config=TABLE_CONFIG, key="con_accounting")
    st.markdown(f"**Conflicts at this merge ({len(detail.conflicts)})**")
    if not detail.conflicts:
        st.caption("The merger reported no contradiction between these edits.")
    for view in detail.conflicts:
        with st.container(border=True):
            st.text(f"Conflict {view.number}. The merger said: {view.said}")
            _involved(view.rows)
            st.text(f"How it was settled: {view.resolution}")
    st.markdown(f"**Output edits ({len(detail.output)})**")
    if detail.output:
        st.dataframe(pd.DataFrame(detail.output, columns=EDIT_COLUMNS), hide_index=True, width="stretch",
                     column_config=TABLE_CONFIG, key="con_out_table")
    st.caption("Rationale (from the merge operator)")
    st.text(detail.rationale or "(none)")
    if detail.error:
        st.caption("Error")
        st.code(detail.error, language=None, wrap_lines=True)


def render_leaf(detail: LeafDetail) -> None:
    st.markdown(f"#### Proposal from one trajectory — {STATUS_WORDS.get(detail.status, detail.status)}")
    st.caption("Task")
    st.text(detail.task[:600] + ("…" if len(detail.task) > 600 else ""))
    st.caption(f"Trajectory {detail.trajectory_id}")
    if detail.edits:
        st.dataframe(pd.DataFrame(detail.edits, columns=EDIT_COLUMNS[:-1]), hide_index=True, width="stretch",
                     column_config=TABLE_CONFIG, key="con_leaf_table")
    else:
        st.caption("No edits (yet): the proposer has not finished, or proposed nothing.")
