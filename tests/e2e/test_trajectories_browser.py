"""Trajectories in a real browser: upload a file through the file input, read the import report,
open a trajectory from the table, see its signal highlighted at its step, nothing from the data
executed as HTML."""

from __future__ import annotations

import json

from tests.e2e.conftest import full_screenshot, open_app, wait_idle

XSS = '<img src=x onerror="window.__t2s_xss=1"> **not bold**'
CHAT = [
    {"role": "system", "content": "You are a helpful agent."},
    {"role": "user", "content": f"What's the weather in Paris? {XSS}"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": f"Error: service unavailable {XSS}"},
    {"role": "assistant", "content": "Sorry, the weather service is down."},
]


def test_upload_report_open_and_signal(app, page, tmp_path):
    data = tmp_path / "chats.jsonl"
    data.write_text("\n".join([
        json.dumps({"messages": CHAT, "reward": 0}),
        "{not json",
        json.dumps({"messages": [CHAT[1], {"role": "assistant", "content": "It is sunny."}], "reward": 1}),
    ]))
    open_app(page, app, "Trajectories")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(data))
    page.get_by_role("button", name="Import 1 file(s)").click()
    page.get_by_text("Import report: 2 trajectories imported, 0 already present, 1 error in 1 file.").wait_for(
        timeout=30000)
    page.get_by_text("chats.jsonl: record 1 (line 2): invalid JSON").wait_for(timeout=10000)
    page.get_by_text("2 trajectories match").wait_for()
    wait_idle(page)

    # Open the first row of the table (the failed run with the tool error).
    table = page.locator("[data-testid=stDataFrame]").last
    table.click(position={"x": 15, "y": 35 + 17})
    signal = page.locator(".t2s-signal").filter(has_text="tool error").first
    signal.wait_for(timeout=30000)
    wait_idle(page)
    signal.scroll_into_view_if_needed()
    assert signal.is_visible()
    assert "step 3" in signal.inner_text()
    assert "<img src=x" in signal.inner_text()  # shown as text…
    assert page.evaluate("window.__t2s_xss") is None  # …never run
    assert page.get_by_text("**not bold**").count() > 0  # Markdown shown literally, not rendered
    page.get_by_role("heading", name="Steps (5)").wait_for()
    full_screenshot(page, "trajectories")
