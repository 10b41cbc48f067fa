"""Trace2Skill curation app: the frame (navigation + sidebar). Screens live in pages/."""

import streamlit as st

from trace2skill.ui.state import workspace

st.set_page_config(page_title="Trace2Skill", page_icon=":material/explore:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/trajectories.py", title="Trajectories", icon=":material/timeline:"),
    ]
)
with st.sidebar:
    st.caption(f"Workspace: `{workspace().path}`")
navigation.run()
