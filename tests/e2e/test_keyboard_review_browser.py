"""Keyboard review in a real browser: on the Lessons screen, approve three lessons and edit one with
keys only (J next, A approve and move on, E edit), the evidence panel following the selected
lesson, and every decision in the workspace recorded as the reviewer's."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_page, wait_idle
from trace2skill.models import Evidence, Lesson
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import insert_lessons
from trace2skill.ui.uploads import import_upload

FILE = (b'{"messages": [{"role": "user", "content": "Please change my booking to the later flight"}, '
        b'{"role": "assistant", "content": "I changed the booking to flight HAT083 without asking."}], "reward": 0}')
GUIDANCE = ["Check the baggage allowance of the cabin class.", "Verify the payment method belongs to the user.",
            "Search one-stop flights when no direct flight fits.", "Compute the refund before telling the amount."]
REVIEWER = "Dana Reyes"


def seed(db: Path) -> None:
    ws = Workspace(db)
    tid = import_upload(ws, "chat.jsonl", FILE).report.trajectory_ids[0]
    insert = [Lesson(id=f"les-{i}", trajectory_id=tid, kind="failure_lesson", title=f"Lesson {i}", content=text,
                     evidence=[Evidence(step_idx=1, quote="changed the booking to flight HAT083", grounded=True,
                                        match="exact")], grounded=True)
              for i, text in enumerate(GUIDANCE)]
    insert_lessons(ws.db, insert)
    ws.close()


def statuses(db: Path) -> dict[str, str]:
    ws = Workspace(db)
    try:
        return dict(ws.db.execute("SELECT id, status FROM lessons"))
    finally:
        ws.close()


def wait_for(check, what: str, timeout_s: float = 30) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def press(page, key: str) -> None:
    page.keyboard.press(key)
    page.wait_for_timeout(400)  # the rerun the key starts
    wait_idle(page)


def shows(page, n: int) -> None:
    """Wait until the evidence panel shows lesson les-n (its guidance, in the panel's text)."""
    page.locator("[data-testid=stCode]").filter(has_text=GUIDANCE[n]).wait_for(timeout=20000)


def test_approve_three_lessons_with_keys_only(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    seed(db)
    app = request.getfixturevalue("app")  # start the app after seeding
    open_page(page, app, "lessons?reviewer=Dana%20Reyes")
    page.get_by_text("4 lessons match").wait_for(timeout=60000)
    page.get_by_text("Review with the keyboard").wait_for(timeout=30000)
    wait_idle(page)
    page.locator("body").focus()

    # Newest first: les-3, les-2, les-1, les-0. The panel shows les-3's guidance.
    shows(page, 3)
    press(page, "a")  # approve les-3, then les-2 is shown
    wait_for(lambda: statuses(db)["les-3"] == "approved", "les-3 approved")
    shows(page, 2)
    press(page, "j")  # skip les-2: the panel follows to les-1
    shows(page, 1)
    press(page, "a")  # approve les-1, then les-0
    wait_for(lambda: statuses(db)["les-1"] == "approved", "les-1 approved")
    shows(page, 0)
    press(page, "a")  # approve les-0
    wait_for(lambda: statuses(db)["les-0"] == "approved", "les-0 approved")
    assert statuses(db) == {"les-0": "approved", "les-1": "approved", "les-2": "proposed", "les-3": "approved"}

    # E opens the edit form with the keyboard in its title box; typing there is not taken for keys.
    press(page, "k")
    press(page, "k")  # back to les-2
    shows(page, 2)
    press(page, "e")
    title_box = page.locator('[class*="st-key-les_edit_title_les-2"] input')
    title_box.wait_for(timeout=20000)
    wait_for(lambda: title_box.evaluate("el => el === document.activeElement"), "the title box to take the keyboard")
    page.keyboard.type("Ask before a change, explain the fare")  # letters a, x, j, k, e: typed, not keys
    page.keyboard.press("Enter")  # submits the form
    page.get_by_text("Lesson saved (recorded as your edit).").wait_for(timeout=30000)
    wait_idle(page)
    shows(page, 2)  # the panel stays on the edited lesson, with its new title
    page.get_by_test_id("stText").filter(has_text="Ask before a change, explain the fare").wait_for(timeout=20000)
    full_screenshot(page, "keyboard-review")

    ws = Workspace(db)
    try:
        lesson = dict(ws.db.execute("SELECT id, title FROM lessons"))
        assert lesson["les-2"] == "Ask before a change, explain the fare"
        assert statuses(db)["les-2"] == "proposed"  # nothing approved or rejected while typing
        decided = [(d.subject_id, d.action, d.actor) for i in range(4)
                   for d in list_decisions(ws.db, "lesson", f"les-{i}")]
    finally:
        ws.close()
    assert sorted(decided) == [("les-0", "approved", REVIEWER), ("les-1", "approved", REVIEWER),
                               ("les-2", "edit", REVIEWER), ("les-3", "approved", REVIEWER)]
