"""Step links in a real browser: from Provenance a quoted step opens its trajectory at that step,
scrolled into view and highlighted, with the quote marked inside it; a quote citing a step the run
does not have says so in words, on Provenance and where the link lands; a step number in a signal
table goes to that step."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_app, screenshot, wait_idle
from tests.fakes import ScriptedClient
from tests.helpers import BOOK_LINE, consolidate, extract, proposer, seed_consolidation
from trace2skill.analysis.fleet import ExtractionConfig, select_trajectories
from trace2skill.consolidate.run import ConsolidationConfig
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.provenance import blame
from trace2skill.store import Workspace
from trace2skill.store.lessons import lesson_ids, set_status
from trace2skill.store.skills import get_version, latest_version
from trace2skill.store.trajectories import TrajectoryFilter, get_trajectory, list_trajectories
from trace2skill.ui.words import signal_words

IN_VIEW = "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"
MISSING = 99


def _lands_on(page, step: int):
    target = page.locator(f"#step-{step}")
    target.wait_for(timeout=30000)
    wait_idle(page)
    page.wait_for_timeout(2500)  # the scroll is repeated while the page settles
    assert target.evaluate(IN_VIEW), f"step {step} is not scrolled into view"
    return target


def test_provenance_opens_the_trajectory_at_the_quoted_step(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    seeded = seed_consolidation(Workspace(db))
    lines = get_version(seeded.ws.db, seeded.result.version).files["SKILL.md"].splitlines()
    found = blame(seeded.ws.db, seeded.result.version, "SKILL.md", lines.index(BOOK_LINE) + 1)
    quoted = found["steps"][0]
    app = request.getfixturevalue("app")
    open_app(page, app, "Provenance")
    page.get_by_text("from a consolidation edit").wait_for(timeout=30000)
    wait_idle(page)
    page.get_by_role("button", name=f"Open step {quoted['step_idx']}").first.click()

    _lands_on(page, quoted["step_idx"])
    assert "/trajectories" in page.url
    focus = page.locator(".st-key-t2s_focus_step")
    assert focus.count() == 1
    assert f"You are at step {quoted['step_idx']}; quote 1 of the lesson" in focus.inner_text()
    mark = focus.locator(".t2s-quote mark")
    assert mark.count() == 1 and mark.inner_text().strip() == quoted["quote"].strip()
    assert quoted["trajectory_id"] in page.get_by_test_id("stCode").first.inner_text()  # the trajectory opened
    screenshot(page, "step-link-from-provenance")

    # The same from a lesson's evidence on the Lessons screen.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Lessons", exact=True).click()
    link = page.get_by_role("link", name=re.compile(r"Open step \d+ in its trajectory")).first
    link.wait_for(timeout=30000)
    wait_idle(page)
    step = int(re.search(r"Open step (\d+)", link.inner_text()).group(1))
    link.click()
    _lands_on(page, step)
    assert "quote 1 of the lesson" in page.locator(".st-key-t2s_focus_step").inner_text()
    assert page.locator(".st-key-t2s_focus_step .t2s-quote mark").count() == 1


def _cites_a_missing_step(messages, output):
    answer = proposer(messages, output)
    if output.__name__ in ("ErrorAnalysis", "SuccessAnalysis"):
        for lesson in answer["lessons"]:
            if lesson["title"] == "Confirm details first":
                lesson["evidence"] = [{"step": MISSING, "quote": "a sentence this run never says at all"}]
    return answer


def test_a_quote_citing_a_missing_step_says_so(app_env, page, request):
    ws = Workspace(Path(app_env["TRACE2SKILL_DB"]))
    load_demo(ws)
    client = ScriptedClient(_cites_a_missing_step)
    extract(ws, select_trajectories(ws, outcome="all", sample=4, seed=3, balance=True), client,
            ExtractionConfig(max_lessons=2))
    set_status(ws.db, lesson_ids(ws.db), "approved")
    consolidate(ws, ConsolidationConfig(base_version=latest_version(ws.db, DEMO_SKILL).id, batch_size=2,
                                        embeddings=False, skill_chars=20000), client)
    app = request.getfixturevalue("app")
    open_app(page, app, "Provenance")
    page.get_by_text("from a consolidation edit").wait_for(timeout=30000)
    wait_idle(page)
    missing = page.locator(".t2s-missing")
    assert missing.count() >= 1
    words = missing.first.inner_text()
    sizes = re.fullmatch(rf"Step {MISSING} does not exist: this run has (\d+) steps\.", words)
    assert sizes, words
    runs = {get_trajectory(ws.db, i, with_steps=False).n_steps for i in lesson_trajectory_ids(ws)}
    assert int(sizes.group(1)) in runs
    full_screenshot(page, "step-link-missing-provenance")

    page.get_by_role("button", name=f"Open step {MISSING}").first.click()
    target = _lands_on(page, MISSING)
    assert re.fullmatch(rf"Step {MISSING} does not exist: this run has \d+ steps\.", target.inner_text().strip())
    assert page.locator(".st-key-t2s_focus_step").count() == 0
    screenshot(page, "step-link-missing-trajectory")


def lesson_trajectory_ids(ws: Workspace) -> set[str]:
    from trace2skill.store.lessons import lessons_by_ids

    return {lesson.trajectory_id for lesson in lessons_by_ids(ws.db, lesson_ids(ws.db))}


def test_a_step_number_in_the_signal_table_goes_to_the_step(app_env, page, request):
    ws = Workspace(Path(app_env["TRACE2SKILL_DB"]))
    load_demo(ws)
    # A long run with a signal far down its steps.
    rows = list_trajectories(ws.db, TrajectoryFilter(signal="tool_error"), limit=200)
    runs = [get_trajectory(ws.db, r.id) for r in rows]
    run = max((t for t in runs if t.signals[0].step_idx is not None), key=lambda t: t.signals[0].step_idx or 0)
    signal = run.signals[0]  # the table's first row
    assert signal.step_idx is not None and signal.step_idx >= 8
    app = request.getfixturevalue("app")
    open_app(page, app, "Trajectories")
    box = page.get_by_label("…or open a trajectory by id (a unique prefix is enough)")
    box.fill(run.id)
    box.press("Enter")
    page.get_by_role("heading", name=re.compile(r"Signals \(\d+\)")).wait_for(timeout=30000)
    wait_idle(page)
    table = page.locator(".st-key-traj_signals [data-testid=stDataFrame]")
    table.scroll_into_view_if_needed()
    table.click(position={"x": 40, "y": 35 + 17})  # the step cell of the first signal
    _lands_on(page, signal.step_idx)
    focus = page.locator(".st-key-t2s_focus_step")
    assert f"You are at step {signal.step_idx}." in focus.inner_text()
    assert signal_words(signal.kind) in focus.locator(".t2s-signal").first.inner_text()
    screenshot(page, "step-link-from-signal")
