"""Search in a real browser, on the demo workspace (200 τ-bench airline runs, each starting with the
same policy as its system prompt): "insurance" lists only the runs that mention insurance outside
that policy, best matches first, with the word marked in each result; with "Include system prompts
and shared text" ticked, all 200; a result's step link opens the run at that step."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.conftest import open_app, screenshot, wait_idle
from trace2skill.demo import TAU_BENCH_RUNS, demo_data_dir, load_demo
from trace2skill.store import Workspace
from trace2skill.store.trajectories import get_trajectory


def _mentions_outside_the_policy() -> int:
    raw = json.loads((demo_data_dir() / TAU_BENCH_RUNS).read_text())
    return sum(1 for r in raw if "insur" in (json.dumps([m for m in r["traj"] if m["role"] != "system"])
                                            + r["info"]["task"]["instruction"]).lower())


def test_search_ranks_marks_and_leaves_out_the_shared_policy(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    ws = Workspace(db)
    load_demo(ws)
    expected = _mentions_outside_the_policy()
    assert 150 < expected < 200
    app = request.getfixturevalue("app")
    open_app(page, app, "Trajectories")

    box = page.get_by_label("Search text (task, steps, tool output)")
    box.fill("insurance")
    box.press("Enter")
    page.get_by_text(f"{expected} trajectories match", exact=True).wait_for(timeout=30000)
    wait_idle(page)
    page.get_by_text(re.compile(rf"{200 - expected} more trajectories mention .insurance. only in system prompts"))\
        .wait_for()

    hits = page.locator(".t2s-hit")
    assert hits.count() == 50  # the first page, best first
    marks = page.locator(".t2s-hit mark")
    assert marks.count() >= 50
    assert {m.lower() for m in marks.all_inner_texts()} <= {"insurance", "insured"}
    first = hits.first.inner_text()
    assert first.startswith("#1 · trajectory ")
    best = get_trajectory(ws.db, first.split("trajectory ", 1)[1].split(" ", 1)[0])
    assert "insurance" in best.task.lower()  # the run whose task is about insurance comes first
    screenshot(page, "search-insurance")

    page.get_by_text("Include system prompts and shared text", exact=True).click()
    page.get_by_text("200 trajectories match", exact=True).wait_for(timeout=30000)
    wait_idle(page)
    assert page.get_by_text(re.compile("only in system prompts")).count() == 0

    # A result's step link opens that run at the step, highlighted and scrolled to.
    link = page.locator(".st-key-traj_hit_0").get_by_role("link", name=re.compile(r"Open step \d+"))
    step = int(link.inner_text().rsplit(" ", 1)[1])
    link.click()
    target = page.locator(f"#step-{step}")
    target.wait_for(timeout=30000)
    wait_idle(page)
    page.wait_for_timeout(1500)
    assert target.evaluate("el => { const r = el.getBoundingClientRect(); "
                           "return r.top >= 0 && r.bottom <= window.innerHeight; }")
    assert page.locator(".st-key-t2s_focus_step").count() == 1
    screenshot(page, "search-open-step")
