"""The newcomer's path on the embedded model (SmolLM2-135M on llama.cpp, the shared server): the demo's
extraction of 4 failed runs (the airline policy as the frozen skill) and the consolidation of their
lessons into that policy. Measured three ways, each on fresh workspaces and a freshly started model
server (nothing cached, not even the server's prompt cache: a case after another once found its
prompts' shared start already computed and looked faster than it is):

- alone: this program is the only one using the model;
- beside the app: `trace2skill ui` is running (it shares the one model server: before issue 14 it
  started its own, and two servers on 2 cores made every call 5-20x slower);
- two runs at once: a second program runs the same extraction at the same time (both share the
  model's two slots: expect about 2x, the work doubled).

Targets (issue 14): extraction < 2 min, consolidation < 3 min on 2 idle cores; beside the app no
more than 1.5x. Run it on a quiet machine (nothing else running): it starts the model itself.

    python bench/bench_local_demo.py [--skip-pair]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes import ScriptedClient  # noqa: E402
from tests.helpers import proposer  # noqa: E402
from trace2skill import runs  # noqa: E402
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories  # noqa: E402
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run  # noqa: E402
from trace2skill.costs import cache_hit_rate  # noqa: E402
from trace2skill.demo import DEMO_SKILL, load_demo  # noqa: E402
from trace2skill.llm import LLMClient, LLMConfig, ensure_local_server  # noqa: E402
from trace2skill.llm.shared import stop_server  # noqa: E402
from trace2skill.models import RunSpend  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402
from trace2skill.store.lessons import lesson_ids, set_status  # noqa: E402
from trace2skill.store.skills import latest_version  # noqa: E402

TARGETS = {"extraction": 120.0, "consolidation": 180.0}
N_FAILURES = 4


def demo_run(folder: Path, consolidate: bool = True) -> dict[str, float]:
    """The demo's extraction (and consolidation) in a fresh workspace; wall seconds of each."""
    ws = Workspace(folder / "ws.db")
    load_demo(ws)
    client = LLMClient(ws, LLMConfig.from_env(base_url=None, model=None))
    skill = latest_version(ws.db, DEMO_SKILL)
    assert skill is not None
    ids = select_trajectories(ws, outcome="failure", sample=N_FAILURES, seed=7)
    out: dict[str, float] = {}
    start = time.perf_counter()
    run = create_extraction_run(ws, ids, ExtractionConfig(outcome="failure", skill_version=skill.id))
    done = runs.execute(ws, run, client)
    out["extraction"] = time.perf_counter() - start
    out["lessons"] = float(len(lesson_ids(ws.db)))
    out["extraction_failed_items"] = float(done.progress.failed)
    _work(out, "extraction", runs.spend(ws, done))
    if consolidate:
        done = None
        if lesson_ids(ws.db):
            set_status(ws.db, lesson_ids(ws.db), "approved")
            start = time.perf_counter()
            done = runs.execute(ws, create_consolidation_run(ws, ConsolidationConfig(base_version=skill.id)), client)
        if done is None or not done.counters.get("merge_calls"):
            # the toy model's lessons gave nothing to merge (diagnoses only): consolidate the scripted
            # analyst's lessons of the same failures instead; every consolidation call still goes to the
            # embedded model
            scripted = create_extraction_run(ws, ids, ExtractionConfig(outcome="failure", skill_version=skill.id))
            runs.execute(ws, scripted, ScriptedClient(proposer))
            set_status(ws.db, lesson_ids(ws.db), "approved")
            out["scripted_lessons"] = 1.0
            start = time.perf_counter()
            done = runs.execute(ws, create_consolidation_run(ws, ConsolidationConfig(base_version=skill.id)), client)
        out["consolidation"] = time.perf_counter() - start
        out["consolidation_items"] = float(done.progress.total)
        out["consolidation_failed_items"] = float(done.progress.failed)
        out["consolidation_merge_calls"] = float(done.counters.get("merge_calls", 0))
        _work(out, "consolidation", runs.spend(ws, done))
    client.close()
    return out


