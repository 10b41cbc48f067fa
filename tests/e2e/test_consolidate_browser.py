"""Consolidate in a real browser: start a run against a loopback endpoint with latency, watch the
merge tree fill in and the run finish without reloading, then follow the link to the review."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_app, screenshot, wait_idle
from tests.helpers import http_responder, seed_lessons
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store.patches import list_nodes
from trace2skill.store.skills import list_proposals
from trace2skill.ui.pickers import consolidation_runs

BOXES = ("[data-testid=stElementContainer][class*='st-key-con_tree_'], "
         "[data-testid=stElementContainer][class*='st-key-con_leaf_']")

# Once the page says part of the merge tree is done: the run's status and the distinct tree boxes on
# screen (a box drawn twice across a rerun counted once); null (keep polling) until then.
LIVE_SNAPSHOT = """(boxes) => {
  const text = document.body.innerText;
  if (!/Merge tree: [1-5] of \\d merges done/.test(text)) return null;
  const status = (text.match(/Run con-\\S+: (\\w+)/) || [])[1];
  const keys = new Set();
  for (const el of document.querySelectorAll(boxes)) {
    for (const c of el.classList) if (c.startsWith("st-key-con_")) keys.add(c);
  }
  return {status: status || "", boxes: keys.size};
}"""


def test_start_a_run_and_watch_the_tree_fill_in(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    ws = Workspace(db)
    seed_lessons(ws)
    with FakeLLMServer(http_responder, model="fake", latency_s=3.0) as server:  # a partial tree stays on screen a while
        set_setting(ws.db, "base_url", server.base_url)
        set_setting(ws.db, "model", "fake")
        app = request.getfixturevalue("app")  # start the app after seeding
        open_app(page, app, "Consolidate")
        page.get_by_text("12 approved lessons from 6 trajectories").wait_for(timeout=30000)
        batch = page.get_by_role("spinbutton", name="Proposals per merge")
        batch.fill("2")
        batch.press("Enter")
        wait_idle(page)
        page.get_by_text("Batch similar patches together").click()  # no embeddings: fewer moving parts
        wait_idle(page)
        page.get_by_role("button", name="Start consolidation").click()

        # Live: the run in progress with the tree half built (some merges done, the rest queued or
        # running), read in one look at the page so a rerun between two reads cannot mix states;
        # then (without reloading) the finished tree.
        live = page.wait_for_function(LIVE_SNAPSHOT, arg=BOXES, timeout=30000).json_value()
        screenshot(page, "consolidate-live")
        page.get_by_text(re.compile(r"Run con-\S+: done — 6 of 6 patch proposals done")).first.wait_for(
            timeout=45000)
        page.get_by_text("Merge tree: 6 of 6 merges done").first.wait_for(timeout=30000)
        page.get_by_role("button", name="Review the proposal").wait_for(timeout=30000)
        wait_idle(page)
    run_id = consolidation_runs(ws.db)[0]["id"]
    assert live["status"] in ("queued", "running") and 6 < live["boxes"] <= 12, live
    assert len(list_nodes(ws.db, run_id)) == 6 and list_proposals(ws.db, run_id=run_id)
    page.locator(BOXES).nth(11).wait_for(timeout=20000)
    assert page.locator(BOXES).count() == 12  # six leaves, six merge nodes, each a box to click
    assert "Level 3 · " in page.locator(".st-key-con_tree_3_0 button").first.inner_text()
    full_screenshot(page, "consolidate")

    page.get_by_role("button", name="Review the proposal").click()
    page.get_by_role("heading", name="Review & diff").wait_for(timeout=30000)
    wait_idle(page)
    assert page.get_by_text("Hunk 1 of 2", exact=True).is_visible()
    assert page.get_by_text("2 hunks: 0 accepted, 0 rejected, 2 undecided", exact=True).is_visible()
