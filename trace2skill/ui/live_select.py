"""A picker whose labels change while its options stay (a run's label carries its status): the
browser keeps showing the label it was last sent for the chosen option of a keyed selectbox, so
when that label changes, the choice is set again, which sends the new label."""

from __future__ import annotations

import streamlit as st


def live_selectbox(label: str, labels: dict[str, str], key: str) -> str:
    """A selectbox over the keys of `labels` (shown by their labels) that always shows the chosen
    option's current label. Returns the chosen key."""
    shown_key = f"{key}__shown"
    chosen = st.session_state.get(key)
    shown: dict[str, str] = st.session_state.get(shown_key) or {}
    if chosen in labels and chosen in shown and shown[chosen] != labels[chosen]:
        st.session_state[key] = chosen  # same choice, set again: the new label goes to the browser
    options: list[str] = list(labels)
    value = st.selectbox(label, options, format_func=lambda k: labels.get(k, str(k)), key=key)
    st.session_state[shown_key] = {value: labels[value]} if value in labels else {}
    return str(value)
