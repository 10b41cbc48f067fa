"""What replay verification costs, on the scripted loopback endpoint with a fixed latency L: N failed
QA trajectories with M lessons each, verified with k replays per lesson (and k for the baseline)
and one fix-loop round. Prints the calls and the wall time verification adds per lesson, next to
what extracting that lesson cost (one analyst call per trajectory).

    python bench/bench_verify.py [--n 40] [--lessons 3] [--repeats 2] [--latency 0.5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trace2skill import runs  # noqa: E402
from trace2skill.llm import LLMClient, LLMConfig  # noqa: E402
from trace2skill.llm.fake_server import FakeLLMServer  # noqa: E402
from trace2skill.models import Lesson, Outcome, Step, Task, Trajectory  # noqa: E402
from trace2skill.store import Workspace  # noqa: E402
from trace2skill.store.calls import count_calls  # noqa: E402
from trace2skill.store.lessons import insert_lessons  # noqa: E402
from trace2skill.store.trajectories import insert_trajectories  # noqa: E402
from trace2skill.verify.run import VerifyConfig, create_verification_run  # noqa: E402


def seed(ws: Workspace, n: int, per: int) -> list[str]:
    trajectories = [Trajectory(source_format="qa_run", task=Task(prompt=f"What is {k} plus {k}?"),
                               outcome=Outcome(label="failure"), ground_truth={"answer": str(2 * k)},
                               steps=[Step(index=0, role="user", text=f"What is {k} plus {k}?"),
                                      Step(index=1, role="assistant", text="I think 7.")]).with_id()
                    for k in range(n)]
    insert_trajectories(ws.db, [(t, []) for t in trajectories])
    lessons = [Lesson(id=f"l{k}-{j}", trajectory_id=t.id, kind="failure_lesson", title=f"Lesson {j}",
                      content=f"When adding, write both numbers down first (variant {j}).")
               for k, t in enumerate(trajectories) for j in range(per)]
    insert_lessons(ws.db, lessons)
    return [lesson.id for lesson in lessons]


def measure(n: int, per: int, repeats: int, latency: float, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer(latency_s=latency, keep_requests=False) as server:
        ws = Workspace(Path(tmp, "bench.db"))
        ids = seed(ws, n, per)
        client = LLMClient(ws, LLMConfig(base_url=server.base_url, model="bench"))
        config = VerifyConfig(repeats=repeats, rounds=1, base_url=server.base_url, model="bench",
                              concurrency=concurrency)
        run_id = create_verification_run(ws, ids, config)
        start = time.perf_counter()
        run = runs.execute(ws, run_id, client)
        wall = time.perf_counter() - start
        calls = count_calls(ws.db, run_id=run_id)["sent"]
    lessons = n * per
    return {"lessons": lessons, "calls": calls, "wall": wall, "done": run.progress.done,
            "calls_per_lesson": calls / lessons, "seconds_per_lesson": wall / lessons,
            "extraction_calls_per_lesson": 1 / per, "extraction_seconds_per_lesson": latency * n / concurrency / lessons}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--lessons", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    r = measure(args.n, args.lessons, args.repeats, args.latency, args.concurrency)
    print(f"verification N={args.n} x {args.lessons} lessons, k={args.repeats}, 1 fix round, L={args.latency}s, "
          f"C={args.concurrency}: {r['calls']} calls in {r['wall']:.1f} s")
    print(f"  per lesson: {r['calls_per_lesson']:.2f} calls and {r['seconds_per_lesson']:.3f} s of wall time "
          f"(extracting it: {r['extraction_calls_per_lesson']:.2f} calls, {r['extraction_seconds_per_lesson']:.3f} s)")
    return [{"name": f"verification calls per lesson (k={args.repeats}, {args.lessons} lessons/trajectory, "
                     "1 fix round)", "value": round(r["calls_per_lesson"], 2), "target": "reported", "meets": True},
            {"name": f"verification wall time per lesson (L={args.latency}s, C={args.concurrency})",
             "value": round(r["seconds_per_lesson"], 3), "target": "reported", "meets": True}]


if __name__ == "__main__":
    main()
