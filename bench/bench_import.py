"""Import benchmark: stream a generated JSONL of N chat trajectories into a fresh workspace.

Prints trajectories/s (the median of three imports) and peak memory, and checks that memory stays flat
as the file grows by importing a file 4x smaller first. Target (SPEC §3): >= 2,000 trajectories/s, flat memory.

    python bench/bench_import.py [--n 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TARGET_RATE = 2000.0

TOOLS = ["search_flights", "get_user_details", "book_reservation", "cancel_reservation", "calculate"]


def make_record(i: int, rng: random.Random) -> dict:
    messages = [{"role": "system", "content": "You are an airline agent. Follow the policy."},
                {"role": "user", "content": f"Task {i}: please change my booking {rng.randrange(10**6)}"}]
    for turn in range(rng.randint(3, 6)):
        call_id = f"call_{i}_{turn}"
        tool = rng.choice(TOOLS)
        messages.append({"role": "assistant", "content": None, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": tool, "arguments": json.dumps({"id": rng.randrange(1000), "n": turn})}}]})
        result = "Error: not found" if rng.random() < 0.1 else json.dumps({"ok": True, "value": rng.random()})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
    messages.append({"role": "assistant", "content": f"Done with task {i}."})
    return {"task_id": str(i), "messages": messages, "reward": float(rng.random() < 0.4), "model": "gen-1"}


def write_file(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps(make_record(i, rng)) + "\n")


_CHILD = r"""
import json, resource, sys, time
from trace2skill.store import Workspace
from trace2skill.ingest import import_paths
ws = Workspace(sys.argv[2])
workers = None if sys.argv[3] == "auto" else int(sys.argv[3])
start = time.perf_counter()
report = import_paths(ws, [sys.argv[1]], workers=workers)
elapsed = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker, if any
print(json.dumps({"imported": report.imported, "errors": len(report.errors), "seconds": elapsed,
                  "peak_mib": peak_kib / 1024, "worker_peak_mib": worker_kib / 1024}))
"""


def run_import(path: Path, db: Path, workers: int | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(db), str(workers or "auto")], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_sizes(write: Callable[[Path, int, int], None], n: int, noun: str, label: str = "",
                  repeat: int = 3) -> list[dict]:
    """Import a file of `n` records written by `write(path, n, seed)` (`repeat` times, the median run
    counts) and one 4x smaller into fresh workspaces (each in its own process), with the default workers
    (`ingest.parallel`: one per core for files of 8 MiB or more); the large one also in one process.
    Print and return the rate and memory-growth figures (memory: the importing process, and the largest
    worker when there are any)."""
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp, "small.jsonl"), Path(tmp, "large.jsonl")
        write(small, max(n // 4, 1), 1)
        write(large, n, 2)
        size_mib = large.stat().st_size / 2**20
        small_run = run_import(small, Path(tmp, "small.db"))
        runs = sorted((run_import(large, Path(tmp, f"large-{i}.db")) for i in range(repeat)),
                      key=lambda run: run["seconds"])
        large_run = runs[len(runs) // 2]  # the median of `repeat` runs: one run on a shared machine varies by 30%
        alone_run = run_import(large, Path(tmp, "alone.db"), workers=1) if large_run["worker_peak_mib"] else None
    rate = large_run["imported"] / large_run["seconds"]
    rates = [run["imported"] / run["seconds"] for run in runs]
    growth = large_run["peak_mib"] / small_run["peak_mib"]
    if large_run["worker_peak_mib"] and small_run["worker_peak_mib"]:
        growth = max(growth, large_run["worker_peak_mib"] / small_run["worker_peak_mib"])
    figures = [
        {"name": f"{label}import rate, {n} {noun} ({noun}/s)", "value": round(rate), "target": ">= 2000",
         "meets": rate >= TARGET_RATE},
        {"name": f"{label}peak memory growth, {n} vs {n // 4} {noun} (ratio)", "value": round(growth, 2),
         "target": "<= 1.25", "meets": growth <= 1.25},
    ]

    def memory(run: dict) -> str:
        return f"{run['peak_mib']:.1f} MiB" + (f" + workers {run['worker_peak_mib']:.1f} MiB each"
                                                if run["worker_peak_mib"] else "")

    print(f"file: {n} {noun}, {size_mib:.0f} MiB; {large_run['seconds']:.1f} s; peak memory "
          f"{memory(small_run)} for {n // 4}, {memory(large_run)} for {n} {noun}; rate "
          f"{small_run['imported'] / small_run['seconds']:.0f}/s for {n // 4}, {rate:.0f}/s for {n} (median of "
          f"{len(runs)} runs: {', '.join(f'{r:.0f}' for r in rates)})")
    if alone_run is not None:
        alone = alone_run["imported"] / alone_run["seconds"]
        print(f"in one process (--workers 1): {alone_run['seconds']:.1f} s, {alone:.0f}/s; "
              f"with workers {rate / alone:.2f}x")
    for fig in figures:
        print(f"{fig['name']:<70} {fig['value']:>10}   target {fig['target']:<8} "
              f"{'MEETS' if fig['meets'] else 'MISSES'}")
    if large_run["imported"] != n or large_run["errors"]:
        print(f"warning: imported {large_run['imported']} of {n} with {large_run['errors']} errors")
    return figures


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="imports of the large file; the median counts")
    args = parser.parse_args(argv)
    return compare_sizes(lambda path, n, seed: write_file(path, n, seed=seed), args.n, "trajectories",
                         repeat=args.repeat)


if __name__ == "__main__":
    main()
