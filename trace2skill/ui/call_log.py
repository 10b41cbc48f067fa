"""A run's LLM call log on screen: every request sent (tokens, latency, error) and every answer
taken from the cache, newest first; open one to read its prompt and answer (as text, escaped)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trace2skill.models import LLMCall
from trace2skill.store import Workspace
from trace2skill.store.calls import count_calls, list_calls

SHOWN = 200


def calls_frame(calls: list[LLMCall]) -> pd.DataFrame:
    return pd.DataFrame([{
        "time": c.created, "item": c.item_id or "", "model": c.model,
        "prompt tokens": int(c.usage.get("prompt_tokens") or 0),
        "completion tokens": int(c.usage.get("completion_tokens") or 0),
        "latency (s)": c.latency_s if not c.cached else None, "from cache": c.cached, "error": c.error or "",
    } for c in calls], columns=["time", "item", "model", "prompt tokens", "completion tokens", "latency (s)",
                                "from cache", "error"])


def render_call_log(ws: Workspace, run_id: str, *, key: str) -> None:
    counts = count_calls(ws.db, run_id=run_id)
    label = (f"LLM calls of this run: {counts['sent']} sent ({counts['failed']} failed), "
             f"{counts['cached']} answered from the cache")
    with st.expander(label, icon=":material/receipt_long:"):
        if not counts["sent"] and not counts["cached"]:
            st.caption("No call yet.")
            return
        calls = list_calls(ws.db, run_id=run_id, limit=SHOWN)
        st.caption(f"Newest first{f' (the latest {SHOWN})' if len(calls) == SHOWN else ''}. The same log from a "
                   f"terminal: `trace2skill logs --run {run_id}`.")
        st.dataframe(calls_frame(calls), hide_index=True, width="stretch", key=f"{key}_calls_table")
        labels = {k: f"{c.created} · {c.item_id or '-'} · {'cache' if c.cached else (c.error and 'error') or 'ok'}"
                  for k, c in enumerate(calls)}
        picked = st.selectbox("Open a call", list(labels), format_func=lambda k: labels[k], key=f"{key}_call_pick")
        call = calls[int(picked or 0)]
        st.caption("Prompt (the last user message)")
        st.code(call.prompt, language=None, wrap_lines=True)
        st.caption("Answer" + (" (reused from the cache)" if call.cached else ""))
        st.code(call.error or call.answer or "(none)", language=None, wrap_lines=True)
