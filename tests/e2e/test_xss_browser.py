"""Untrusted text renders as text: a trajectory (and a lesson) full of HTML and script tags is
shown literally in the browser and nothing in it runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import App, open_page, screenshot, wait_idle
from trace2skill.ingest import import_paths
from trace2skill.models import Evidence, Lesson
from trace2skill.store import Workspace
from trace2skill.store.lessons import insert_lessons

SCRIPT = "<script>window.__xss_ran = 'script'</script>"
IMG = "<img src=x onerror=\"window.__xss_ran = 'img'\">"
BOLD = "<b>not bold</b>"


def _seed(db: Path, tmp: Path) -> str:
    chat = {"messages": [
        {"role": "user", "content": f"Book me a flight {SCRIPT} {BOLD}"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "search", "arguments": json.dumps({"q": IMG})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"Error: {IMG} <iframe src='javascript:alert(1)'></iframe>"},
        {"role": "assistant", "content": f"Done {SCRIPT}"},
    ], "outcome": "failure", "task": f"XSS probe {SCRIPT} {IMG}"}
    path = tmp / "xss.jsonl"
    path.write_text(json.dumps(chat) + "\n")
    ws = Workspace(db)
    tid = import_paths(ws, [path]).files[0].trajectory_ids[0]
    insert_lessons(ws.db, [Lesson(id="xss-lesson", trajectory_id=tid, kind="failure_lesson",
                                  title=f"Lesson {SCRIPT}", content=f"Content {IMG} {BOLD}",
                                  evidence=[Evidence(step_idx=2, quote=IMG, grounded=True, match="exact")],
                                  grounded=True)])
    ws.close()
    return tid


def test_trajectory_and_lesson_with_html_render_as_text(app_env, tmp_path, page):

    tid = _seed(Path(app_env["TRACE2SKILL_DB"]), tmp_path)
    app = App(Path(app_env["TRACE2SKILL_DB"]), app_env)
    try:
        open_page(page, app, "trajectories")
        page.get_by_label("open a trajectory by id", exact=False).fill(tid[:10])
        page.keyboard.press("Enter")
        wait_idle(page)
        page.locator("main :text('XSS probe <script>'):visible").first.wait_for(timeout=20000)
        assert page.evaluate("() => window.__xss_ran") is None
        assert page.locator("main script").count() == 0
        assert page.locator("main img[src='x']").count() == 0
        assert page.locator("main iframe").count() == 0
        assert page.locator("main b", has_text="not bold").count() == 0
        assert page.locator(f"main :text('{BOLD}'):visible").count() >= 1  # shown literally
        screenshot(page, "xss-trajectory")

        open_page(page, app, "lessons")
        assert page.evaluate("() => window.__xss_ran") is None
        assert page.locator("main img[src='x']").count() == 0
    finally:
        app.stop()
