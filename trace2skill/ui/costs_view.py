"""Costs on screen: the price table editor (Home), a run's budget inputs (the new-run forms) and
budget form (a run's panel), and the live cost meter of a run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trace2skill import runs
from trace2skill.costs import budget_text, embedded_model_name, get_prices, money, replace_prices, require_price
from trace2skill.errors import Trace2SkillError
from trace2skill.llm import LLMConfig
from trace2skill.models import Run, RunBudget, RunSpend
from trace2skill.settings import batch_price
from trace2skill.store import Workspace
from trace2skill.ui.cache_view import cache_caption

PRICE_COLUMNS = ["model", "prompt", "cached_prompt", "completion"]


# --------------------------------------------------------------------------- the price table (Home)


def price_frame(ws: Workspace) -> pd.DataFrame:
    rows = [{"model": m, **p.model_dump()} for m, p in get_prices(ws.db).items()]
    return pd.DataFrame(rows, columns=PRICE_COLUMNS).astype(
        {"model": "string", "prompt": "float64", "cached_prompt": "float64", "completion": "float64"})


def price_editor(ws: Workspace, key: str = "home_prices") -> None:
    """An editable table of prices per 1M tokens, saved as a whole (nothing saved when a row is wrong)."""
    local = embedded_model_name()
    st.caption("Prices per 1M tokens (in your currency): they price the estimate before a run, the cost meter and "
               "money budgets. Cached prompt: prompt tokens the endpoint serves from its cache (default: the prompt "
               f"price). A run sent as batches pays {batch_price(ws.db):.0%} of them (setting `batch_price`)."
               + (f" The embedded model ({local}) is always free." if local else ""))
    number = st.column_config.NumberColumn
    edited = st.data_editor(price_frame(ws), num_rows="dynamic", hide_index=True, width="stretch", key=key,
                            column_config={"model": st.column_config.TextColumn("model", required=True),
                                           "prompt": number("prompt", min_value=0.0, format="%.4f"),
                                           "cached_prompt": number("cached prompt", min_value=0.0, format="%.4f"),
                                           "completion": number("completion", min_value=0.0, format="%.4f")})
    if st.button("Save prices", key=f"{key}_save", icon=":material/save:"):
        try:
            cells = edited.astype(object).where(edited.notna(), None)  # empty cells (NaN, <NA>) -> None
            table = replace_prices(ws.db, [{str(k): v for k, v in row.items()} for row in cells.to_dict("records")])
        except Trace2SkillError as exc:
            st.error(f"Prices not saved: {exc}", icon=":material/error:")
        else:
            st.success(f"Prices saved for {len(table)} models.", icon=":material/check_circle:")


# --------------------------------------------------------------------------- budgets


def budget_inputs(key: str, tokens: int = 0, usd: float = 0.0) -> tuple[int | None, float | None]:
    """Two number inputs (0: no limit); returns (tokens, money) with None for "no limit"."""
    c1, c2 = st.columns(2)
    max_tokens = c1.number_input("Budget: tokens (0 = no limit)", min_value=0, value=tokens, step=10_000,
                                 key=f"{key}_tokens", help="The run stops (resumable) before its calls would use "
                                                           "more tokens than this, prompt and completion together.")
    max_usd = c2.number_input("Budget: money (0 = no limit)", min_value=0.0, value=usd, step=0.5, format="%.4f",
                              key=f"{key}_usd", help="The run stops (resumable) before its calls would cost more "
                                                     "than this, priced from the price table on Home.")
    return (int(max_tokens) or None), (float(max_usd) or None)


def check_new_budget(ws: Workspace, llm: LLMConfig, usd: float | None) -> None:
    """Before a run is created: a money budget needs a price for its model (SettingsError)."""
    if usd is not None:
        require_price(ws.db, llm)


def apply_budget(ws: Workspace, run_id: str, tokens: int | None, usd: float | None) -> None:
    if tokens is not None or usd is not None:
        runs.set_budget(ws, run_id, tokens=tokens, usd=usd)


def budget_form(ws: Workspace, run: Run, key: str) -> None:
    """Raise (or set) a run's budget, for a run nothing executes now: then Resume goes on."""
    budget = runs.budget_of(run.config)
    label = f"Budget: {budget_text(budget) if budget else 'none'}"
    with st.expander(label, expanded=run.status == "stopped", icon=":material/savings:"):
        old = budget or RunBudget()
        tokens, usd = budget_inputs(f"{key}_run_budget", old.tokens or 0, old.usd or 0.0)
        if st.button("Save budget", key=f"{key}_run_budget_save", icon=":material/save:"):
            try:
                runs.set_budget(ws, run.id, tokens=tokens, usd=usd, clear=tokens is None and usd is None)
            except Trace2SkillError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                st.rerun()


# --------------------------------------------------------------------------- the live cost meter


def _left(spend: RunSpend) -> str:
    budget = spend.budget
    if budget is None:
        return "no budget"
    parts = ([f"{max(0, budget.tokens - spend.tokens):,} tokens"] if budget.tokens is not None else []) + (
        [money(max(0.0, budget.usd - spend.usd))] if budget.usd is not None else [])
    return " · ".join(parts) + " left"


def cost_meter(ws: Workspace, run: Run) -> RunSpend:
    """Tokens (prompt, cached, completion) and money spent, the budget and what is left, and the
    share of prompt tokens the endpoint's cache served."""
    spend = runs.spend(ws, run)
    cols = st.columns(5)
    cols[0].metric("Prompt tokens", f"{spend.prompt_tokens:,}")
    cols[1].metric("Cached prompt tokens", f"{spend.cached_tokens:,}",
                   help="Part of the prompt tokens the endpoint served from its prompt cache (priced lower).")
    cols[2].metric("Completion tokens", f"{spend.completion_tokens:,}")
    cols[3].metric("Spent", money(spend.usd) + (" +?" if spend.unpriced else ""),
                   help="Requests sent, priced from the price table on Home (answers from the cache are free)."
                        + (f" No price for: {', '.join(spend.unpriced)}." if spend.unpriced else ""))
    cols[4].metric("Budget", budget_text(spend.budget) if spend.budget else "none", _left(spend),
                   delta_color="off")
    cache_caption(spend)
    return spend
