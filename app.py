"""Trace2Skill curation app: the frame (navigation + sidebar). Screens live in pages/."""

import streamlit as st

from trace2skill.settings import llm_config
from trace2skill.ui.state import workspace

st.set_page_config(page_title="Trace2Skill", page_icon=":material/explore:", layout="wide")

PAGES = {
    "Workspace": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/trajectories.py", title="Trajectories", icon=":material/timeline:"),
    ],
    "Distil": [
        st.Page("pages/extract.py", title="Extract", icon=":material/psychology:"),
        st.Page("pages/lessons.py", title="Lessons", icon=":material/checklist:"),
        st.Page("pages/consolidate.py", title="Consolidate", icon=":material/account_tree:"),
    ],
    "Skills": [
        st.Page("pages/review.py", title="Review & diff", icon=":material/difference:"),
        st.Page("pages/provenance.py", title="Provenance", icon=":material/manage_search:"),
        st.Page("pages/skills.py", title="Skills", icon=":material/menu_book:"),
    ],
}

navigation = st.navigation(PAGES)
with st.sidebar:
    ws = workspace()
    st.caption(f"Workspace: `{ws.path}`")
    st.caption(f"Model: {llm_config(ws.db).describe()}")
navigation.run()
