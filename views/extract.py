"""Extract: choose trajectories (with filters, or those picked on the Trajectories screen) and
analysts, see which trajectories a run will process and the estimate, start a background extraction
run, and follow any run's progress live (state read from the database, so it survives a reload)."""

import streamlit as st

from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import ago, plural
from trace2skill.llm.pace import pace_words, run_pace
from trace2skill.runs.batch_mode import set_batch
from trace2skill.settings import get_settings, llm_config
from trace2skill.store.runs import list_runs
from trace2skill.store.sessions import session_counts
from trace2skill.store.skills import latest_version, list_skills
from trace2skill.store.trajectories import TrajectoryFilter, distinct_values
from trace2skill.ui.batch_view import batch_cost_caption, batch_input
from trace2skill.ui.costs_view import apply_budget, budget_inputs, check_new_budget
from trace2skill.ui.estimate import estimate_plan
from trace2skill.ui.extract_pick import PICKED_KEY, render_picked, render_run_list
from trace2skill.ui.first_run import first_run_size
from trace2skill.ui.flash import set_flash, show_flash
from trace2skill.ui.live_select import live_selectbox
from trace2skill.ui.run_progress import render_run_panel, run_controls
from trace2skill.ui.state import llm_client, run_client, workspace
from trace2skill.ui.verify_panel import run_summary, verify_panel
from trace2skill.ui.words import GLOSSARY

ANALYSTS = {"both": ["error", "success"], "error": ["error"], "success": ["success"]}
ws = workspace()
llm = llm_config(ws.db)

st.title("Extract lessons")
show_flash("ext_flash")