def _work(out: dict[str, float], stage: str, spent: RunSpend) -> None:
    """The stage's cache hit rate and the tokens the model worked through: prompt tokens not served
    from its cache, plus the tokens it wrote. The toy model's answers differ from run to run (one
    consolidation merges twice, the next once), so two cases are compared per token of work too."""
    out[f"{stage}_cache_hit_rate"] = cache_hit_rate(spent) or 0.0
    out[f"{stage}_prompt_tokens"] = float(spent.prompt_tokens - spent.cached_tokens)
    out[f"{stage}_completion_tokens"] = float(spent.completion_tokens)


def _per_work(case: dict[str, float], stage: str) -> float:
    """Seconds per 1,000 tokens of work (see `_work`)."""
    return 1000 * case[stage] / max(case[f"{stage}_prompt_tokens"] + case[f"{stage}_completion_tokens"], 1.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def beside_the_app(folder: Path) -> dict[str, float]:
    env = {**os.environ, "TRACE2SKILL_DB": str(folder / "app.db"), "PYTHONPATH": str(REPO)}
    app = subprocess.Popen([sys.executable, "-m", "trace2skill", "ui", "--port", str(_free_port())], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(20)  # the app up and idle, as a newcomer leaves it open
        return demo_run(folder)
    finally:
        app.terminate()
        app.wait(30)


def two_at_once(folder: Path) -> dict[str, float]:
    (folder / "other").mkdir()
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + '/bench');"
            "from bench_local_demo import demo_run; from pathlib import Path;"
            "print(json.dumps(demo_run(Path(sys.argv[2]), consolidate=False)))")
    other = subprocess.Popen([sys.executable, "-c", code, str(REPO), str(folder / "other")],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    mine = demo_run(folder, consolidate=False)
    theirs = json.loads((other.communicate(timeout=1800)[0] or "{}").strip().splitlines()[-1])
    return {"extraction": mine["extraction"], "other_extraction": theirs.get("extraction", float("nan"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-pair", action="store_true", help="skip the two-runs-at-once case")
    parser.add_argument("--alone", action="store_true", help="only the first case: this program alone")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for name, case in (("alone", demo_run), ("beside the app", beside_the_app), ("two runs at once", two_at_once)):
        if (name == "two runs at once" and args.skip_pair) or (name != "alone" and args.alone):
            continue
        stop_server()  # a cold prompt cache for every case
        server = ensure_local_server()  # started before timing: a newcomer's first call pays it once
        print(f"model {server.model_name}: {server.threads} threads writing, {server.batch_threads} reading the "
              f"prompt (started for the case {name!r})", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = case(Path(tmp))
        print(f"{name}: " + ", ".join(f"{k} {v:.1f}" for k, v in results[name].items()), flush=True)
    alone = results["alone"]
    for stage, target in TARGETS.items():
        if stage == "consolidation" and not alone.get("consolidation_items"):
            print("consolidation: not measured — no lesson with a skill edit to consolidate")
            continue
        if stage == "consolidation" and alone.get("scripted_lessons"):
            print("consolidation: of the scripted analyst's lessons of the same failures (the toy model's own carry no "
                  "skill edit); every proposal and merge call on the embedded model")
        rate = alone.get(f"{stage}_cache_hit_rate")
        if rate is not None:
            print(f"{stage}: prompt cache hit rate on the embedded llama.cpp server {rate:.1%}")
        print(f"{stage} alone: {alone[stage]:.0f} s (target < {target:.0f} s: {'meets' if alone[stage] < target else 'misses'})")
        if "beside the app" not in results:
            continue
        beside = results["beside the app"][stage]
        ratio = beside / alone[stage]
        print(f"{stage} beside the app: {beside:.0f} s = {ratio:.2f}x alone (target <= 1.5x: "
              f"{'meets' if ratio <= 1.5 else 'misses'})")
        mine, theirs = _per_work(alone, stage), _per_work(results["beside the app"], stage)
        print(f"{stage} per 1,000 tokens of work (prompt not from the cache + written): {mine:.1f} s alone, "
              f"{theirs:.1f} s beside the app = {theirs / mine:.2f}x (target <= 1.5x: "
              f"{'meets' if theirs / mine <= 1.5 else 'misses'})")
    if "two runs at once" in results:
        pair = results["two runs at once"]
        print(f"extraction with a second run at once: {pair['extraction']:.0f} s and {pair['other_extraction']:.0f} s "
              f"= {pair['extraction'] / alone['extraction']:.2f}x alone (the model's work doubled)")


if __name__ == "__main__":
    main()
