"""Consolidate: choose the base skill (or a new one) and the batch settings, start a background
consolidation of the approved lessons, watch the merge tree fill in live (read from the database,
so a reload shows the same), open any merge node, re-run a subtree, then review the proposal (with
the edit budget it was applied under and the edits that went over it)."""

import pandas as pd
import streamlit as st

from trace2skill import runs
from trace2skill.consolidate.heldout import left_out_note
from trace2skill.consolidate.rerun import create_rerun
from trace2skill.consolidate.run import (
    ConsolidationConfig,
    ConsolidationResult,
    create_consolidation_run,
    diagnoses_note,
)
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import ago
from trace2skill.runs.batch_mode import set_batch
from trace2skill.runs.state import RunState
from trace2skill.settings import get_settings, llm_config
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import approved_counts
from trace2skill.store.skills import list_proposals, list_skills, list_versions
from trace2skill.ui.batch_view import batch_cost_caption, batch_input
from trace2skill.ui.consolidate_estimate import render_estimate
from trace2skill.ui.costs_view import apply_budget, budget_inputs, check_new_budget
from trace2skill.ui.flash import set_flash, show_flash
from trace2skill.ui.live_select import live_selectbox
from trace2skill.ui.merge_node_view import leaf_detail, node_detail
from trace2skill.ui.merge_tree_panel import opened, render_conflict_summary, render_leaf, render_node, render_tree
from trace2skill.ui.merge_tree_view import TreeView, tree_view
from trace2skill.ui.pickers import consolidation_runs, version_labels
from trace2skill.ui.proposal_checks import edit_budget_inputs, render_edit_budget
from trace2skill.ui.run_progress import render_run_panel, run_controls, state_of
from trace2skill.ui.state import llm_client, run_client, workspace
from trace2skill.ui.words import GLOSSARY, plural

ws = workspace()
llm = llm_config(ws.db)

st.title("Consolidate")
show_flash("con_flash")

