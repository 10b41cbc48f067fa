"""Home in a real browser: empty workspace, load the demo, counts shown."""

from __future__ import annotations

from tests.e2e.conftest import open_page, screenshot, wait_idle


def test_load_demo_from_an_empty_workspace(app, page):
    open_page(page, app)
    assert page.get_by_text("The workspace is empty").is_visible()
    page.get_by_role("button", name="Load demo data").click()
    page.get_by_text("Imported 200 trajectories").wait_for(timeout=60000)
    wait_idle(page)
    metric = page.locator("[data-testid=stMetric]").filter(has_text="Trajectories")
    assert "200" in metric.inner_text()
    screenshot(page, "home")
