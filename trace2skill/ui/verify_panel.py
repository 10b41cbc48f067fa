"""The Extract screen's verification: start a replay verification of an extraction run's lessons,
and what a run has produced so far (lessons, verdicts, collected trajectories)."""

from __future__ import annotations

import streamlit as st

from trace2skill import runs
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm import LLMConfig
from trace2skill.models import Run
from trace2skill.store import Workspace
from trace2skill.store.lessons import LessonFilter, count_lessons
from trace2skill.store.runs import get_run
from trace2skill.store.verifications import verdict_counts
from trace2skill.ui.state import llm_client
from trace2skill.verify.run import VerifyConfig, verify_extraction
from trace2skill.verify.verdicts import WORDS


def run_summary(ws: Workspace, run: Run) -> None:
    """One line on what the run produced so far."""
    if run.kind == "verification":
        counts = verdict_counts(ws.db, run.id)
        words = "; ".join(f"{n} {WORDS[v]}" for v, n in sorted(counts.items())) or "no verdict yet"
        revised = count_lessons(ws.db, LessonFilter(run_id=run.id))
        st.caption(f"Verdicts: {words}"
                   + (f" · {plural(revised, 'lesson')} revised by the fix loop" if revised else ""))
    elif run.kind == "collection":
        st.caption(f"{run.progress.done} attempts kept as trajectories")
    else:
        st.caption(f"{plural(count_lessons(ws.db, LessonFilter(run_id=run.id)), 'lesson')} so far")


def verify_panel(ws: Workspace, run_id: str, llm: LLMConfig) -> None:
    """'Verify lessons' for a finished extraction run."""
    run = get_run(ws.db, run_id)
    if run.kind != "extraction" or run.status != "done":
        return
    with st.expander("Verify these lessons by replay", icon=":material/replay:"):
        st.caption("Each lesson's task is run again with the lesson added to the skill (and without it, for "
                   "comparison): a lesson from a failure is verified when it fixes the failure, one from a success "
                   "when the task still succeeds. When no lesson fixes a failure, the analyst sees the replays "
                   "and revises its lessons. Tasks need a gold answer (or an evaluator command) to be replayed.")
        c1, c2, c3 = st.columns([1, 1, 2])
        repeats = c1.number_input("Replays per lesson", 1, 10, 2, key="ext_verify_repeats")
        rounds = c2.number_input("Fix-loop rounds", 0, 5, 1, key="ext_verify_rounds")
        command = c3.text_input("Evaluator command (empty: score answers against the gold answer)",
                                key="ext_verify_command")
        if st.button("Verify lessons", key="ext_verify", icon=":material/replay:"):
            config = VerifyConfig(evaluator="command" if command.strip() else "qa", command=command.strip() or None,
                                  repeats=int(repeats), rounds=int(rounds), base_url=llm.base_url, model=llm.model)
            try:
                new_run = verify_extraction(ws, run.id, config)
                runs.start_background(ws, new_run, llm_client())
            except Trace2SkillError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.session_state["ext_run"] = new_run
            st.session_state["ext_flash"] = f"Verification run {new_run} started."
            st.rerun()
