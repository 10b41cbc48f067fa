"""A message that outlives the reruns right after an action: "Run … started" stays on screen for a
few seconds even when the page draws itself again at once (a run's panel does, as the run moves on)."""

from __future__ import annotations

import time

import streamlit as st

SHOW_S = 20.0


def set_flash(key: str, text: str) -> None:
    st.session_state[key] = (text, time.monotonic() + SHOW_S)


def show_flash(key: str) -> None:
    """Show the message under `key` while it is fresh; forget it after."""
    value = st.session_state.get(key)
    if value is None:
        return
    text, until = value if isinstance(value, tuple) else (str(value), 0.0)
    if isinstance(value, tuple) and time.monotonic() < until:
        st.success(text, icon=":material/check_circle:")
        return
    st.session_state.pop(key, None)
    if not isinstance(value, tuple):  # set the old way: shown once
        st.success(text, icon=":material/check_circle:")
