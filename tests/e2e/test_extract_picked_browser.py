"""Picking trajectories for Extract in a real browser (the demo workspace, a scripted loopback
endpoint): tick three rows of the Trajectories table, send them to Extract, see exactly those three
listed with the estimate before Start, start, and the run works on exactly those three."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import full_screenshot, grid_text, open_app, screenshot, wait_idle
from tests.fakes import http_analyst_responder
from trace2skill.demo import load_demo
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.trajectories import list_trajectories
from trace2skill.textcut import task_words

ROWS = (0, 2, 3)


def test_pick_three_send_them_to_extract_and_run_exactly_those(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    ws = Workspace(db)
    load_demo(ws)
    table_rows = list_trajectories(ws.db, limit=50)
    picked = [table_rows[i] for i in ROWS]
    with FakeLLMServer(http_analyst_responder, model="fake", latency_s=0.3) as server:
        set_setting(ws.db, "base_url", server.base_url)
        set_setting(ws.db, "model", "fake")
        ws.close()
        app = request.getfixturevalue("app")
        open_app(page, app, "Trajectories")
        page.get_by_text("200 trajectories match").wait_for(timeout=30000)

        table = page.locator(".st-key-traj_table [data-testid=stDataFrame]")
        table.scroll_into_view_if_needed()
        for n, row in enumerate(ROWS, start=1):
            table.click(position={"x": 15, "y": 35 + 35 * row + 17})  # the row's tick box
            page.get_by_role("button", name=f"Extract lessons from these {n}").wait_for(timeout=30000)
            wait_idle(page)
        screenshot(page, "trajectories-picked")
        page.get_by_role("button", name="Extract lessons from these 3").click()

        page.get_by_role("heading", name="Extract lessons").wait_for(timeout=30000)
        page.get_by_text("3 trajectories picked on the Trajectories screen").wait_for(timeout=30000)
        page.get_by_text("This run will process 3 trajectories").wait_for(timeout=30000)
        wait_idle(page)
        listed = grid_text(page, "analyst")
        for row in picked:
            assert row.id in listed and task_words(row.task, 12)[:30] in listed
        others = [r for r in table_rows if r not in picked]
        assert not any(r.id in listed for r in others)
        metric = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Trajectories", exact=True)).first
        assert metric.get_by_test_id("stMetricValue").inner_text().strip() == "3"
        full_screenshot(page, "extract-picked")
        wait_idle(page)  # the screenshot grew the window: let the page settle before clicking

        page.get_by_role("button", name="Start extraction").click()
        page.get_by_text("Extraction run ext-").first.wait_for(timeout=30000)
        progress = page.get_by_test_id("stProgress")
        progress.filter(has_text=re.compile(r"done — 3 of 3 trajectories done")).first.wait_for(timeout=120000)
        wait_idle(page)
    ws = Workspace(db)
    [run] = run_store.list_runs(ws.db, "extraction")
    items = [i.item_id for i in run_store.list_items(ws.db, run.id, limit=100)]
    assert sorted(items) == sorted(r.id for r in picked)
    assert len(server.requests) == sum(r.outcome in ("failure", "success") for r in picked)
