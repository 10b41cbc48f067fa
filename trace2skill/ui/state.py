"""Process-wide resources for the Streamlit app (cached across sessions and reruns), and which
workspace this browser session works on."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.runs.clients import client_config
from trace2skill.settings import llm_config
from trace2skill.store import Workspace, default_db_path
from trace2skill.store import runs as run_store

WORKSPACE_KEY = "t2s_workspace"  # session state: the workspace file this session chose


@st.cache_resource
def _workspace(path: str) -> Workspace:
    return Workspace(path)


def workspace_path() -> str:
    """The file this session works on: the one chosen in the sidebar, else TRACE2SKILL_DB (or the
    per-user default)."""
    chosen = st.session_state.get(WORKSPACE_KEY)
    return str(Path(chosen).expanduser().resolve()) if chosen else str(default_db_path().expanduser().resolve())


def workspace() -> Workspace:
    """This session's workspace, opened once per process."""
    return _workspace(workspace_path())


def switch_workspace(path: str) -> Workspace:
    """Open (creating when new) the workspace file at `path` and make it this session's."""
    ws = _workspace(str(Path(path).expanduser().resolve()))
    st.session_state[WORKSPACE_KEY] = str(ws.path)
    return ws


@st.cache_resource
def _client(path: str, base_url: str | None, model: str | None, temperature: float | None) -> LLMClient:
    extra = {} if temperature is None else {"temperature": temperature}
    return LLMClient(_workspace(path), LLMConfig.for_endpoint(base_url, model, **extra))


def llm_client() -> LLMClient:
    """One shared client per (workspace, endpoint, model); the local model starts on first use."""
    ws = workspace()
    config = llm_config(ws.db)
    return _client(str(ws.path), config.base_url, config.model, None)


def run_client(run_id: str) -> LLMClient | None:
    """The client a run continues on (the endpoint it started with); None when it needs no model."""
    ws = workspace()
    config = client_config(run_store.get_run(ws.db, run_id))
    if config is None:
        return None
    return _client(str(ws.path), config.base_url, config.model, config.temperature)

