"""The Review screen's held-out evaluation: the latest A/B result of the version under review against
its base (pass rates, mean ± std over repeats, flipped tasks with pass→fail first), a form to start
one on a stored task set, and the save gate."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trace2skill import runs
from trace2skill.errors import Trace2SkillError
from trace2skill.evaluate import ABResult, EvalConfig, gate, latest_ab_result, start_ab_run
from trace2skill.runs.state import format_duration
from trace2skill.settings import llm_config
from trace2skill.store import Workspace
from trace2skill.store import evaluation as eval_store
from trace2skill.ui.run_progress import run_controls, state_of
from trace2skill.ui.state import llm_client, run_client

POLL_S = 1.0
PROMPT_CHARS = 160
CLI_HINT = ("Create a held-out task set first, from a dataset file (`trace2skill evaluate --tasks FILE --mapping "
            "wtq …` stores it) or from held-out trajectories (`trace2skill split random --heldout 0.2`).")


def _flips_frame(result: ABResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "flip": f.direction, "task": f.prompt[:PROMPT_CHARS], "baseline": f"{f.baseline_rate:.0%}",
        "candidate": f"{f.candidate_rate:.0%}", "expected": " | ".join(f.answers),
        "candidate answers": " | ".join(f.candidate_answers), "baseline answers": " | ".join(f.baseline_answers),
    } for f in result.flips], columns=["flip", "task", "baseline", "candidate", "expected", "candidate answers",
                                       "baseline answers"])


def _arm(result: ABResult, which: str) -> str:
    arm = getattr(result, which)
    return f"{arm.mean:.1%} ± {arm.std:.1%}"


def _result_body(ws: Workspace, candidate: str, base: str | None, was_active: bool) -> None:
    result = latest_ab_result(ws.db, candidate, baseline=base)
    if result is None:
        st.caption("No held-out A/B result for this version against its base yet.")
        return
    state = state_of(ws, result.run_id)
    active = state.alive
    if not result.complete:
        p = state.run.progress
        st.progress(p.fraction_done, text=f"A/B run {result.run_id}: {state.headline} — {p.done} of {p.total} "
                                          f"evaluation tasks done"
                                          + (f" · ETA {format_duration(state.eta_s)}" if state.eta_s else ""))
        run_controls(ws, result.run_id, lambda: run_client(result.run_id), key="rev_eval")
    for why in result.refused:
        st.warning(f"Not scored: {why}", icon=":material/content_cut:")
    m = st.columns(4)
    m[0].metric(f"Candidate ({result.candidate.label})", _arm(result, "candidate"))
    m[1].metric(f"Baseline ({result.baseline.label})", _arm(result, "baseline"))
    m[2].metric("Change", f"{result.delta:+.1%}", delta=f"{result.delta:+.1%}" if result.complete else None)
    m[3].metric("Regressions (pass→fail)", len(result.regressions))
    st.caption(f"Run {result.run_id} · {result.tasks} held-out tasks × {result.repeats} repeat(s) · "
               f"created {result.created}" + ("" if result.complete else " · not complete: the gate ignores it"))
    if result.flips:
        st.dataframe(_flips_frame(result), hide_index=True, width="stretch", key="rev_eval_flips")
    elif result.complete:
        st.caption("No task flipped.")
    if was_active and not active:
        st.rerun(scope="app")


def render_evaluation(ws: Workspace, candidate: str, base: str | None) -> None:
    """The result panel (polling while its run is going) and the form to start a new A/B run."""
    latest = latest_ab_result(ws.db, candidate, baseline=base)
    active = latest is not None and state_of(ws, latest.run_id).alive
    with st.expander("Held-out evaluation (A/B)", icon=":material/science:", expanded=latest is not None):
        st.fragment(run_every=POLL_S if active else None)(_result_body)(ws, candidate, base, active)
        sets = eval_store.list_sets(ws.db)
        if not sets:
            st.caption(CLI_HINT)
            return
        labels = {s["name"]: f"{s['name']} ({s['tasks']} tasks)" for s in sets}
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
        name = c1.selectbox("Held-out task set", list(labels), format_func=lambda n: labels[n], key="rev_eval_set")
        repeats = c2.number_input("Repeats", 1, 10, 1, key="rev_eval_repeats")
        if c3.button("Run A/B", key="rev_eval_start", disabled=active or name is None, icon=":material/play_arrow:",
                     help="This version against its base on the same held-out tasks (built-in QA evaluator)."):
            llm = llm_config(ws.db)
            config = EvalConfig(repeats=int(repeats), base_url=llm.base_url, model=llm.model, task_set=name)
            try:
                run_id = start_ab_run(ws, candidate, base, eval_store.set_task_ids(ws.db, name or ""), config)
                runs.start_background(ws, run_id, llm_client())
            except Trace2SkillError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                st.session_state["rev_flash_info"] = f"A/B run {run_id} started."
                st.rerun()


def save_refused(ws: Workspace, candidate: str, base: str | None) -> str | None:
    """With the gate on: why saving is refused (the held-out score regressed), else None."""
    if not st.session_state.get("rev_gate"):
        return None
    decision = gate(ws.db, candidate, base)
    return None if decision.allowed else decision.reason
