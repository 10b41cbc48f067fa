"""Review & diff in a real browser: reject one hunk of a proposal, save, and see the new version
(and its text, without the rejected hunk) in the store and, as the current version, in the history
on the page."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.helpers import BOOK_LINE, CANCEL_LINE, seed_consolidation
from trace2skill.store import Workspace
from trace2skill.store.skills import latest_version


def test_reject_a_hunk_and_save_a_new_version(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    seeded = seed_consolidation(Workspace(db))
    app = request.getfixturevalue("app")
    open_app(page, app, "Review & diff")
    first = page.locator('[class*="st-key-rev_hbox-"]').first  # the "Book flight" hunk
    first.get_by_text("Hunk 1 of 2").wait_for(timeout=30000)
    wait_idle(page)  # the second hunk comes later in the same run
    assert page.get_by_text("supported by 3 trajectories").is_visible()
    assert page.get_by_text("supported by 6 trajectories").is_visible()

    first.get_by_role("radio", name="Reject", exact=True).click()
    page.locator('[class*="st-key-rev_counts"]').get_by_text("2 hunks: 0 accepted, 1 rejected, 1 undecided",
                                                             exact=True).wait_for(timeout=30000)
    wait_idle(page)
    page.get_by_role("button", name="Save as the current version").click()
    page.get_by_text("Saved version").wait_for(timeout=30000)
    wait_idle(page)

    saved = latest_version(Workspace(db).db, "airline-policy")
    assert (saved.source, saved.parent) == ("manual", seeded.result.version)
    assert CANCEL_LINE in saved.files["SKILL.md"] and BOOK_LINE not in saved.files["SKILL.md"]
    assert page.get_by_text(f"Saved version {saved.id} of airline-policy").is_visible()
    page.get_by_text("History of airline-policy").click()
    history = page.get_by_test_id("stExpander").filter(has_text="History of airline-policy")
    history.get_by_test_id("stDataFrame").wait_for(timeout=20000)
    wait_idle(page)
    assert page.get_by_text(f"Reviewed: the result of this proposal was saved as version {saved.id[:12]}").is_visible()
    full_screenshot(page, "review")
