"""Provenance in a real browser: open a changed line of the proposal and see the supporting
lessons and the quoted steps with the quote highlighted (escaped text, <mark> around the quote)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.helpers import BOOK_LINE, CANCEL_LINE, seed_consolidation
from trace2skill.provenance import blame
from trace2skill.store import Workspace
from trace2skill.store.skills import get_version


def test_open_a_changed_line_and_see_the_highlighted_quotes(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    seeded = seed_consolidation(Workspace(db))
    lines = get_version(Workspace(db).db, seeded.result.version).files["SKILL.md"].splitlines()
    app = request.getfixturevalue("app")
    open_app(page, app, "Provenance")
    page.get_by_text("from a consolidation edit").wait_for(timeout=30000)
    page.locator(".t2s-quote mark").nth(2).wait_for(timeout=30000)  # the quoted steps come after the badge
    wait_idle(page)
    assert page.locator(".t2s-quote mark").count() == 3  # the booking line: the three failed runs

    line = page.get_by_role("spinbutton", name="Line")
    line.fill(str(lines.index(CANCEL_LINE) + 1))
    line.press("Enter")
    page.get_by_text("6 trajectories · 6 lessons").wait_for(timeout=30000)
    wait_idle(page)
    marks = page.locator(".t2s-quote mark")
    assert marks.count() == 6
    found = blame(Workspace(db).db, seeded.result.version, "SKILL.md", lines.index(CANCEL_LINE) + 1)
    quotes = sorted(s["quote"] for s in found["steps"])
    assert sorted(marks.nth(k).inner_text().strip() for k in range(6)) == [q.strip() for q in quotes]
    assert page.get_by_text(re.compile(r"(?<!un)grounded$")).count() == 6  # the badges
    assert page.get_by_text("ungrounded").count() == 0
    assert BOOK_LINE not in page.get_by_test_id("stCode").first.inner_text()
    full_screenshot(page, "provenance")
