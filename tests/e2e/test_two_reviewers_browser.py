"""Two reviewers in two browser contexts against one app, with two-person approval on: each gives
their name in the sidebar, reviews the lesson in their queue ("My queue"), comments on it, and
approves the proposal on Review & diff. After Ann's approval the save is refused (the button is
disabled, the reason shown); after Ben's it is allowed and Ben saves. The Activity screen, and the
decisions in the workspace, show both names on the right decisions."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import CHROMIUM, full_screenshot, grid_text, open_app, wait_idle
from tests.helpers import seed_consolidation
from trace2skill.assignments import assign_lessons
from trace2skill.models import Evidence, Lesson
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.version_states import current_version_id
from trace2skill.ui.uploads import import_upload

FILE = (b'{"messages": [{"role": "user", "content": "Please move my booking to the later flight"}, '
        b'{"role": "assistant", "content": "I changed the booking to flight HAT083 without asking."}], "reward": 0}')
QUEUES = {"Ann": ("les-ann", "Read the new flight back to the user before changing a booking."),
          "Ben": ("les-ben", "Ask which flight the user means when two flights match the request.")}


def seed(db: Path) -> str:
    """The demo workspace with a consolidation's proposal, one clean lesson in each reviewer's
    queue, and two-person approval on; returns the proposal's id."""
    ws = Workspace(db)
    proposal = seed_consolidation(ws).result.version
    tid = import_upload(ws, "chat.jsonl", FILE).report.trajectory_ids[0]
    insert_lessons(ws.db, [Lesson(id=lesson_id, trajectory_id=tid, kind="failure_lesson", title=f"{name}'s lesson",
                                  content=text, grounded=True,
                                  evidence=[Evidence(step_idx=1, quote="changed the booking to flight HAT083",
                                                     grounded=True, match="exact")])
                           for name, (lesson_id, text) in QUEUES.items()])
    for name, (lesson_id, _) in QUEUES.items():
        assign_lessons(ws.db, [lesson_id], [name], actor="Cy")
    set_setting(ws.db, "required_approvals", "2")
    ws.close()
    return proposal


def sign_in(page, app, name: str) -> None:
    open_app(page, app)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_label("Your name").fill(name)
    sidebar.get_by_role("button", name="Start reviewing").click()
    sidebar.get_by_text(f"Reviewing as {name}").wait_for(timeout=30000)
    wait_idle(page)


def go(page, link: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    wait_idle(page)


def review_my_lesson(page, name: str) -> None:
    """My queue on, approve the one lesson there, and comment on it."""
    _, guidance = QUEUES[name]
    go(page, "Lessons")
    page.get_by_text("My queue: 1 lesson assigned to you, 1 to review").click()
    wait_idle(page)
    page.get_by_text("1 of 1 on page 1").wait_for(timeout=30000)  # only the lesson in my queue
    page.get_by_text(guidance).locator("visible=true").first.wait_for(timeout=10000)  # the evidence panel's lesson
    page.locator(".st-key-les_set_approved button").click()
    page.get_by_text("Lesson marked approved.").wait_for(timeout=30000)
    wait_idle(page)
    box = page.get_by_label("Comment on this lesson")
    box.fill(f"{name}: the guidance reads well")
    box.press("Control+Enter")
    wait_idle(page)
    page.locator(".st-key-les_comments_add button").click()
    page.locator(".t2s-comment").filter(has_text=f"{name}: the guidance reads well").wait_for(timeout=30000)
    wait_idle(page)
    assert page.get_by_text(re.compile(r"Comments · 1 open thread")).is_visible()


def approve_proposal(page) -> None:
    go(page, "Review & diff")
    page.locator('[class*="st-key-rev_hbox-"]').first.wait_for(timeout=60000)
    button = page.get_by_role("button", name="Approve this proposal")
    button.scroll_into_view_if_needed()
    button.click()
    page.get_by_role("button", name="You approved this result").wait_for(timeout=30000)
    wait_idle(page)


def test_two_reviewers_approve_and_the_second_approval_allows_the_save(app_env, browser, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    proposal = seed(db)
    app = request.getfixturevalue("app")
    assert Path(CHROMIUM).exists()
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    try:
        ann, ben = (c.new_page() for c in contexts)
        sign_in(ann, app, "Ann")
        sign_in(ben, app, "Ben")
        review_my_lesson(ann, "Ann")
        review_my_lesson(ben, "Ben")

        approve_proposal(ann)
        assert ann.get_by_text("Approved by Ann (1 of 2 approvals)").is_visible()
        ann.get_by_text("so far only Ann has").wait_for(timeout=10000)
        assert ann.get_by_role("button", name="Save as the current version").is_disabled()  # refused after one
        full_screenshot(ann, "two-reviewers-refused")

        approve_proposal(ben)
        assert ben.get_by_text("Approved by Ann, Ben (2 of 2 approvals)").is_visible()
        save = ben.get_by_role("button", name="Save as the current version")
        assert save.is_enabled()  # allowed after the second
        save.click()
        ben.get_by_text(f"Saved proposal {proposal[:12]} as it is").wait_for(timeout=30000)
        wait_idle(ben)

        go(ben, "Activity")
        ben.get_by_test_id("stDataFrame").first.wait_for(timeout=30000)
        wait_idle(ben)
        shown = grid_text(ben, "reviewer")
        for words in ("Benapproved the proposal", "Annapproved the proposal", "Bensaved the version",
                      "Annapproved the lesson", "Benapproved the lesson"):
            assert words in shown, words
        full_screenshot(ben, "two-reviewers-activity")
    finally:
        for c in contexts:
            c.close()

    ws = Workspace(db)
    assert current_version_id(ws.db, "airline-policy") == proposal
    on_proposal = [(d.action, d.actor) for d in reversed(list_decisions(ws.db, "skill_version", proposal))]
    assert on_proposal == [("approve", "Ann"), ("approve", "Ben"), ("save", "Ben")]
    save = list_decisions(ws.db, "skill_version", proposal)[0]
    assert save.detail["approved_by"] == ["Ann", "Ben"] and save.detail["required_approvals"] == 2
    for name, (lesson_id, _) in QUEUES.items():
        assert [(d.action, d.actor) for d in list_decisions(ws.db, "lesson", lesson_id)] == [("approved", name)]
    assert sorted(d.actor for d in list_decisions(ws.db, "comment")) == ["Ann", "Ben"]
    ws.close()
