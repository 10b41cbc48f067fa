"""Prefix cache hit rate: an extraction of N demo trajectories (τ-bench airline, the airline policy as
the frozen skill, as the Extract screen runs it) against the loopback server acting as an endpoint
with automatic prefix caching, with the analyst prompt in its old order (task first, the skill in the
middle, picked by each task's words) and in its new order (skill first, the same for every analyst).
Prints prompt tokens, cached tokens and the hit rate of each, under OpenAI's rule (cached in steps of
128 tokens from 1,024 tokens on) and counting every shared token. No target: a figure to report.

    python bench/bench_prefix_cache.py [--n 20] [--no-skill]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trace2skill import costs, runs  # noqa: E402
from trace2skill.analysis import analysts  # noqa: E402
from trace2skill.analysis.analysts import PromptBudget  # noqa: E402
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories  # noqa: E402
from trace2skill.demo import DEMO_SKILL, load_demo  # noqa: E402
from trace2skill.llm import LLMClient, LLMConfig  # noqa: E402
from trace2skill.llm.fake_server import FakeLLMServer  # noqa: E402
from trace2skill.llm.prefix_cache import PromptCache  # noqa: E402
from trace2skill.models import ModelPrice, TokenUsage  # noqa: E402
from trace2skill.skill.excerpt import Need, context_excerpt  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402
from trace2skill.store.calls import run_usage  # noqa: E402
from trace2skill.store.skills import folder_of, latest_version  # noqa: E402

SKILL_HEADING = "# Current skill (frozen; shared by every analyst in this run)\n"
OPENAI_BLOCK, OPENAI_MIN = 128, 1024  # OpenAI caches in steps of 128 tokens from 1,024 tokens on
DEFAULT_BUDGET = PromptBudget()  # the endpoint's prompt budget
CACHED_PRICE = ModelPrice(prompt=1.0, cached_prompt=0.5)  # OpenAI bills cached input at half price


def old_order(analyst: analysts.Analyst, trajectory: Any, skill_text: str | None, max_lessons: int,
              budget: PromptBudget = DEFAULT_BUDGET) -> list[dict[str, str]]:
    """The analyst prompt as version 1 of analyst_input ordered it: task and outcome first, then
    the skill as picked by the task's words, then the rest."""
    system, user = NEW_ORDER(analyst, trajectory, skill_text, max_lessons, budget)
    head = SKILL_HEADING + analysts.shared_skill(skill_text, budget) + "\n\n"
    rest = user["content"][len(head):]
    picked = (context_excerpt(skill_text, budget.skill, Need(texts=(trajectory.task or "",)))
              if skill_text else analysts.shared_skill(None))
    at = rest.index("# Deterministic signals")
    return [system, {"role": "user", "content": rest[:at] + SKILL_HEADING + picked + "\n\n" + rest[at:]}]


NEW_ORDER = analysts.build_messages


@contextmanager
def prompt_order(order: str) -> Iterator[None]:
    analysts.build_messages = old_order if order == "old" else NEW_ORDER
    try:
        yield
    finally:
        analysts.build_messages = NEW_ORDER


def measure(n: int, order: str, with_skill: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, prompt_order(order):
        ws = Workspace(Path(tmp, "bench.db"))
        load_demo(ws)
        version = latest_version(ws.db, DEMO_SKILL)
        skill = folder_of(version).skill_md() if with_skill and version is not None else None
        ids = select_trajectories(ws, sample=n, seed=0, balance=True)
        # The server answers every analyst with a valid (empty) analysis.
        with FakeLLMServer(prompt_cache=True, cache_block_tokens=OPENAI_BLOCK, cache_min_tokens=OPENAI_MIN) as srv:
            client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="bench"))
            config = ExtractionConfig(concurrency=1, max_tokens=300, base_url=srv.base_url, model="bench",
                                      skill_text=skill)  # one at a time: the same figures on every run
            run = runs.execute(ws, create_extraction_run(ws, ids, config), client)
            client.close()
            sent = list(srv.requests)
        [usage] = run_usage(ws.db, run.id)
        ws.close()
    exact = PromptCache()  # the same requests, every shared token counted
    every = sum(exact.lookup_and_add(r["messages"], r.get("model") or "") for r in sent)
    return {"order": order, "calls": usage.calls, "prompt": usage.prompt_tokens, "cached": usage.cached_tokens,
            "rate": costs.cache_hit_rate(usage) or 0.0, "every_rate": every / max(1, usage.prompt_tokens),
            "saving": 1 - costs.usage_cost(usage, CACHED_PRICE) / max(1e-9, costs.usage_cost(
                TokenUsage(prompt_tokens=usage.prompt_tokens), CACHED_PRICE))}


def report(results: list[dict[str, Any]], n: int, with_skill: bool) -> list[dict[str, Any]]:
    what = "with the airline policy as skill" if with_skill else "without a skill"
    print(f"prefix cache, extraction of {n} demo trajectories {what} (OpenAI's rule: steps of 128 tokens "
          "from 1,024 on):")
    for r in results:
        print(f"  {r['order']} order: {r['calls']} calls, {r['prompt']:,} prompt tokens, {r['cached']:,} cached: "
              f"hit rate {r['rate']:.1%} (every shared token: {r['every_rate']:.1%}); prompt bill "
              f"{r['saving']:.1%} lower with cached input at half price")
    by = {r["order"]: r for r in results}
    if "old" in by and "new" in by:
        old, new = by["old"], by["new"]
        times = f"{new['cached'] / old['cached']:.1f}×" if old["cached"] else "from none"
        print(f"  new vs old: cached tokens {times}; hit rate {old['rate']:.1%} -> {new['rate']:.1%}")
    return [{"name": f"prefix cache hit rate, {n} demo extractions, {r['order']} prompt order",
             "value": round(r["rate"], 3), "target": "reported", "meets": True} for r in results]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--order", choices=["old", "new", "both"], default="both")
    parser.add_argument("--no-skill", action="store_true", help="No frozen skill (as `trace2skill extract` runs).")
    args = parser.parse_args(argv)
    orders = ["old", "new"] if args.order == "both" else [args.order]
    return report([measure(args.n, order, not args.no_skill) for order in orders], args.n, not args.no_skill)


if __name__ == "__main__":
    main()
