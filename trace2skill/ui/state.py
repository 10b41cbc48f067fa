"""Process-wide resources for the Streamlit app (cached across sessions and reruns)."""

from __future__ import annotations

import streamlit as st

from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.settings import llm_config
from trace2skill.store import Workspace, default_db_path


@st.cache_resource
def _workspace(path: str) -> Workspace:
    return Workspace(path)


def workspace() -> Workspace:
    """The workspace named by TRACE2SKILL_DB (or the default), opened once per process."""
    return _workspace(str(default_db_path()))


@st.cache_resource
def _client(path: str, base_url: str | None, model: str | None) -> LLMClient:
    return LLMClient(_workspace(path), LLMConfig.from_env(base_url=base_url, model=model))


def llm_client() -> LLMClient:
    """One shared client per (workspace, endpoint, model); the local model starts on first use."""
    ws = workspace()
    config = llm_config(ws.db)
    return _client(str(ws.path), config.base_url, config.model)
