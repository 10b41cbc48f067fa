"""Prices and spending: the workspace's price table (per model, currency units per million tokens:
prompt, cached prompt, completion), what a call's usage costs, and what a run has spent.

The embedded local model is always free. Prompt tokens the endpoint reports as cached
(`usage.prompt_tokens_details.cached_tokens`, recorded by the client as `cached_tokens`) are part of
the prompt tokens and priced at the cached-prompt price. The same table prices the estimate shown
before a run, the live cost meter and a run's money budget.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping

from sqlite_utils import Database

from trace2skill.errors import NotFoundError, SettingsError, Trace2SkillError
from trace2skill.llm.config import LLMConfig
from trace2skill.models import ModelPrice, RunBudget, RunSpend, TokenUsage
from trace2skill.store.calls import run_usage
from trace2skill.store.settings import put_prices, stored_prices

PER_TOKENS = 1_000_000  # prices are per this many tokens
FREE = ModelPrice()


@functools.cache
def embedded_model_name() -> str | None:
    """The model name the embedded local server reports (its GGUF's name); None when not installed."""
    from trace2skill.llm.local import find_local_model

    try:
        return find_local_model().stem
    except Trace2SkillError:
        return None


def is_embedded(model: str | None) -> bool:
    return bool(model) and model == embedded_model_name()


# --------------------------------------------------------------------------- the price table


def get_prices(db: Database) -> dict[str, ModelPrice]:
    return stored_prices(db)


def parse_price(value: object, what: str) -> float:
    """A price from user input: a finite number >= 0 (SettingsError saying what is wrong otherwise)."""
    unit = "currency units per 1M tokens"
    try:
        number = float(str(value).strip().lstrip("$"))
    except ValueError:
        raise SettingsError(f"the {what} price must be a number ({unit}), not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise SettingsError(f"the {what} price must be zero or more ({unit}), not {value!r}")
    return number


def _blank(value: object) -> bool:
    """An empty cell of an edited table: None, "" or NaN."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def _check_model_name(model: str) -> str:
    name = model.strip()
    if not name or any(c.isspace() for c in name):
        raise SettingsError(f"a model name is one word without spaces, not {model!r}")
    if is_embedded(name):
        raise SettingsError(f"{name} is the embedded local model: it is always free and needs no price")
    return name


def set_price(db: Database, model: str, *, prompt: object, completion: object,
              cached_prompt: object | None = None) -> ModelPrice:
    """Store `model`'s prices (per 1M tokens); the cached-prompt price defaults to the prompt price."""
    name = _check_model_name(model)
    price = ModelPrice(prompt=parse_price(prompt, "prompt"), completion=parse_price(completion, "completion"),
                       cached_prompt=parse_price(prompt if cached_prompt is None else cached_prompt, "cached prompt"))
    put_prices(db, {**get_prices(db), name: price})
    return price


def remove_price(db: Database, model: str) -> None:
    prices = get_prices(db)
    if model not in prices:
        known = ", ".join(sorted(prices)) or "none"
        raise NotFoundError(f"no price for model {model!r} in the workspace's price table (priced: {known})")
    del prices[model]
    put_prices(db, prices)


def replace_prices(db: Database, rows: Iterable[Mapping[str, object]]) -> dict[str, ModelPrice]:
    """Store a whole edited table (rows of model, prompt, cached_prompt, completion), checked first:
    nothing is stored when a row is wrong. Rows without a model name are ignored."""
    table: dict[str, ModelPrice] = {}
    for row in rows:
        if _blank(row.get("model")):
            continue
        name = _check_model_name(str(row["model"]))
        if name in table:
            raise SettingsError(f"model {name} is listed twice in the price table")
        cells = {key: 0 if _blank(row.get(key)) else row.get(key) for key in ("prompt", "completion")}
        cached = row.get("cached_prompt")
        table[name] = ModelPrice(
            prompt=parse_price(cells["prompt"], f"{name} prompt"),
            completion=parse_price(cells["completion"], f"{name} completion"),
            cached_prompt=parse_price(cells["prompt"] if _blank(cached) else cached, f"{name} cached prompt"))
    put_prices(db, table)
    return table


def price_for(prices: Mapping[str, ModelPrice], model: str | None) -> ModelPrice | None:
    """The model's prices; free for the embedded local model; None when the table has none."""
    if is_embedded(model):
        return FREE
    return prices.get(model or "")


def config_price(db: Database, llm: LLMConfig) -> ModelPrice | None:
    """The price of the model a config talks to: free for the embedded model, else its row of the
    workspace's price table (None: not priced)."""
    return FREE if llm.is_local else price_for(get_prices(db), llm.model)


def require_price(db: Database, llm: LLMConfig | None) -> None:
    """SettingsError unless the model of `llm` has a price (a money budget needs one; None: no model)."""
    if llm is not None and config_price(db, llm) is None:
        name = llm.model or "(the endpoint's default model)"
        raise SettingsError(f"a money budget needs a price for model {name}: set one with `trace2skill settings "
                            f"price {llm.model or 'MODEL'} --prompt P --completion C` (per 1M tokens), or give a "
                            "token budget instead")


# --------------------------------------------------------------------------- pricing usage


def usage_cost(usage: Mapping[str, int] | TokenUsage, price: ModelPrice) -> float:
    """What `usage` (prompt_tokens, of which cached_tokens, and completion_tokens) costs at `price`."""
    data = usage.model_dump() if isinstance(usage, TokenUsage) else usage
    prompt = int(data.get("prompt_tokens") or 0)
    cached = min(prompt, int(data.get("cached_tokens") or 0))
    completion = int(data.get("completion_tokens") or 0)
    units = (prompt - cached) * price.prompt + cached * price.cached_prompt + completion * price.completion
    return units / PER_TOKENS


def price_usage(usage: Mapping[str, int] | TokenUsage, model: str | None,
                prices: Mapping[str, ModelPrice]) -> float | None:
    """The cost of one call's (or one model's) usage from the table; None when the model has no price."""
    price = price_for(prices, model)
    return None if price is None else usage_cost(usage, price)


def scale_price(price: ModelPrice, share: float) -> ModelPrice:
    """`share` of a model's prices (a batch API's discount)."""
    return ModelPrice(prompt=price.prompt * share, cached_prompt=price.cached_prompt * share,
                      completion=price.completion * share)


def scale_prices(prices: Mapping[str, ModelPrice], share: float) -> dict[str, ModelPrice]:
    """The price table at `share` of its prices."""
    return {model: scale_price(price, share) for model, price in prices.items()}


def spend_of(usages: Iterable[TokenUsage], prices: Mapping[str, ModelPrice],
             budget: RunBudget | None = None) -> RunSpend:
    """Total tokens and money of per-model usages."""
    spend = RunSpend(budget=budget)
    for usage in usages:
        spend.prompt_tokens += usage.prompt_tokens
        spend.cached_tokens += usage.cached_tokens
        spend.completion_tokens += usage.completion_tokens
        cost = price_usage(usage, usage.model, prices)
        if cost is None:
            if usage.total:
                spend.unpriced.append(usage.model)
        else:
            spend.usd += cost
    spend.usd = round(spend.usd, 8)
    return spend


def run_spend(db: Database, run_id: str, budget: RunBudget | None = None) -> RunSpend:
    """What a run has spent so far, from the call log and the workspace's price table."""
    return spend_of(run_usage(db, run_id), get_prices(db), budget)


# --------------------------------------------------------------------------- for people


def money(value: float) -> str:
    """"$0.0123"; tiny amounts keep their digits ("$0.000005"), large ones have cents ("$1,234.50")."""
    if 0 < value < 0.0001:
        return f"${value:.6f}"
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def spend_line(spend: RunSpend) -> str:
    """"12,345 tokens (10,000 prompt, 2,000 cached, 2,345 completion) · $0.0123 of $0.0500 budget"."""
    text = (f"{spend.tokens:,} tokens ({spend.prompt_tokens:,} prompt, {spend.cached_tokens:,} cached, "
            f"{spend.completion_tokens:,} completion)")
    if spend.budget is not None and spend.budget.tokens is not None:
        text += f" of {spend.budget.tokens:,}"
    text += f" · {money(spend.usd)}"
    if spend.budget is not None and spend.budget.usd is not None:
        text += f" of {money(spend.budget.usd)}"
    if spend.unpriced:
        text += f" (no price for {', '.join(spend.unpriced)})"
    return text


def cache_hit_rate(usage: RunSpend | TokenUsage) -> float | None:
    """The share of prompt tokens the endpoint served from its prompt cache (0 to 1); None when
    nothing was sent. Endpoints with prefix caching serve the start of a prompt that an earlier
    request began with; one that reports nothing counts as 0."""
    if usage.prompt_tokens <= 0:
        return None
    return min(usage.cached_tokens, usage.prompt_tokens) / usage.prompt_tokens


def cache_line(usage: RunSpend | TokenUsage) -> str:
    """"62% of prompt tokens came from the endpoint's cache (8,000 of 12,900)"; "" when nothing
    was sent."""
    rate = cache_hit_rate(usage)
    if rate is None:
        return ""
    if not usage.cached_tokens:
        return "no prompt tokens came from the endpoint's cache (or the endpoint does not report its cache)"
    return (f"{rate:.0%} of prompt tokens came from the endpoint's cache "
            f"({usage.cached_tokens:,} of {usage.prompt_tokens:,})")


def short_spend(spend: RunSpend) -> str:
    """For a progress line: "12,345 tok · $0.0123"."""
    return f"{spend.tokens:,} tok · {money(spend.usd)}" + ("+?" if spend.unpriced else "")


def budget_text(budget: RunBudget) -> str:
    """"10,000 tokens and $0.5000"."""
    parts = ([f"{budget.tokens:,} tokens"] if budget.tokens is not None else []) + (
        [money(budget.usd)] if budget.usd is not None else [])
    return " and ".join(parts) or "none"
