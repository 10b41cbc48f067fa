"""Extract in a real browser: start a run on a few failures against an HTTP fake endpoint, watch it
reach "done" live (no clicks: the progress panel polls the database), reload, still see it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.fakes import http_analyst_responder
from trace2skill.demo import load_demo
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store.lessons import count_lessons


@pytest.fixture
def endpoint():
    with FakeLLMServer(http_analyst_responder, model="fake", latency_s=0.6) as server:
        yield server


def _demo_on(app_env, endpoint) -> Path:
    """The app's workspace: the demo data, runs on the loopback endpoint one at a time (a run takes
    a few seconds to watch)."""
    db = Path(app_env["TRACE2SKILL_DB"])
    ws = Workspace(db)
    load_demo(ws)
    set_setting(ws.db, "base_url", endpoint.base_url)
    set_setting(ws.db, "model", "fake")
    set_setting(ws.db, "concurrency", "1")
    ws.close()
    return db


def test_start_a_run_watch_it_finish_and_reload(app_env, page, request, endpoint):
    db = _demo_on(app_env, endpoint)
    app = request.getfixturevalue("app")
    open_app(page, app, "Extract")

    limit = page.get_by_label("Limit (0 = no limit)")
    limit.fill("4")
    limit.press("Enter")
    page.get_by_text("Analyst calls").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMetric]')]"
                           ".some(m => m.innerText.startsWith('Trajectories') && m.innerText.includes('4'))")
    page.get_by_role("button", name="Start extraction").click()

    progress = page.get_by_test_id("stProgress")
    progress.filter(has_text="running").first.wait_for(timeout=20000)  # seen while it works…
    progress.filter(has_text="done — 4 of 4 trajectories done").first.wait_for(timeout=40000)  # …and at the end
    wait_idle(page)
    assert progress.count() == 1
    assert len(endpoint.requests) == 4
    assert count_lessons(Workspace(db).db) == 8

    page.reload()
    page.get_by_test_id("stProgress").filter(has_text="done — 4 of 4 trajectories done").first.wait_for(
        timeout=30000)
    done = page.get_by_test_id("stMetric").filter(has_text="Done")
    assert "4" in done.inner_text()
    assert page.get_by_role("button", name="Resume").is_disabled()
    full_screenshot(page, "extract")


def test_a_toast_says_when_a_run_ends_on_another_screen(app_env, page, request, endpoint):
    _demo_on(app_env, endpoint)
    app = request.getfixturevalue("app")
    open_app(page, app, "Extract")
    limit = page.get_by_label("Limit (0 = no limit)")
    limit.fill("3")
    limit.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start extraction").click()
    started = page.get_by_text("Extraction run ext-").first
    started.wait_for(timeout=30000)
    run_id = started.inner_text().split("Extraction run ", 1)[1].split(" ", 1)[0]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Lessons", exact=True).click()
    toast = page.get_by_test_id("stToast").filter(has_text=f"Extraction run {run_id} is done.")
    toast.wait_for(timeout=60000)
    assert page.get_by_role("heading", name="Lessons").is_visible()  # the user never left Lessons
    full_screenshot(page, "toast-run-done")
