"""Live calls vs batch mode: an extraction of N demo trajectories against the loopback server, once
live (each analyst call a request that takes L seconds, C at a time) and once in batch mode (the
requests uploaded as one batch, which the loopback batch service answers after T seconds; polled
every P seconds). Prints the HTTP requests each way, the calls, and the wall time. No target: the
batch's wall time is the service's turnaround (up to 24 hours at OpenAI, for half the price), the
point is how few requests it takes and that nothing goes live.

    python bench/bench_batch.py [--n 200] [--latency 0.5] [--concurrency 8] [--turnaround 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes import http_analyst_responder  # noqa: E402
from trace2skill import runs  # noqa: E402
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories  # noqa: E402
from trace2skill.demo import load_demo  # noqa: E402
from trace2skill.llm import LLMClient, LLMConfig  # noqa: E402
from trace2skill.llm.batch import BatchOptions  # noqa: E402
from trace2skill.llm.fake_server import FakeLLMServer  # noqa: E402
from trace2skill.runs.batch_mode import set_batch  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402


def measure(n: int, latency: float, concurrency: int, turnaround: float, poll: float, batch: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        ws = Workspace(Path(folder) / "bench.db")
        load_demo(ws)
        ids = select_trajectories(ws, outcome="all", limit=n)
        with FakeLLMServer(http_analyst_responder, latency_s=latency, batch_run_s=turnaround) as srv:
            client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
            run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=concurrency))
            if batch:
                set_batch(ws, run_id, BatchOptions(gather_s=0.5, poll_s=poll))
            started = time.perf_counter()
            run = runs.execute(ws, run_id, client)
            wall = time.perf_counter() - started
            assert run.status == "done", run.error
            return {"mode": "batch" if batch else "live", "items": run.progress.done, "wall": wall,
                    "live_requests": srv.request_count, "batch_requests": srv.batch_api.http_calls,
                    "batches": srv.batch_api.created, "lines": sum(srv.batch_api.line_counts.values())}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5, help="Seconds per live call.")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--turnaround", type=float, default=2.0, help="Seconds the batch service takes.")
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args(argv)
    live = measure(args.n, args.latency, args.concurrency, args.turnaround, args.poll, batch=False)
    batch = measure(args.n, args.latency, args.concurrency, args.turnaround, args.poll, batch=True)
    print(f"extraction of {args.n} demo trajectories, live (L = {args.latency} s, C = {args.concurrency}) vs batch "
          f"(turnaround {args.turnaround} s, polled every {args.poll} s):")
    print(f"  live:  {live['live_requests']} HTTP requests, {live['wall']:.1f} s")
    print(f"  batch: {batch['batch_requests']} HTTP requests ({batch['batches']} batch of {batch['lines']} calls: "
          f"upload, create, polls, download), {batch['live_requests']} live; {batch['wall']:.1f} s "
          f"(= gathering + turnaround + polling)")
    return [
        {"name": f"live extraction of {args.n}: HTTP requests · wall s", "value": f"{live['live_requests']} · "
         f"{live['wall']:.1f}", "target": "reported", "meets": True},
        {"name": f"batch extraction of {args.n}: HTTP requests · wall s", "value": f"{batch['batch_requests']} · "
         f"{batch['wall']:.1f}", "target": "reported", "meets": batch["live_requests"] == 0},
    ]


if __name__ == "__main__":
    main()
