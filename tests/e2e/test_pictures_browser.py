"""Pictures and run panels in a real browser: the chart of how many trajectories stand behind each
change of a proposal; a run's progress over time; a pace that is never cut off; and a run picker
whose label follows the run to its end without a reload."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import ARTIFACTS, full_screenshot, open_app, screenshot, wait_idle
from tests.helpers import http_responder, seed_consolidation, seed_lessons, seed_timed_run
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.ui.pickers import consolidation_runs

# Whether any part of an element's text is cut off (wider than the box that shows it).
CUT_OFF = "el => [el, ...el.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1)"


def test_review_charts_the_support_of_the_proposals_changes(app_env, page, request):
    seed_consolidation(Workspace(Path(app_env["TRACE2SKILL_DB"])))
    app = request.getfixturevalue("app")
    open_app(page, app, "Review & diff")
    box = page.locator(".st-key-rev_support")
    box.get_by_text("How many trajectories stand behind each change").wait_for(timeout=30000)
    wait_idle(page)
    assert box.get_by_text("2 changes: 1 backed by 3 trajectories, 1 by 6 trajectories.", exact=True).is_visible()
    chart = box.get_by_test_id("stVegaLiteChart")
    chart.wait_for(timeout=20000)
    page.wait_for_timeout(800)  # let the chart draw
    assert chart.bounding_box()["height"] > 100
    full_screenshot(page, "review-support")
    box.screenshot(path=str(ARTIFACTS / "review-support-chart.png"))
    # The hunks below say the same, one by one.
    assert page.get_by_text("supported by 3 trajectories").is_visible()
    assert page.get_by_text("supported by 6 trajectories").is_visible()


def _finished_extraction(db: Path) -> None:
    ws = Workspace(db)
    seed_timed_run(ws)  # 30 trajectories in ten seconds, three a second, the last two failed
    ws.close()


def test_the_pace_is_short_and_never_cut_off(app_env, page, request):
    _finished_extraction(Path(app_env["TRACE2SKILL_DB"]))
    app = request.getfixturevalue("app")
    open_app(page, app, "Extract")
    page.get_by_text(re.compile(r"Run ext-\S+: done, 2 of 30 failed \(Resume retries them\) — 28 of 30 trajectories "
                                r"done")).wait_for(timeout=30000)
    wait_idle(page)

    def metric(label: str):
        return page.get_by_test_id("stMetric").filter(
            has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))

    assert metric("Pace").get_by_test_id("stMetricValue").inner_text().strip() == "180/min"
    for label in ("Queued", "Running", "Done", "Failed", "Cancelled", "Elapsed", "Pace", "ETA"):
        value = metric(label).get_by_test_id("stMetricValue")  # every number of the headline shows whole
        assert not value.evaluate(CUT_OFF), f"{label} is cut off: {value.inner_text()!r}"
    full_screenshot(page, "pace")
    page.locator(".st-key-ext_counts").screenshot(path=str(ARTIFACTS / "pace-counts.png"))


def test_a_run_shows_its_progress_over_time(app_env, page, request):
    _finished_extraction(Path(app_env["TRACE2SKILL_DB"]))
    app = request.getfixturevalue("app")
    open_app(page, app, "Extract")
    timeline = page.locator(".st-key-ext_timeline")
    timeline.get_by_text("Trajectories finished over time").wait_for(timeout=30000)
    chart = timeline.get_by_test_id("stVegaLiteChart")
    chart.wait_for(timeout=20000)
    wait_idle(page)
    page.wait_for_timeout(800)  # let the chart draw
    assert chart.bounding_box()["height"] > 100
    # A run of ten seconds is counted in seconds; failed items get their own colour, named in a legend.
    assert "seconds since the run started" in chart.inner_text()
    assert "failed" in chart.inner_text()
    full_screenshot(page, "run-progress-over-time")
    timeline.screenshot(path=str(ARTIFACTS / "run-progress-over-time-chart.png"))


def test_the_run_picker_follows_the_run_to_its_end(app_env, page, request):
    ws = Workspace(Path(app_env["TRACE2SKILL_DB"]))
    seed_lessons(ws)
    with FakeLLMServer(http_responder, model="fake", latency_s=1.5) as server:
        set_setting(ws.db, "base_url", server.base_url)
        set_setting(ws.db, "model", "fake")
        app = request.getfixturevalue("app")
        open_app(page, app, "Consolidate")
        page.get_by_text("Batch similar patches together").click()  # no embeddings: fewer moving parts
        wait_idle(page)
        concurrency = page.get_by_role("spinbutton", name="Concurrency")
        concurrency.fill("2")  # two at a time: the proposals finish one after another
        concurrency.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Start consolidation").click()
        picker = page.get_by_role("combobox", name="Run", exact=True)
        page.get_by_text(re.compile(r"Run con-\S+: running")).first.wait_for(timeout=30000)
        live_label = picker.input_value()
        screenshot(page, "picker-live")
        page.get_by_text(re.compile(r"Run con-\S+: done — 6 of 6 patch proposals done")).first.wait_for(
            timeout=60000)
        page.get_by_role("button", name="Review the proposal").wait_for(timeout=30000)
        wait_idle(page)
    run_id = consolidation_runs(ws.db)[0]["id"]
    assert "· running ·" in live_label or "· queued ·" in live_label  # under way (either is redrawn at the end)
    shown = picker.input_value()  # no reload: the label says what the panel says
    assert re.search(rf"{run_id} · deepen · 12 lessons · done · created", shown), shown
    # The progress over time stays on the finished run's panel.
    timeline = page.locator(".st-key-con_timeline")
    assert timeline.get_by_text("Patch proposals finished over time").is_visible()
    assert timeline.get_by_test_id("stVegaLiteChart").is_visible()
    full_screenshot(page, "picker-done")
