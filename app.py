"""Trace2Skill curation app: the frame (navigation + sidebar). Screens live in views/.

Not in pages/: Streamlit treats a pages/ folder beside the main script as its legacy multipage
app, and a deep link (say /trajectories) opened as the first request of a fresh server then runs
that file on its own, without this frame and with the legacy page list. tests/e2e asserts a deep
link gets the frame."""

import streamlit as st

from trace2skill.settings import llm_config
from trace2skill.ui.reviewer import reviewer_panel
from trace2skill.ui.run_toasts import watch_runs
from trace2skill.ui.state import workspace
from trace2skill.ui.workspace_picker import render_workspace_panel

st.set_page_config(page_title="Trace2Skill", page_icon=":material/explore:", layout="wide")

PAGES = {
    "Workspace": [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/trajectories.py", title="Trajectories", icon=":material/timeline:"),
        st.Page("views/activity.py", title="Activity", icon=":material/history:"),
    ],
    "Distil": [
        st.Page("views/extract.py", title="Extract", icon=":material/psychology:"),
        st.Page("views/lessons.py", title="Lessons", icon=":material/checklist:"),
        st.Page("views/consolidate.py", title="Consolidate", icon=":material/account_tree:"),
    ],
    "Skills": [
        st.Page("views/review.py", title="Review & diff", icon=":material/difference:"),
        st.Page("views/provenance.py", title="Provenance", icon=":material/manage_search:"),
        st.Page("views/skills.py", title="Skills", icon=":material/menu_book:"),
    ],
}

navigation = st.navigation(PAGES)
with st.sidebar:
    render_workspace_panel()
    reviewer_panel(workspace())
    st.caption(f"Model: {llm_config(workspace().db).describe()}")
    watch_runs(workspace())
navigation.run()
