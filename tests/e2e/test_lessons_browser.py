"""Lessons in a real browser: change a status in the data editor and see it saved in the store."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from trace2skill.models import Evidence, Lesson
from trace2skill.store import Workspace
from trace2skill.store.lessons import get_lesson, insert_lessons
from trace2skill.ui.uploads import import_upload

FILE = (b'{"messages": [{"role": "user", "content": "Please change my booking to the later flight <b>now</b>"}, '
        b'{"role": "assistant", "content": "I changed the booking to flight HAT083 without asking."}], "reward": 0}')


def seed(db: Path) -> None:
    ws = Workspace(db)
    tid = import_upload(ws, "chat.jsonl", FILE).report.trajectory_ids[0]
    insert_lessons(ws.db, [
        Lesson(id="les-confirm", trajectory_id=tid, kind="failure_lesson", title="Confirm before changing a booking",
               content="List the change and get an explicit yes before acting.",
               evidence=[Evidence(step_idx=1, quote="changed the booking to flight HAT083", grounded=True,
                                  match="exact")], grounded=True),
        Lesson(id="les-invented", trajectory_id=tid, kind="failure_cause", title="Invented evidence",
               content="Do something.", evidence=[Evidence(step_idx=0, quote="appears nowhere in the run at all",
                                                            grounded=False, match="none")], grounded=False),
    ])
    ws.close()


def test_edit_a_status_in_the_data_editor(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    seed(db)
    app = request.getfixturevalue("app")  # start the app after seeding
    open_app(page, app, "Lessons")
    page.get_by_text("2 lessons match").wait_for(timeout=30000)
    wait_idle(page)

    # Newest first: les-invented was inserted with les-confirm in one batch; find its row by the store's order.
    rows = [r[0] for r in Workspace(db).db.execute("SELECT id FROM lessons ORDER BY rowid DESC")]
    row = rows.index("les-confirm")
    grid = page.locator("[data-testid=stDataFrame]").first
    grid.dblclick(position={"x": 30, "y": 35 + 35 * row + 17})  # the status cell of that row
    option = page.locator("#portal").get_by_text("approved", exact=True)
    for _ in range(5):  # the menu opens with an animation: a click during it can be lost
        option.click()
        try:
            option.wait_for(state="detached", timeout=2000)
            break
        except PlaywrightTimeoutError:
            continue
    page.get_by_text("Saved 1 lesson.").wait_for(timeout=30000)
    wait_idle(page)
    lesson = get_lesson(Workspace(db).db, "les-confirm")
    assert (lesson.status, lesson.version) == ("approved", 2)
    assert get_lesson(Workspace(db).db, "les-invented").status == "proposed"

    # The evidence of the selected lesson, with the quote marked in its step.
    page.get_by_test_id("stButton").filter(has_text="Next").first.click()  # the second lesson: the picker's Next (J)
    page.get_by_text("2 of 2 on page 1").wait_for(timeout=20000)
    wait_idle(page)
    mark = page.locator(".t2s-quote mark")
    mark.wait_for(timeout=20000)
    assert mark.inner_text() == "changed the booking to flight HAT083"
    assert page.get_by_text("grounded (exact)").first.is_visible()
    full_screenshot(page, "lessons")
