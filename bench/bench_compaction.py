"""Token compaction on the bundled real data: characters of each trajectory as stored vs. as the
analyst prompt renders it (long observations cut to head+tail, the run held to a budget).

    python bench/bench_compaction.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trace2skill.analysis.render import BUDGET_CHARS, render_trajectory  # noqa: E402
from trace2skill.ingest import import_paths  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402
from trace2skill.store.trajectories import get_trajectory, trajectory_ids  # noqa: E402

SOURCES = {
    "tau_bench": [REPO / "data/tau-bench/historical_trajectories/gpt-4o-airline.json"],
    "swe_agent": sorted((REPO / "data/swe-agent").rglob("*.traj")),
}


def main() -> list[dict]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "bench.db")
        for name, paths in SOURCES.items():
            import_paths(ws, paths)
            ratios, sizes = [], []
            for tid in trajectory_ids(ws.db):
                t = get_trajectory(ws.db, tid)
                if t.source_format != name:
                    continue
                rendered = render_trajectory(t.steps)
                ratios.append(rendered.ratio)
                sizes.append(rendered.chars)
            bounded = max(sizes) <= BUDGET_CHARS
            figures.append({"name": f"compaction ratio, {name} (median over {len(ratios)})",
                            "value": round(statistics.median(ratios), 2), "target": "prompt bounded",
                            "meets": bounded})
            figures.append({"name": f"largest rendered run, {name} (chars)", "value": max(sizes),
                            "target": f"<= {BUDGET_CHARS}", "meets": bounded})
    for fig in figures:
        print(f"{fig['name']:<50} {fig['value']:>10}   target {fig['target']:<14} {'MEETS' if fig['meets'] else 'MISSES'}")
    return figures


if __name__ == "__main__":
    main()
