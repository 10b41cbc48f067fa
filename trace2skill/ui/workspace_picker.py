"""The sidebar's workspace panel: which file this session works on (named in full, with a word on
whether it is the per-user default), and switching to another file or creating a new one."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from trace2skill.errors import Trace2SkillError
from trace2skill.store import default_db_path
from trace2skill.ui.state import switch_workspace, workspace

SUFFIXES = (".db", ".sqlite", ".sqlite3")


def nearby_workspaces(current: Path, limit: int = 20) -> list[str]:
    """Workspace files beside the current one (the same folder), newest first."""
    try:
        found = [p for p in current.parent.iterdir() if p.suffix in SUFFIXES and p.is_file()]
    except OSError:
        return []
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [str(p) for p in found[:limit]]


def render_workspace_panel() -> None:
    ws = workspace()
    default = ws.path.resolve() == default_db_path().expanduser().resolve()
    st.caption("Workspace file" + (" (your default workspace)" if default else ""))
    st.text(str(ws.path))
    with st.popover("Switch or create a workspace", icon=":material/folder_open:", width="stretch"):
        choices = [p for p in nearby_workspaces(ws.path) if p != str(ws.path)]
        if choices:
            picked = st.selectbox("Open a workspace from the same folder", ["", *choices], key="t2s_ws_pick")
            if picked and st.button("Open", key="t2s_ws_open"):
                _switch(picked)
        target = st.text_input("Or a file path (a new file is created as an empty workspace)",
                               key="t2s_ws_path", placeholder=str(ws.path.parent / "another.db"))
        if st.button("Open or create", key="t2s_ws_create", disabled=not target.strip()):
            _switch(target.strip())


def _switch(path: str) -> None:
    try:
        switch_workspace(path)
    except Trace2SkillError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.rerun()
