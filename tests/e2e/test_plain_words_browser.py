"""Plain words in a real browser: a τ-bench failure reads as a reviewer says it (format name, "1 error",
why it failed, signals in words, "imported … ago" with the exact time on hover); the Skills library names
its columns and says which version is current; a lesson's guidance is edited in a full-size box and
saved with its line breaks; times in tables read "… ago"."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import full_screenshot, grid_text, open_app, open_page, screenshot, wait_idle
from tests.helpers import seed_lessons
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.store import Workspace
from trace2skill.store.lessons import get_lesson, list_lessons
from trace2skill.store.trajectories import get_trajectory

FAILED_RUN = "3e421ff5349c30f7"  # a τ-bench airline failure: r_actions=0.0, 1 tool error, gold_extra signals


def test_a_trajectory_and_the_skills_library_in_words(app_env, page, request):
    ws = Workspace(Path(app_env["TRACE2SKILL_DB"]))
    load_demo(ws)
    t = get_trajectory(ws.db, FAILED_RUN)
    assert (t.outcome_detail, t.n_errors) == ("r_actions=0.0", 1) and any(s.kind == "gold_extra" for s in t.signals)
    ws.close()
    app = request.getfixturevalue("app")
    open_app(page, app)
    home = grid_text(page, "signal") + grid_text(page, "format")
    assert "expected action missing" in home and "τ-bench" in home and "gold_" not in home and "tau_bench" not in home
    open_page(page, app, f"trajectories?trajectory={FAILED_RUN}&step=0")
    page.get_by_role("heading", name="Trajectory", exact=True).wait_for(timeout=30000)
    wait_idle(page)

    main = page.get_by_test_id("stMain")
    facts = main.get_by_text("τ-bench ·").first
    assert " 1 error · " in facts.inner_text() and "1 errors" not in main.inner_text()
    when = facts.locator("span.t2s-time")
    assert when.inner_text() == "just now" or when.inner_text().endswith("ago")
    assert when.get_attribute("title").endswith(" UTC") and t.imported_at[:10] in when.get_attribute("title")
    assert main.get_by_text("Why: The agent's actions did not match the expected ones (score 0.0).").is_visible()
    assert "Outcome detail" not in main.inner_text()
    signals = grid_text(page, "signal")
    assert "call beyond the expected actions" in signals and "tool error" in signals
    assert "gold_" not in signals and "tool_error" not in signals
    assert "gold_" not in main.locator(".t2s-signal").first.inner_text()
    page.get_by_role("heading", name="Trajectory", exact=True).scroll_into_view_if_needed()
    screenshot(page, "trajectory-in-words")

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Skills", exact=True).click()
    page.get_by_role("heading", name="Library").wait_for(timeout=30000)
    wait_idle(page)
    library = grid_text(page, "drafts to review")
    for column in ("skill", "versions", "current version", "drafts to review", "locked sections", "created"):
        assert column in library
    assert "locked_sections" not in library and "n_versions" not in library and DEMO_SKILL in library
    full_screenshot(page, "skills-library-in-words")
    # (the grid's accessible copy holds the exact times; the cells show "… ago": see the screenshot and
    # tests/test_page_skills.py for the column format)
    page.get_by_role("tab", name="History").click()
    wait_idle(page)
    history = grid_text(page, "saved by")
    assert "imported" in history and "current" in history


def test_guidance_is_edited_in_a_full_size_box(app_env, page, request):
    ws = Workspace(Path(app_env["TRACE2SKILL_DB"]))
    seed_lessons(ws)
    lessons = list_lessons(ws.db, limit=100)
    ws.close()
    app = request.getfixturevalue("app")
    open_app(page, app)
    screenshot(page, "home-runs-in-words")

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Lessons", exact=True).click()
    page.get_by_role("heading", name="Evidence").wait_for(timeout=30000)
    wait_idle(page)
    table = grid_text(page, "guidance")
    assert "guidance" in table and ">content<" not in table
    shown = page.get_by_test_id("stSelectbox").filter(has_text="Lesson").last.locator("input").input_value()
    first = next(x for x in lessons if x.id[:10] in shown)  # the lesson the evidence panel opened on
    page.get_by_text("Edit this lesson").click()
    box = page.get_by_test_id("stForm").get_by_role("textbox", name="Guidance", exact=True)
    box.wait_for(timeout=20000)
    assert box.evaluate("el => el.tagName") == "TEXTAREA" and box.input_value() == first.content
    new = "Before changing a booking, read the fare rules back to the customer.\nThen ask for a clear yes."
    box.fill(new)
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Lesson saved (recorded as your edit).").wait_for(timeout=30000)
    wait_idle(page)
    saved = get_lesson(Workspace(Path(app_env["TRACE2SKILL_DB"])).db, first.id)
    assert saved.content == new and saved.version == first.version + 1  # the line break kept
    screenshot(page, "lesson-guidance-editor")
