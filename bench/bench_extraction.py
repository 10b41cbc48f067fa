"""Extraction overhead: N trajectories through the analyst fleet against a loopback
OpenAI-compatible server with a fixed latency L, at concurrency C. Ideal wall time is
⌈N/C⌉·L; the target (SPEC §3) is a ratio <= 1.15.

    python bench/bench_extraction.py [--n 500] [--concurrency 32] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_import import make_record  # noqa: E402

from trace2skill import runs  # noqa: E402
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run  # noqa: E402
from trace2skill.ingest import import_paths  # noqa: E402
from trace2skill.llm import LLMClient, LLMConfig  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402

TARGET = 1.15


def measure(n: int, concurrency: int, latency: float) -> dict:
    import random

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "runs.jsonl")
        rng = random.Random(0)
        data.write_text("\n".join(json.dumps(make_record(i, rng)) for i in range(n)))
        ws = Workspace(Path(tmp, "bench.db"))
        ids = import_paths(ws, [data]).files[0].trajectory_ids
        # The server runs in its own process, as a real endpoint would: in this process it would
        # compete with the fleet for the GIL and inflate the overhead being measured.
        server = subprocess.Popen([sys.executable, "-m", "trace2skill.llm.fake_server", "--latency", str(latency)],
                                  stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            base_url = server.stdout.readline().strip()
            client = LLMClient(ws, LLMConfig(base_url=base_url, model="bench"))
            run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=concurrency))
            start = time.perf_counter()
            progress = runs.execute(ws, run_id, client).progress
            wall = time.perf_counter() - start
            client.close()
        finally:
            server.terminate()
            server.wait(10)
    ideal = math.ceil(n / concurrency) * latency
    return {"n": n, "concurrency": concurrency, "latency": latency, "wall": wall, "ideal": ideal,
            "ratio": wall / ideal, "done": progress.done}


def report(result: dict) -> dict:
    meets = result["ratio"] <= TARGET and result["done"] == result["n"]
    print(f"extraction N={result['n']} C={result['concurrency']} L={result['latency']}s: "
          f"wall {result['wall']:.2f}s, ideal {result['ideal']:.2f}s, ratio {result['ratio']:.3f}   "
          f"target <= {TARGET}   {'MEETS' if meets else 'MISSES'}")
    return {"name": f"extraction overhead ratio, N={result['n']}, C={result['concurrency']}",
            "value": round(result["ratio"], 3), "target": f"<= {TARGET}", "meets": meets}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32])
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args(argv)
    return [report(measure(args.n, c, args.latency)) for c in args.concurrency]


if __name__ == "__main__":
    main()
