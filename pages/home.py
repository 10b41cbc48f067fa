"""Home: what the workspace holds, and the demo data for a first run."""

import pandas as pd
import streamlit as st

from trace2skill.demo import load_demo
from trace2skill.store.stats import workspace_stats
from trace2skill.ui.state import workspace

ws = workspace()
stats = workspace_stats(ws.db)

st.title("Trace2Skill")
st.write("Turn agent trajectories — successes and failures — into a reviewed Agent Skill.")

cols = st.columns(5)
cols[0].metric("Trajectories", stats["trajectories"])
cols[1].metric("Successes", stats["outcomes"]["success"])
cols[2].metric("Failures", stats["outcomes"]["failure"])
cols[3].metric("Unknown outcome", stats["outcomes"]["unknown"])
cols[4].metric("Lessons", sum(stats["lessons"].values()))

if stats["trajectories"] == 0:
    st.info("The workspace is empty. Load the bundled demo: 200 real τ-bench airline runs (GPT-4o).")
    if st.button("Load demo data", type="primary", key="home_load_demo"):
        with st.spinner("Importing demo trajectories…"):
            report = load_demo(ws)
        st.session_state["home_demo_report"] = f"Imported {report.imported} trajectories."
        st.rerun()
if "home_demo_report" in st.session_state:
    st.success(st.session_state.pop("home_demo_report"))

left, right = st.columns(2)
with left:
    st.subheader("Formats")
    st.dataframe(pd.DataFrame(list(stats["formats"].items()), columns=["format", "trajectories"]),
                 hide_index=True, width="stretch")
with right:
    st.subheader("Signals")
    st.dataframe(pd.DataFrame(list(stats["signals"].items()), columns=["signal", "trajectories"]),
                 hide_index=True, width="stretch")
