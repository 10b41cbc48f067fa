"""Page render times on a large workspace: 10,000 trajectories and 50,000 lessons (`--big`:
100,000 and 500,000), every screen loaded in headless Chromium (Debian's) against `streamlit run`,
timed from navigation until the script run finished. Target (SPEC §3): every page < 1.5 s.

The workspace is built from a generated JSONL of chat trajectories (`bench_import.write_file`),
imported as a user would, plus the demo; the lessons are bulk-inserted through the store layer,
a third each proposed, approved and rejected. `--db FILE` keeps it (and reuses it when present).

Before the pages, the consolidation's lesson selection is timed on the same workspace: creating a
consolidation run over every approved lesson (a third of them) and loading its plan, as a run's
start and every resume do (target: < 1 s each). The run stays, so the Consolidate screen is timed
with it on screen.

    python bench/bench_pages.py [--trajectories 10000] [--lessons 50000] [--big] [--db FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_import import write_file  # noqa: E402

TARGET_S = 1.5
SELECTION_TARGET_S = 1.0
BIG = {"trajectories": 100_000, "lessons": 500_000}
PAGES = ["", "trajectories", "extract", "lessons", "consolidate", "review", "provenance", "skills"]


def seed(db: Path, n_trajectories: int, n_lessons: int) -> None:
    from trace2skill.demo import load_demo
    from trace2skill.ingest import import_paths
    from trace2skill.models import Evidence, Lesson
    from trace2skill.store import Workspace
    from trace2skill.store.lessons import insert_lessons

    start = time.perf_counter()
    ws = Workspace(db)
    data = db.with_suffix(".jsonl")
    write_file(data, n_trajectories)
    ids = import_paths(ws, [data]).files[0].trajectory_ids
    data.unlink()
    load_demo(ws)
    imported = time.perf_counter() - start
    kinds = ["failure_cause", "failure_lesson", "success_lesson"]
    batch = []
    for k in range(n_lessons):
        batch.append(Lesson(id=f"bench{k}", trajectory_id=ids[k % len(ids)], kind=kinds[k % 3],
                            title=f"Lesson {k} about step ordering", content=f"Check the state before acting ({k}).",
                            evidence=[Evidence(step_idx=1, quote="please change my booking", grounded=True,
                                               match="exact")], grounded=True,
                            status=["proposed", "approved", "rejected"][k % 3]))
        if len(batch) == 5000:
            insert_lessons(ws.db, batch)
            batch = []
    insert_lessons(ws.db, batch)
    ws.close()
    print(f"  workspace built: {n_trajectories:,} trajectories imported in {imported:.0f} s, "
          f"{n_lessons:,} lessons inserted in {time.perf_counter() - start - imported:.0f} s")


def time_selection(db: Path) -> dict[str, float]:
    """Seconds to create a consolidation run over all approved lessons, and to load its plan."""
    from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run, load_plan
    from trace2skill.demo import DEMO_SKILL
    from trace2skill.store import Workspace
    from trace2skill.store.runs import get_run
    from trace2skill.store.skills import latest_version

    ws = Workspace(db)
    base = latest_version(ws.db, DEMO_SKILL)
    assert base is not None
    start = time.perf_counter()
    run_id = create_consolidation_run(ws, ConsolidationConfig(base_version=base.id, base_url="http://unused/v1"))
    created = time.perf_counter() - start
    start = time.perf_counter()
    plan = load_plan(ws, get_run(ws.db, run_id).config)
    loaded = time.perf_counter() - start
    trajectories = len(set(plan.trajectory_of.values()))
    print(f"  consolidation over {len(plan.trajectory_of):,} approved lessons of {trajectories:,} trajectories")
    ws.close()
    return {"create run": created, "load plan": loaded}


def time_pages(db: Path, repeats: int) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "tests"))
    from e2e.conftest import CHROMIUM, CHROMIUM_ARGS, App, wait_idle
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "TRACE2SKILL_DB": str(db), "PYTHONPATH": str(REPO)}
    app = App(db, env)
    times: dict[str, list[float]] = {p or "home": [] for p in PAGES}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app.url)
            wait_idle(page)  # warm-up: first load imports modules and opens the workspace
            for _ in range(repeats):
                for name in PAGES:
                    start = time.perf_counter()
                    page.goto(f"{app.url}/{name}")
                    wait_idle(page)
                    times[name or "home"].append(time.perf_counter() - start - 0.6)  # wait_idle's fixed pauses
            browser.close()
    finally:
        app.stop()
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trajectories", type=int, default=10_000)
    parser.add_argument("--lessons", type=int, default=50_000)
    parser.add_argument("--big", action="store_true", help="100,000 trajectories and 500,000 lessons.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", type=Path, default=None, help="Keep the workspace in this file (reused when present).")
    args = parser.parse_args(argv)
    if args.big:
        args.trajectories, args.lessons = BIG["trajectories"], BIG["lessons"]
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "large.db"
        if not db.exists():
            seed(db, args.trajectories, args.lessons)
        for name, seconds in time_selection(db).items():
            meets = seconds < SELECTION_TARGET_S
            print(f"lesson selection, {name:<11} {seconds:6.2f} s   target < {SELECTION_TARGET_S} s   "
                  f"{'MEETS' if meets else 'MISSES'}")
            figures.append({"name": f"consolidation lesson selection, {name} ({args.lessons} lessons)",
                            "value": round(seconds, 2), "target": f"< {SELECTION_TARGET_S} s", "meets": meets})
        for name, seconds in time_pages(db, args.repeats).items():
            meets = seconds < TARGET_S
            print(f"page render {name:<12} {seconds:6.2f} s   target < {TARGET_S} s   {'MEETS' if meets else 'MISSES'}")
            figures.append({"name": f"page render, {name} ({args.trajectories} trajectories, {args.lessons} lessons)",
                            "value": round(seconds, 2), "target": f"< {TARGET_S} s", "meets": meets})
    return figures


if __name__ == "__main__":
    main()
