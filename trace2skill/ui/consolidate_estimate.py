"""The Consolidate screen's estimate before a run starts: model calls (proposals, then merges level
by level), prompt tokens, the most the run can cost and about how long it takes on this machine
(`consolidate.estimate`), cached briefly so reruns of the page stay fast."""

from __future__ import annotations

import json
from dataclasses import asdict

import streamlit as st

from trace2skill.consolidate.estimate import ConsolidationEstimate, estimate_consolidation
from trace2skill.consolidate.run import ConsolidationConfig
from trace2skill.costs import config_price
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm import LLMConfig
from trace2skill.llm.pace import Pace, pace_words, run_pace
from trace2skill.store import Workspace
from trace2skill.store.lessons import approved_counts


@st.cache_data(ttl=120, max_entries=16, show_spinner=False)
def _cached(path: str, config_json: str, approved: tuple[int, int], _ws: Workspace) -> ConsolidationEstimate | str:
    try:
        return estimate_consolidation(_ws, ConsolidationConfig.from_dict(json.loads(config_json)))
    except Trace2SkillError as exc:
        return str(exc)


def run_time(ws: Workspace, llm: LLMConfig, plan: ConsolidationEstimate, concurrency: int) -> Pace | None:
    """The proposals in parallel, then each level of merges after the one below it."""
    phases = [run_pace(ws, llm, calls, concurrency) for calls in (plan.proposal_calls, *plan.merge_calls) if calls]
    known = [p for p in phases if p is not None]
    if not known or len(known) < len(phases):
        return None
    return Pace(sum(p.seconds for p in known), known[0].per_call_s, known[0].measured_calls)


def render_estimate(ws: Workspace, llm: LLMConfig, config: ConsolidationConfig) -> float | None:
    """Calls, tokens, cost and time of the run the form describes; the most it can cost (None: not
    priced, or no estimate because the run could not start)."""
    plan = _cached(str(ws.path), json.dumps(asdict(config), sort_keys=True, default=str), approved_counts(ws.db), ws)
    if isinstance(plan, str):
        st.caption(f"No estimate: {plan}.")
        return None
    price = config_price(ws.db, llm)
    merges = sum(plan.merge_calls)
    m = st.columns(4)
    m[0].metric("Proposal calls", f"{plan.proposal_calls:,}",
                help="One per trajectory whose approved lessons hold guidance; failure causes alone are not sent.")
    m[1].metric("Merge calls", f"{merges:,}", help=f"{plural(len(plan.merge_calls), 'level')}, bottom up: "
                + (", ".join(f"{n:,}" for n in plan.merge_calls) or "none (one proposal)")
                + ". A merge whose answer fails its checks is asked once more (not counted).")
    m[2].metric("Prompt tokens (est.)", f"{plan.prompt_tokens:,}",
                help=f"{plan.proposal_prompt_tokens:,} for the proposals (counted from their prompts) and up to "
                     f"{plan.merge_prompt_tokens:,} for the merges (each input patch at its most, "
                     f"{config.max_tokens:,} tokens).")
    cost = plan.max_cost(price) if price is not None else None
    m[3].metric("Cost (at most, est.)", f"${cost:.4f}" if cost is not None else "n/a")
    pace = run_time(ws, llm, plan, config.concurrency)
    st.caption((f"Time: {pace_words(pace)}; the merges go level by level. " if pace else "")
               + f"At most {plan.max_completion_tokens:,} completion tokens."
               + (f" Proposal figures from a sample of {plural(plan.sampled, 'trajectory')}, scaled up."
                  if plan.sampled else "")
               + ("" if price is not None else f" The price table on Home has no price for {llm.model}, so no cost "
                                               "is shown."))
    return cost
