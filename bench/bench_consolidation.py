"""Consolidation scaling: N synthetic patches merged in a tree of batch B against a loopback server
with fixed latency. Prints levels (expected ⌈log_B N⌉), merge calls and wall time; merges of one
level run in parallel, so wall ≈ Σ_levels ⌈calls_in_level / C⌉ · L.

    python bench/bench_consolidation.py [--n 50 200 500 2000] [--batch 8] [--latency 0.2] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trace2skill.consolidate.tree import build_tree  # noqa: E402
from trace2skill.llm import LLMClient, LLMConfig  # noqa: E402
from trace2skill.llm.fake_server import FakeLLMServer  # noqa: E402
from trace2skill.models import Edit, Patch, content_hash  # noqa: E402
from trace2skill.runs.context import LocalSteps  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402
from trace2skill.store.runs import create_run  # noqa: E402

TOPICS = ["refunds", "baggage", "seat upgrades", "cancellations", "payment methods", "passenger names",
          "flight changes", "insurance", "compensation", "membership tiers"]
_LABEL = re.compile(r"^(E\d+) \[", re.MULTILINE)


def merge_responder(request: dict) -> dict:
    """A well-behaved merge operator: one edit per topic, citing every input edit about it."""
    text = request["messages"][-1]["content"]
    labels = _LABEL.findall(text)
    return {"edits": [{"op": "append_to_section", "file": "SKILL.md", "section": "Rules", "anchor": "",
                       "content": "- Merged guidance.", "rationale": "dedup", "derived_from": labels}],
            "dropped": [], "conflicts": [], "rationale": f"merged {len(labels)} edits"}


def leaves(n: int, run_id: str) -> list[Patch]:
    rng = random.Random(n)
    out = []
    for k in range(n):
        pid = content_hash(["bench-leaf", n, k])
        topic = rng.choice(TOPICS)
        out.append(Patch(id=pid, run_id=run_id, level=0, edits=[Edit(
            id=content_hash([pid, 0]), op="append_to_section", section="Rules",
            content=f"- When handling {topic}, check the policy on {topic} first ({k}).", support=[f"l{k}"])]))
    return out


def measure(n: int, batch: int, latency: float, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer(merge_responder, latency_s=latency,
                                                                keep_requests=False) as srv:
        ws = Workspace(Path(tmp) / "bench.db")
        run_id = create_run(ws.db, "consolidation", {}, [])
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="bench"))
        patches = leaves(n, run_id)
        start = time.perf_counter()
        result = build_tree(LocalSteps(ws), client, run_id, patches, batch_size=batch, skill_files={"SKILL.md": "# Rules\n"},
                            support_of=lambda e: len(e.support), concurrency=concurrency)
        wall = time.perf_counter() - start
        client.close()
    expected_levels = math.ceil(math.log(n, batch)) if n > 1 else 0
    support = len(result.root.edits[0].support) if result.root.edits else 0
    return {"n": n, "levels": result.levels, "expected_levels": expected_levels, "merge_calls": result.merge_calls,
            "wall": wall, "support_at_root": support}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[50, 200, 500, 2000])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    figures = []
    for n in args.n:
        r = measure(n, args.batch, args.latency, args.concurrency)
        meets = r["levels"] == r["expected_levels"] and r["support_at_root"] == n
        print(f"consolidation N={n:<5} B={args.batch}: {r['levels']} levels (target {r['expected_levels']}), "
              f"{r['merge_calls']} merge calls, wall {r['wall']:.2f}s, support at root {r['support_at_root']}   "
              f"{'MEETS' if meets else 'MISSES'}")
        figures.append({"name": f"consolidation levels, N={n}, B={args.batch}", "value": r["levels"],
                        "target": f"= {r['expected_levels']}", "meets": meets, "merge_calls": r["merge_calls"],
                        "wall_s": round(r["wall"], 2)})
    return figures


if __name__ == "__main__":
    main()
