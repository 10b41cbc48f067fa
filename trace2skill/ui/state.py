"""Process-wide resources for the Streamlit app."""

from __future__ import annotations

import streamlit as st

from trace2skill.store import Workspace, default_db_path


@st.cache_resource
def _workspace(path: str) -> Workspace:
    return Workspace(path)


def workspace() -> Workspace:
    """The workspace named by TRACE2SKILL_DB (or the default), opened once per process."""
    return _workspace(str(default_db_path()))
