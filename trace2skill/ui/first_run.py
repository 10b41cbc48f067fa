"""Home's first-run path: once trajectories are in and nothing has run yet, one button starts a
small extraction sized to finish quickly on this machine, saying how long it will take."""

from __future__ import annotations

import streamlit as st

from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.pace import pace_words, run_pace
from trace2skill.store import Workspace
from trace2skill.store.skills import latest_version, list_skills
from trace2skill.ui.flash import set_flash
from trace2skill.ui.state import llm_client

LOCAL_FIRST_RUN = 4  # failures: the embedded model extracts them in about 2 minutes on 2 cores
ENDPOINT_FIRST_RUN = 20


def first_run_size(llm: LLMConfig) -> int:
    return LOCAL_FIRST_RUN if llm.is_local else ENDPOINT_FIRST_RUN


def first_run(ws: Workspace, llm: LLMConfig) -> None:
    ids = select_trajectories(ws, outcome="failure", limit=first_run_size(llm))
    if not ids:
        return
    skills = list_skills(ws.db)
    version = latest_version(ws.db, skills[0]["name"]) if skills else None
    pace = run_pace(ws, llm, len(ids), 8)
    when = f": {pace_words(pace)}" if pace else ""
    reading = f" with the {version.skill} skill as what the analysts read" if version else ""
    st.info(f"**Your first run.** Extract lessons from {plural(len(ids), 'failed run')}{reading}{when}. Then review "
            "the lessons on the Lessons screen and consolidate them into a skill."
            + (" The embedded model is a tiny one for trying the pipeline: set an endpoint below for real lessons."
               if llm.is_local else ""), icon=":material/rocket_launch:")
    if not st.button(f"Extract from {plural(len(ids), 'failure')}", type="primary", key="home_first_run",
                     icon=":material/play_arrow:"):
        return
    config = ExtractionConfig(outcome="failure", model=llm.model, base_url=llm.base_url,
                              skill_version=version.id if version else None,
                              skill_text=version.files.get("SKILL.md") if version else None)
    try:
        run_id = create_extraction_run(ws, ids, config)
        runs.start_background(ws, run_id, llm_client())
    except Trace2SkillError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state["ext_run"] = run_id
    set_flash("ext_flash", f"Extraction run {run_id} started over {plural(len(ids), 'trajectory')}.")
    st.switch_page("views/extract.py")
