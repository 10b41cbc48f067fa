"""The Trajectories screen's evaluation split: how many trajectories are on the evolve and held-out
sides, a random held-out share of the tasks matching the current filters, and moving the open
trajectory's task (all its runs) to either side. Held-out trajectories are never given to
extraction; the Review screen's A/B runs measure a skill on them."""

from __future__ import annotations

import streamlit as st

from trace2skill.splits import heldout_ids, random_split, set_split
from trace2skill.store import Workspace
from trace2skill.store import evaluation as eval_store
from trace2skill.store.evaluation import Split
from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories
from trace2skill.ui.reviewer import ui_reviewer

SIDE = {"evolve": "evolve (lessons may be learnt from it)", "heldout": "held out (kept back to evaluate skills)"}


def render_split(ws: Workspace, flt: TrajectoryFilter, matching: int) -> None:
    heldout = eval_store.split_counts(ws.db)["heldout"]
    evolve = count_trajectories(ws.db, TrajectoryFilter()) - heldout  # unmarked ones count as evolve
    with st.expander(f"Evaluation split · {heldout} held out, {evolve} evolve",
                     icon=":material/call_split:"):
        st.caption("A split is made by task: every run of a task lands on the same side. Unmarked trajectories "
                   "count as evolve. Held-out trajectories are never given to extraction.")
        c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
        share = c1.slider("Share of tasks to hold out", 0.05, 0.95, 0.2, 0.05, key="split_share")
        seed = c2.number_input("Seed", 0, 1_000_000, 0, key="split_seed")
        if c3.button(f"Split the {matching} matching trajectories", key="split_random", disabled=not matching,
                     icon=":material/shuffle:"):
            done = random_split(ws.db, float(share), seed=int(seed), flt=flt, actor=ui_reviewer())
            st.session_state["traj_flash"] = (
                f"Held out {done['heldout']} trajectories ({done['heldout_tasks']} tasks); "
                f"{done['evolve']} ({done['evolve_tasks']} tasks) are on the evolve side.")
            st.rerun()


def render_trajectory_split(ws: Workspace, trajectory_id: str) -> None:
    """The open trajectory's side, and buttons to move its task to the other one."""
    side = "heldout" if heldout_ids(ws.db, [trajectory_id]) else "evolve"
    row = st.container(horizontal=True, vertical_alignment="center")
    row.badge(SIDE[side], icon=":material/call_split:", color="violet" if side == "heldout" else "gray")
    other: Split = "evolve" if side == "heldout" else "heldout"
    label = "Hold out this task" if other == "heldout" else "Move this task to evolve"
    if row.button(label, key="split_move", icon=":material/swap_horiz:"):
        moved = set_split(ws.db, [trajectory_id], other, actor=ui_reviewer())
        st.session_state["traj_flash"] = f"Marked {moved} trajector{'y' if moved == 1 else 'ies'} of this task " \
                                         f"{'held out' if other == 'heldout' else 'evolve'}."
        st.rerun()
