"""Shared hypothesis helpers for the importer tests: junk values and one-field mutations of a sample."""

from __future__ import annotations

from hypothesis import strategies as st

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def mutate(value, data):
    """Replace (or delete) one randomly chosen nested value."""
    keys = (
        list(range(len(value)))
        if isinstance(value, list)
        else list(value)
        if isinstance(value, dict)
        else []
    )
    if not keys or data.draw(st.integers(0, 3)) == 0:
        return data.draw(JUNK)
    key = data.draw(st.sampled_from(keys))
    if isinstance(value, dict) and data.draw(st.integers(0, 4)) == 0:
        del value[key]
    else:
        value[key] = mutate(value[key], data)
    return value
