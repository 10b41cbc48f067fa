"""Who is reviewing in this browser: the signed-in user when Streamlit authentication is set up
(`st.user`), else the name given once in the sidebar, kept for the session and in the page's
address (`?reviewer=…`, so a reload or a bookmark keeps it). Every decision the app records
carries it; without one it is recorded as "app user (unnamed)" and the sidebar asks for a name."""

from __future__ import annotations

from typing import Any

import streamlit as st

from trace2skill.errors import InvalidValueError
from trace2skill.reviewers import UNNAMED_APP_USER, check_name
from trace2skill.store import Workspace
from trace2skill.store.decisions import known_reviewers

KEY = "reviewer_name"
PARAM = "reviewer"


def signed_in_name() -> str | None:
    """The signed-in user's name (or e-mail) when authentication is configured and they signed in."""
    try:
        user: Any = st.user
        if not user.is_logged_in:
            return None
        name = user.get("name") or user.get("email")
    except (AttributeError, KeyError, RuntimeError):  # no authentication configured, or bare mode
        return None
    return check_name(str(name)) if name else None


def ui_reviewer() -> str:
    """Who this browser's decisions are recorded as."""
    signed = signed_in_name()
    if signed:
        return signed
    name = st.session_state.get(KEY)
    if not name:
        given = st.query_params.get(PARAM)
        try:
            name = check_name(given) if given else None
        except InvalidValueError:
            name = None
        if name:
            st.session_state[KEY] = name
    return name or UNNAMED_APP_USER


def reviewer_panel(ws: Workspace) -> None:
    """The sidebar's "Reviewing as": the signed-in user, or a name given once per browser."""
    signed = signed_in_name()
    if signed:
        st.caption(f"Reviewing as **{signed}** (signed in)")
        return
    current = ui_reviewer()
    if current != UNNAMED_APP_USER:
        st.query_params[PARAM] = current  # a reload keeps it
        st.caption(f"Reviewing as **{current}**")
        if st.button("Not you?", key="reviewer_change", type="tertiary"):
            st.session_state.pop(KEY, None)
            st.query_params.pop(PARAM, None)
            st.rerun()
        return
    with st.form("reviewer_form", border=False):
        st.caption("Your name is recorded with your decisions.")
        known = known_reviewers(ws.db, limit=20)
        name = st.text_input("Your name", key="reviewer_input", placeholder=known[0] if known else "e.g. Dana")
        if st.form_submit_button("Start reviewing", icon=":material/badge:"):
            try:
                st.session_state[KEY] = check_name(name)
            except InvalidValueError as exc:
                st.error(str(exc))
            else:
                st.query_params[PARAM] = st.session_state[KEY]
                st.rerun()
