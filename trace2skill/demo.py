"""The bundled demo workspace: real tau-bench airline runs (and, with skills, the airline policy)."""

from __future__ import annotations

import os
from pathlib import Path

from trace2skill.errors import NotFoundError
from trace2skill.ingest import ImportReport, import_paths
from trace2skill.store import Workspace

TAU_BENCH_RUNS = Path("tau-bench/historical_trajectories/gpt-4o-airline.json")
AIRLINE_POLICY = Path("tau-bench/tau_bench/envs/airline/wiki.md")


def demo_data_dir() -> Path:
    """$TRACE2SKILL_DATA, else the `data/` folder of the source checkout."""
    folder = Path(os.environ.get("TRACE2SKILL_DATA") or Path(__file__).resolve().parent.parent / "data")
    if not (folder / TAU_BENCH_RUNS).exists():
        raise NotFoundError(f"demo data not found under {folder}; set TRACE2SKILL_DATA to the repo's data/ folder")
    return folder


def load_demo(ws: Workspace) -> ImportReport:
    """Import the demo trajectories (idempotent: a second load adds nothing)."""
    return import_paths(ws, [demo_data_dir() / TAU_BENCH_RUNS])
