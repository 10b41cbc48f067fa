"""The prompt cache on screen: under a run's cost meter, how much of what the run sent the
endpoint served from its prompt cache, in plain words."""

from __future__ import annotations

import streamlit as st

from trace2skill.costs import cache_hit_rate, cache_line
from trace2skill.models import RunSpend

HELP = ("Endpoints with prefix caching (OpenAI, vLLM, llama.cpp) compute the shared start of the prompts once and "
        "bill it at the cached-prompt price of the price table on Home. The analysts' prompts start with the same "
        "instructions and skill, so most of each prompt can come from the cache.")


def cache_text(spend: RunSpend) -> str:
    """"62% of prompt tokens came from the endpoint's cache (8,000 of 12,900)."; "" before anything is sent."""
    line = cache_line(spend)
    return f"{line[:1].upper()}{line[1:]}." if line else ""


def cache_caption(spend: RunSpend) -> float | None:
    """The caption under the cost meter; returns the hit rate (None: nothing sent yet)."""
    text = cache_text(spend)
    if text:
        st.caption(text, help=HELP)
    return cache_hit_rate(spend)
