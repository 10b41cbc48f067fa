"""Home in a real browser: empty workspace, load the demo, counts shown; LLM settings saved and the
connection tested against an HTTP fake endpoint."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_page, wait_idle
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import get_settings
from trace2skill.store import Workspace


def test_load_demo_from_an_empty_workspace(app, page):
    open_page(page, app)
    # The first script run imports the library; wait for the page rather than the first paint.
    page.get_by_text("The workspace is empty").wait_for(timeout=60000)
    page.get_by_role("button", name="Load demo data").click()
    page.get_by_text("Imported 200 trajectories").wait_for(timeout=60000)
    wait_idle(page)
    metric = page.locator("[data-testid=stMetric]").filter(has_text="Trajectories")
    assert "200" in metric.inner_text()
    full_screenshot(page, "home")


def test_llm_settings_saved_and_connection_tested(app, page, app_env):
    with FakeLLMServer(model="fake") as server:
        open_page(page, app)
        page.get_by_text("The workspace is empty").wait_for(timeout=60000)
        wait_idle(page)
        page.get_by_label("Endpoint base URL").fill(server.base_url)
        page.get_by_label("Model", exact=True).fill("fake")
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for(timeout=30000)
        assert get_settings(Workspace(Path(app_env["TRACE2SKILL_DB"])).db)["base_url"] == server.base_url
        page.get_by_role("button", name="Test connection").click()
        page.get_by_text("Connection OK").wait_for(timeout=30000)
        assert page.get_by_text(f"connected to {server.base_url}; model fake is available").is_visible()
        assert page.get_by_text("tiny model for trying the pipeline").is_visible()


def test_a_deep_link_as_the_first_request_gets_the_app_frame(app, page):
    """A fresh server, first request straight to a screen: the app's own navigation, not Streamlit's
    list of script files (which is what a pages/ folder beside app.py would give)."""
    open_page(page, app, "trajectories")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Review & diff", exact=True).wait_for(timeout=60000)
    wait_idle(page)
    assert page.get_by_role("heading", name="Trajectories").first.is_visible()
    assert nav.get_by_role("link", name="app", exact=True).count() == 0
