"""Run every benchmark and print one line per figure: name, value, target, MEETS or MISSES.

    python bench/run.py            # the full set (several minutes)
    python bench/run.py --quick    # smaller sizes, for a quick look
    python bench/run.py --big      # only the large-workspace figures: import memory at 100,000
                                   # trajectories, lesson selection and every screen with 100,000
                                   # trajectories and 500,000 lessons (~10 minutes, ~1.5 GB of disk)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import bench_batch  # noqa: E402
import bench_compaction  # noqa: E402
import bench_consolidation  # noqa: E402
import bench_extraction  # noqa: E402
import bench_import  # noqa: E402
import bench_import_otlp  # noqa: E402
import bench_pages  # noqa: E402
import bench_prefix_cache  # noqa: E402
import bench_search  # noqa: E402
import bench_verify  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--big", action="store_true", help="Only the 100,000-trajectory / 500,000-lesson workspace.")
    parser.add_argument("--json", dest="json_out", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()
    q = args.quick
    figures: list[dict] = []
    if args.big:
        print("== import (100,000 trajectories)")
        figures += bench_import.main(["--n", "100000", "--repeat", "1"])
        print("== lesson selection and page render (100,000 trajectories, 500,000 lessons)")
        figures += bench_pages.main(["--big"])
        return _summary(figures, args.json_out)
    print("== import")
    figures += bench_import.main(["--n", "2000" if q else "10000", "--repeat", "1" if q else "3"])
    print("== import of OpenTelemetry traces (OTLP JSON)")
    figures += bench_import_otlp.main(["--n", "2000" if q else "10000", "--repeat", "1" if q else "3"])
    print("== extraction overhead")
    # (concurrency, N, latency): ideal wall ⌈N/C⌉·L of 4-10 s each. At C=128 the run is bound by the
    # fleet's own CPU work per item (~4 ms on 2 cores), so it is measured with L = 1 s.
    plan = [(1, 20, 0.5), (8, 160, 0.5), (32, 500, 0.5), (128, 500, 1.0)] if not q else [(8, 40, 0.5), (32, 100, 0.5)]
    for concurrency, n, latency in plan:
        figures += bench_extraction.main(["--n", str(n), "--concurrency", str(concurrency), "--latency", str(latency)])
    print("== consolidation")
    figures += bench_consolidation.main(["--n", "50", "200"] if q else ["--n", "50", "200", "500", "2000"])
    print("== replay verification")
    figures += bench_verify.main(["--n", "10" if q else "40", "--latency", "0.5"])
    print("== batch mode")
    figures += bench_batch.main(["--n", "40" if q else "200"])
    print("== prefix cache")
    figures += bench_prefix_cache.main(["--n", "10" if q else "20"])
    print("== token compaction")
    figures += bench_compaction.main()
    print("== search")
    figures += bench_search.main(["--n", "2000" if q else "10000", "--repeats", "1" if q else "3"])
    print("== page render")
    figures += bench_pages.main(["--trajectories", "2000", "--lessons", "5000", "--repeats", "1"] if q else [])
    return _summary(figures, args.json_out)


def _summary(figures: list[dict], json_out: str | None) -> int:
    print("\n== summary")
    for f in figures:
        print(f"{f['name']:<75} {f['value']!s:>10}   target {f['target']:<10} {'MEETS' if f['meets'] else 'MISSES'}")
    if json_out:
        Path(json_out).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