# ------------------------------------------------------------------ plan a run
con_runs = consolidation_runs(ws.db)
with st.expander("New consolidation run", icon=":material/add_circle:", expanded=not con_runs):
    st.caption("Each trajectory's approved lessons become one proposal of edits (all in parallel); the proposals are "
               "merged a few at a time, level by level, down to one list of edits, which code applies to the skill "
               "you chose (it does not change while the run works).")
    skills = [s["name"] for s in list_skills(ws.db)]
    mode = st.segmented_control("Skill", ["Deepen a skill", "New skill"], required=True, key="con_mode",
                                default="Deepen a skill" if skills else "New skill")
    base_version = new_name = None
    description = ""
    if mode == "Deepen a skill":
        if not skills:
            st.info("No skills yet: import one on the Skills page, or create a new skill.", icon=":material/info:")
        else:
            c1, c2 = st.columns(2)
            skill = c1.selectbox("Base skill", skills, key="con_skill")
            versions = list_versions(ws.db, skill)
            labels = version_labels(versions, latest=versions[0].id if versions else None)
            base_version = c2.selectbox("Version (latest first)", list(labels), format_func=labels.get,
                                        key="con_version")
    else:
        c1, c2 = st.columns([1, 2])
        new_name = c1.text_input("Name (lowercase, hyphens)", key="con_new_name", placeholder="airline-lessons")
        description = c2.text_area("Description: what the skill does and when to use it", key="con_new_description",
                                   height=80)
    lessons, trajectories = approved_counts(ws.db)
    st.metric("Approved lessons to use", lessons,
              help="Every approved lesson goes in; review them on the Lessons page.")
    st.caption(f"{plural(lessons, 'approved lesson')} from {plural(trajectories, 'trajectory')}: "
               f"{plural(trajectories, 'proposal')} of edits, one per trajectory.", help=GLOSSARY["proposal"])
    c1, c2, c3, c4 = st.columns(4)
    batch_size = c1.number_input("Proposals per merge", min_value=2, max_value=64, value=8, key="con_batch",
                                 help=GLOSSARY["batch"])
    min_support = c2.number_input("Min support (trajectories)", min_value=0, value=0, key="con_min_support")
    concurrency = c3.number_input("Concurrency", min_value=1, max_value=512,
                                  value=int(get_settings(ws.db).get("concurrency") or 8), key="con_concurrency")
    embeddings = c4.checkbox("Batch similar patches together", value=True, key="con_embeddings",
                             help="MiniLM embeddings group similar patches so duplicates meet early.")
    move_low = st.checkbox("Move low-support edits to references/ instead of dropping them", key="con_move_low",
                           disabled=not min_support)
    verified_only = st.checkbox("Only lessons verified by replay", key="con_verified_only",
                                help="Leave out approved lessons whose replay did not fix their failure (or keep "
                                     "their success), and those never verified.")
    include_heldout = st.checkbox("Also use lessons from held-out data (recorded)", key="con_include_heldout",
                                  help="Lessons from held-out trajectories, or quoting a held-out task, are left out: "
                                       "held-out data measures the skill and must not shape it. Ticking this uses "
                                       "them anyway and records your choice on the run.")
    max_added, max_share, over_budget = edit_budget_inputs("con_edit_budget")
    st.text(f"Model: {llm.describe()} · change it on Home")
    ready = lessons > 0 and (base_version or (new_name and description.strip()))
    config = ConsolidationConfig(base_version=base_version, new_skill=(new_name or "").strip() or None,
                                 description=description.strip(), batch_size=int(batch_size),
                                 min_support=int(min_support), move_low_support=bool(move_low and min_support),
                                 concurrency=int(concurrency), embeddings=embeddings, base_url=llm.base_url,
                                 model=llm.model, verified_only=verified_only, max_added_lines=max_added,
                                 max_changed_share=max_share, over_budget=over_budget,
                                 include_heldout=include_heldout)
    cost = render_estimate(ws, llm, config) if ready else None
    budget_tokens, budget_usd = budget_inputs("con_new_budget")
    batch = batch_input(llm, "con_run_batch")
    if batch is not None and cost is not None:
        batch_cost_caption(ws, cost)
    if llm.is_local:
        st.warning("No endpoint is configured: the embedded SmolLM2-135M model will run. It is a tiny model for "
                   "trying the pipeline, not for real skills.", icon=":material/warning:")
    if st.button("Start consolidation", type="primary", key="con_start", disabled=not ready,
                 icon=":material/play_arrow:"):
        try:
            check_new_budget(ws, llm, budget_usd)
            run_id = create_consolidation_run(ws, config)
            apply_budget(ws, run_id, budget_tokens, budget_usd)
            set_batch(ws, run_id, batch)
            runs.start_background(ws, run_id, llm_client())
        except Trace2SkillError as exc:
            st.error("The consolidation could not start", icon=":material/error:")
            st.code(str(exc), language=None, wrap_lines=True)
        else:
            st.session_state["con_run"] = run_id
            note = left_out_note(run_store.get_run(ws.db, run_id).config.get("heldout_left_out") or {})
            set_flash("con_flash", f"Consolidation run {run_id} started." + (f" {note}." if note else ""))
            st.rerun()

# ------------------------------------------------------------------ follow a run
st.subheader("Runs")
if not con_runs:
    st.caption("No consolidation runs yet.")
    st.stop()
run_labels = {r["id"]: f"{r['id']} · {('new skill ' + r['new_skill']) if r['new_skill'] else 'deepen'} · "
                       f"{plural(r['lessons'], 'lesson')} · {r['status']} · created {ago(r['created'])}"
              for r in con_runs}
if st.session_state.get("con_run") not in run_labels:
    st.session_state["con_run"] = con_runs[0]["id"]
run_id = live_selectbox("Run", run_labels, key="con_run")


views_now: dict[str, TreeView] = {}  # the tree read in this run of the page (read once: 100,000s of leaves)


def tree_panel(state: RunState) -> None:
    """The merge tree, live: inside the run panel's fragment, so it refreshes with it."""
    view = views_now[state.run.id] = tree_view(ws.db, state.run.id)
    counts = view.counts()
    merged = counts["done"] + counts["fallback"]
    if view.nodes:
        st.progress(merged / len(view.nodes), text=f"Merge tree: {merged} of {len(view.nodes)} merges done")
    m = st.columns(4)
    m[0].metric("Merges running", counts["running"])
    m[1].metric("Merges done", merged)
    m[2].metric("Fallbacks", counts["fallback"], help="Merges whose answer stayed invalid: inputs passed up.")
    m[3].metric("Merges cancelled", counts["cancelled"])
    if view.nodes or view.leaf_count:
        render_tree(view, opened(view))
    c = state.run.counters
    if state.run.status == "done" and c:
        r = st.columns(5)
        r[0].metric("Levels", c.get("levels", 0))
        r[1].metric("Merge calls", c.get("merge_calls", 0))
        r[2].metric("Edits applied", c.get("applied", 0))
        r[3].metric("Rejected", len(c.get("rejected", [])))
        render_conflict_summary(ws.db, state.run.id, c, r[4])