# ------------------------------------------------------------------ plan a run
recent = list_runs(ws.db, ("extraction", "verification", "collection"), 30, with_progress=False)
with st.expander("New extraction run", icon=":material/add_circle:",
                 expanded=not recent or bool(st.session_state.get(PICKED_KEY))):
    st.caption("One independent analyst per trajectory, all reading the same skill, unchanged during the run: the "
               "error analyst reads failures, the success analyst successes."
               + (" Sessions split into tasks are skipped: each of their tasks is analysed instead."
                  if session_counts(ws.db)[0] else ""))
    picked = render_picked(ws)  # trajectories sent from the Trajectories screen, else choose with filters
    if picked is None:
        c1, c2, c3 = st.columns([1, 1, 2])
        outcome = c1.segmented_control("Trajectories", ["failure", "success", "all"], default="failure",
                                       required=True, key="ext_outcome")
        signal = c2.selectbox("With signal", ["any", *distinct_values(ws.db, "signals", "kind")], key="ext_signal")
        search = c3.text_input("Text search (task, steps, tool output)", key="ext_search")
        c1, c2, c3, c4 = st.columns(4)
        limit = c1.number_input("Limit (0 = no limit)", min_value=0, value=first_run_size(llm), step=10,
                                key="ext_limit", help="The embedded model starts at 4: about 2 minutes on 2 cores."
                                if llm.is_local else None)
        sample = c2.number_input("Random sample size (0 = no sampling)", min_value=0, value=0, key="ext_sample")
        seed = c3.number_input("Seed", min_value=0, value=0, key="ext_seed")
        balance = c4.checkbox("Balance failures and successes", key="ext_balance",
                              help="With a sample over all outcomes: as many failures as successes.")
        ids = select_trajectories(ws, outcome=outcome or "failure", limit=limit or None, sample=sample or None,
                                  seed=int(seed), balance=balance,
                                  flt=TrajectoryFilter(signal=None if signal == "any" else signal,
                                                       search=search or None))
    else:
        outcome, ids = "all", picked
    c1, c2, c3, c4 = st.columns(4)
    analysts = c1.segmented_control("Analysts", list(ANALYSTS), default="both", required=True, key="ext_analysts")
    max_lessons = c2.number_input("Max lessons per trajectory", 1, 5, 3, key="ext_max_lessons")
    concurrency = c3.number_input("Concurrency", 1, 512, int(get_settings(ws.db).get("concurrency") or 8),
                                  key="ext_concurrency")
    skills = {s["name"]: s for s in list_skills(ws.db)}
    skill = c4.selectbox("Skill the analysts read", ["(none: new skill)", *skills], key="ext_skill",
                         index=1 if skills else 0, help=GLOSSARY["frozen"])

    version = latest_version(ws.db, skill) if skill in skills else None
    config = ExtractionConfig(
        outcome=outcome or "failure", analysts=ANALYSTS[analysts or "both"], max_lessons=int(max_lessons),
        concurrency=int(concurrency), model=llm.model, base_url=llm.base_url,
        skill_version=version.id if version else None,
        skill_text=version.files.get("SKILL.md") if version else None)
    st.text(f"Model: {llm.describe()} · change it on Home")
    render_run_list(ws, ids, config.analysts)
    plan = estimate_plan(ws, ids, config, llm)
    m = st.columns(4)
    m[0].metric("Trajectories", plan["trajectories"])
    m[1].metric("Analyst calls", plan["calls"])
    m[2].metric("Prompt tokens (est.)", f"{plan['prompt_tokens']:,}")
    m[3].metric("Cost (est.)", f"${plan['estimated_cost_usd']:.4f}" if plan["priced"] else "n/a")
    pace = run_pace(ws, llm, plan["calls"], int(concurrency))
    st.caption((f"Time: {pace_words(pace)}. " if pace else "")
               + f"At most {plan['max_completion_tokens']:,} completion tokens."
               + (f" Estimated from a sample of {plural(plan['sampled'], 'trajectory')}." if plan["sampled"] else "")
               + ("" if plan["priced"] else f" The price table on Home has no price for {llm.model}, so no cost "
                                            "is shown."))
    budget_tokens, budget_usd = budget_inputs("ext_new_budget")
    batch = batch_input(llm, "ext_run_batch")
    if batch is not None and plan["priced"]:
        batch_cost_caption(ws, plan["estimated_cost_usd"])
    if llm.is_local:
        st.warning("No endpoint is configured: the embedded SmolLM2-135M model will run. It is a tiny model for "
                   "trying the pipeline, not for real lessons.", icon=":material/warning:")
    if st.button("Start extraction", type="primary", key="ext_start", disabled=not plan["calls"],
                 icon=":material/play_arrow:"):
        try:
            check_new_budget(ws, llm, budget_usd)
            run_id = create_extraction_run(ws, ids, config)
            apply_budget(ws, run_id, budget_tokens, budget_usd)
            set_batch(ws, run_id, batch)
            runs.start_background(ws, run_id, llm_client())
        except Trace2SkillError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.session_state["ext_run"] = run_id
            set_flash("ext_flash", f"Extraction run {run_id} started over {plural(len(ids), 'trajectory')}.")
            st.session_state.pop(PICKED_KEY, None)  # the picked ones are on their way; the form starts afresh
            st.rerun()

# ------------------------------------------------------------------ follow a run
st.subheader("Runs")
if not recent:
    st.caption("No extraction runs yet.")
    st.stop()
labels = {r.id: f"{r.id} · {r.kind} · {r.status} · created {ago(r.created)}" for r in recent}
if st.session_state.get("ext_run") not in labels:
    st.session_state["ext_run"] = recent[0].id
run_id = live_selectbox("Run", labels, key="ext_run")

run_controls(ws, run_id, lambda: run_client(run_id), key="ext")
render_run_panel(ws, run_id, key="ext", extra=lambda state: run_summary(ws, state.run),
                 shown_status=next(r.status for r in recent if r.id == run_id))
verify_panel(ws, run_id, llm)
st.page_link("views/lessons.py", label="Review the lessons", icon=":material/checklist:")
