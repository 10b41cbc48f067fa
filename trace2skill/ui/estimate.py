"""The Extract screen's token/cost estimate: `fleet.estimate` on the selection (on a fixed sample of
it when the selection is large, scaled up), priced from the workspace's price table, cached briefly
so reruns stay fast."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from typing import Any

import streamlit as st

from trace2skill.analysis.fleet import ExtractionConfig, estimate
from trace2skill.costs import config_price
from trace2skill.llm import LLMConfig
from trace2skill.models import ModelPrice
from trace2skill.store import Workspace

EXACT_UP_TO = 200


def scaled_estimate(ws: Workspace, ids: list[str], config: ExtractionConfig,
                    price: ModelPrice | None, exact_up_to: int = EXACT_UP_TO) -> dict[str, Any]:
    """fleet.estimate over all ids, or over a seeded sample of `exact_up_to` of them scaled to the whole."""
    if len(ids) <= exact_up_to:
        return {**estimate(ws, ids, config, price), "sampled": 0}
    sample = random.Random(0).sample(ids, exact_up_to)
    part = estimate(ws, sample, config, price)
    factor = len(ids) / exact_up_to
    return {"trajectories": len(ids), "calls": round(part["calls"] * factor),
            "prompt_tokens": round(part["prompt_tokens"] * factor),
            "max_completion_tokens": round(part["max_completion_tokens"] * factor),
            "estimated_cost_usd": round(part["estimated_cost_usd"] * factor, 6), "priced": part["priced"],
            "sampled": exact_up_to}


@st.cache_data(ttl=120, max_entries=32, show_spinner=False)
def _cached(path: str, ids: tuple[str, ...], config_json: str, price_json: str | None,
            _ws: Workspace) -> dict[str, Any]:
    config = ExtractionConfig(**json.loads(config_json))
    price = ModelPrice.model_validate_json(price_json) if price_json else None
    return scaled_estimate(_ws, list(ids), config, price)


def estimate_plan(ws: Workspace, ids: list[str], config: ExtractionConfig, llm: LLMConfig) -> dict[str, Any]:
    """The estimate shown before a run starts; `priced` says whether the model has a price."""
    price = config_price(ws.db, llm)
    return _cached(str(ws.path), tuple(ids), json.dumps(asdict(config), sort_keys=True),
                   price.model_dump_json() if price else None, ws)