run_controls(ws, run_id, lambda: run_client(run_id), key="con")
render_run_panel(ws, run_id, key="con", extra=tree_panel, show_items=False,
                 shown_status=next(r["status"] for r in con_runs if r["id"] == run_id))
state = state_of(ws, run_id)
active, status, run_now = state.alive, state.run.status, state.run


def rerun_status(was_alive: bool) -> None:
    """The latest re-run of this run's merge tree, live while it goes."""
    latest = next(iter(run_store.list_runs(ws.db, "rerun", limit=1, parent=run_id)), None)
    if latest is None:
        return
    rr = state_of(ws, latest.id)
    where = f"Level {latest.config['level']} · #{latest.config['idx']}"
    if rr.run.is_active:
        st.info(f"Re-run {latest.id} of {where}: {rr.headline}, step {latest.counters.get('step', 0)} of "
                f"{latest.counters.get('steps', '?')}.", icon=":material/refresh:")
        run_controls(ws, latest.id, lambda: run_client(latest.id), key="con_rr")
    elif latest.status in ("failed", "cancelled", "stopped"):
        st.warning(f"The latest re-run ({latest.id}, {where}) ended {latest.status}"
                   + (f": {latest.error}" if latest.error else "") + ". The proposals below are unchanged.",
                   icon=":material/warning:")
        run_controls(ws, latest.id, lambda: run_client(latest.id), key="con_rr")
    if was_alive and not rr.alive:
        st.rerun(scope="app")


latest_rerun = next(iter(run_store.list_runs(ws.db, "rerun", limit=1, parent=run_id)), None)
rerun_alive = latest_rerun is not None and state_of(ws, latest_rerun.id).alive
st.fragment(run_every=1.0 if rerun_alive else None)(rerun_status)(rerun_alive)
buttons = st.container(horizontal=True)
proposals_of_run = list_proposals(ws.db, run_id=run_id)
if proposals_of_run and not active:
    if buttons.button("Review the proposal", type="primary", key="con_review", icon=":material/difference:"):
        st.session_state["rev_goto"] = proposals_of_run[0].id
        st.switch_page("views/review.py")
    st.caption(f"Proposal version {proposals_of_run[0].id}"
               + (f" ({len(proposals_of_run)} proposals from this run, newest first)" if len(proposals_of_run) > 1
                  else ""))
rejected = run_now.counters.get("rejected") or []
if status == "done" and not proposals_of_run:
    why = diagnoses_note(ConsolidationResult.from_counters(run_id, run_now.counters)) \
        if "version" in run_now.counters else ""
    st.warning(f"No proposal: none of the final edits could be applied to the skill ({len(rejected)} rejected). "
               + (why or "The reasons are below; edit the lessons or re-run a merge node."), icon=":material/warning:")
if rejected:
    with st.expander(f"Rejected edits ({len(rejected)})", expanded=not proposals_of_run):
        st.dataframe(pd.DataFrame(rejected, columns=["edit_id", "reason"]), hide_index=True, width="stretch",
                     key="con_rejected")
render_edit_budget(run_now.counters, key="con_over_budget")

# ------------------------------------------------------------------ the opened node or leaf
st.subheader("Opened from the tree")
view_now = views_now.get(run_id) or tree_view(ws.db, run_id)
picked = opened(view_now)
if picked is None:
    st.caption("The merge tree starts once every trajectory's proposal is in.")
    st.stop()
if isinstance(picked, str):
    leaf = leaf_detail(ws.db, run_id, picked)
    if leaf is not None:
        render_leaf(leaf)
    st.stop()
detail = node_detail(ws.db, run_id, *picked)
if detail is None:
    st.stop()
render_node(detail, is_root=view_now.root is not None and view_now.root.key == picked)
st.caption("Re-run merges this node again (a fresh answer, not the cached one), then every node above it, and saves "
           "a new proposal version; the earlier proposal stays as it was.")
if st.button("Re-run this subtree", key="con_rerun", icon=":material/refresh:",
             disabled=active or status != "done" or rerun_alive):
    level, idx = picked
    try:
        rerun_id = create_rerun(ws, run_id, level, idx, base_url=llm.base_url, model=llm.model)
        runs.start_background(ws, rerun_id, llm_client())
    except Trace2SkillError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.session_state["con_flash"] = f"Re-running Level {level} · #{idx} of run {run_id} and its ancestors."
        st.rerun()
