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


DEMO_SKILL = "airline-policy"
DEMO_SKILL_DESCRIPTION = ("The policy an airline customer-service agent must follow when booking, changing or "
                          "cancelling flights, handling baggage and refunds. Use it for every airline task.")


def load_demo(ws: Workspace) -> ImportReport:
    """Import the demo trajectories and the airline policy as the human-written skill to deepen
    (idempotent: a second load adds nothing)."""
    from trace2skill.skill.folder import SkillFolder
    from trace2skill.store.skills import import_skill

    folder = demo_data_dir()
    report = import_paths(ws, [folder / TAU_BENCH_RUNS], actor="demo")
    policy = SkillFolder.from_markdown(DEMO_SKILL, DEMO_SKILL_DESCRIPTION, (folder / AIRLINE_POLICY).read_text())
    import_skill(ws.db, policy, message="the tau-bench airline policy (wiki.md)")
    return report
