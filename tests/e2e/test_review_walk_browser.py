"""A domain expert reviews a proposal in a real browser: the proposal is a draft; the hunks show their
state (accepted, rejected, undecided) and are counted; a rendered preview sits beside the diff; the
side-by-side view has integer line numbers with both columns in view. The expert rejects the booking
hunk, rewords the cancellation line by hand (the diff then shows the edited result and the edit box
stays open), saves, and blames the reworded line back to its lessons and steps — on the Provenance
screen and with `trace2skill.provenance.blame`."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.helpers import BOOK_LINE, CANCEL_LINE, seed_consolidation
from trace2skill.provenance import blame
from trace2skill.store import Workspace
from trace2skill.store.skills import get_version, latest_version, save_version

REWORD = "- Confirm the cancellation with the user first."


def _hunk(page, n: int):
    """The box of hunk n (1-based) of SKILL.md, whatever its state."""
    return page.locator('[class*="st-key-rev_hbox-"]').nth(n - 1)


def _decide(page, n: int, choice: str) -> None:
    _hunk(page, n).get_by_role("radio", name=choice, exact=True).click()
    wait_idle(page)


def _box(page, state: str):
    return page.locator(f'[class*="st-key-rev_hbox-{state}-"]')


def test_review_a_proposal_reword_a_line_save_and_blame_it(app_env, page, request):
    db = Path(app_env["TRACE2SKILL_DB"])
    seeded = seed_consolidation(Workspace(db))
    proposal = seeded.result.version
    app = request.getfixturevalue("app")
    open_app(page, app, "Review & diff")
    _hunk(page, 1).get_by_text("Hunk 1 of 2").wait_for(timeout=30000)
    wait_idle(page)  # the preview beside the diff comes later in the same run

    # A draft, two undecided hunks, a rendered preview beside the diff.
    assert page.get_by_text("Draft: this proposal is not part of airline-policy until someone saves it").is_visible()
    counts = page.locator('[class*="st-key-rev_counts"]')
    assert counts.get_by_text("2 hunks: 0 accepted, 0 rejected, 2 undecided", exact=True).is_visible()
    assert _box(page, "undecided").count() == 2
    preview = page.locator('[class*="st-key-rev_preview-0"]')
    assert preview.locator("h2", has_text="Cancel flight").count() == 1  # a heading, rendered
    assert preview.locator("li", has_text="Lesson learnt: Confirm details first.").count() == 1
    assert preview.get_by_text(re.compile(r"amount being \$100 times")).count() == 1  # a dollar, not maths
    assert preview.locator(".katex").count() == 0

    # Side by side: integer line numbers, both columns inside the file's box.
    page.get_by_role("tab", name="Side by side").first.click()
    wait_idle(page)
    table = page.locator("table.t2s-sbs").first
    table.wait_for(timeout=20000)
    numbers = [t.strip() for t in table.locator("td.n").all_inner_texts()]
    assert numbers and all(n == "" or n.isdigit() for n in numbers) and "45" in numbers
    box = table.locator("xpath=ancestor::*[@data-testid='stColumn'][1]").bounding_box()  # the diff's column
    new_cell = table.locator("td.new", has_text=BOOK_LINE)
    old_cell = table.locator("td.old").first
    for cell in (old_cell, new_cell):
        b = cell.bounding_box()
        assert b and b["width"] > 150 and b["x"] + b["width"] <= box["x"] + box["width"] + 1
    support = new_cell.locator("xpath=following-sibling::td[1]")
    assert support.inner_text().strip() == "3 trajectories"
    inner = support.evaluate("e => e.scrollWidth <= e.clientWidth")  # the note fits its column
    b = support.bounding_box()
    assert inner and b and b["x"] + b["width"] <= box["x"] + box["width"] + 1
    assert new_cell.inner_text().strip() == BOOK_LINE  # wrapped, never cut
    full_screenshot(page, "review-walk-1-side-by-side")
    page.get_by_role("tab", name="Hunks").first.click()
    wait_idle(page)

    # Reject the booking hunk, accept the cancellation one: they look different and are counted.
    _decide(page, 1, "Reject")
    _decide(page, 2, "Accept")
    counts.get_by_text("2 hunks: 1 accepted, 1 rejected, 0 undecided", exact=True).wait_for(timeout=30000)
    wait_idle(page)  # the counts come first in a run: let it finish before reading the boxes
    rejected, accepted = _box(page, "rejected"), _box(page, "accepted")
    assert rejected.count() == 1 and accepted.count() == 1
    assert rejected.get_by_text("rejected: left out of the result").is_visible()
    assert re.search(r"check_circle\s+accepted", accepted.inner_text()) and "undecided" not in accepted.inner_text()
    code = rejected.get_by_test_id("stCode").first
    assert "line-through" in code.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert BOOK_LINE in code.inner_text()
    colours = [b.evaluate("e => getComputedStyle(e).backgroundColor") for b in (rejected, accepted)]
    assert colours[0] != colours[1]
    assert preview.locator("li", has_text="Before booking").count() == 0  # the preview is of the result
    full_screenshot(page, "review-walk-2-decided")

    # Reword the cancellation line by hand: the diff shows the edited result, the edit box stays open.
    page.get_by_text("Resulting text (edit before saving)").click()
    area = page.get_by_label("SKILL.md as it will be saved")
    area.wait_for(timeout=20000)
    area.fill(area.input_value().replace(CANCEL_LINE, REWORD))
    area.press("Control+Enter")
    wait_idle(page)
    page.get_by_text("You edited this file by hand").wait_for(timeout=30000)
    wait_idle(page)
    assert area.is_visible()  # still open
    page.get_by_role("tab", name="Unified").first.click()
    page.get_by_test_id("stCode").filter(has_text="--- a/SKILL.md").filter(has_text=f"+{REWORD}").first.wait_for(
        timeout=30000)
    unified = page.get_by_test_id("stCode").filter(has_text="--- a/SKILL.md").first.inner_text()
    assert f"+{REWORD}" in unified and f"+{CANCEL_LINE}" not in unified and BOOK_LINE not in unified
    assert preview.locator("li", has_text=REWORD[2:]).count() == 1
    page.get_by_role("tab", name="Hunks").first.click()

    # Save as the reviewer.
    who = page.get_by_role("textbox", name="Reviewer")
    who.fill("Dana")
    who.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Save as the current version").click()
    page.get_by_text("Saved version").wait_for(timeout=30000)
    wait_idle(page)
    ws = Workspace(db)
    saved = latest_version(ws.db, "airline-policy")
    assert (saved.source, saved.parent) == ("manual", proposal)
    text = get_version(ws.db, saved.id).files["SKILL.md"]
    assert REWORD in text and CANCEL_LINE not in text and BOOK_LINE not in text
    assert page.get_by_text("1 reworded line(s) keep the provenance of the lines they replaced").is_visible()
    assert page.get_by_text(f"Reviewed: the result of this proposal was saved as version {saved.id[:12]} by Dana"
                            ).is_visible()
    page.get_by_text("History of airline-policy").click()
    page.get_by_test_id("stExpander").filter(has_text="History of airline-policy").get_by_test_id(
        "stDataFrame").wait_for(timeout=20000)
    wait_idle(page)
    full_screenshot(page, "review-walk-3-saved")  # docs/screenshots/review.png is this one

    # Blame the reworded line: in the library, then on the Provenance screen.
    line = text.splitlines().index(REWORD) + 1
    found = blame(ws.db, saved.id, "SKILL.md", line)
    assert [(r["by"], r["replaced"]) for r in found["rewords"]] == [("Dana", CANCEL_LINE)]
    assert found["origin"]["kind"] == "edit" and len(found["lessons"]) == 6 and len(found["steps"]) >= 6
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Provenance", exact=True).click()
    wait_idle(page)
    spin = page.get_by_role("spinbutton", name="Line")
    spin.wait_for(timeout=30000)
    spin.fill(str(line))
    spin.press("Enter")
    page.get_by_text("reworded by Dana").first.wait_for(timeout=30000)
    wait_idle(page)
    assert page.get_by_text("from a consolidation edit").is_visible()
    assert page.get_by_text("6 trajectories · 6 lessons").is_visible()
    assert page.get_by_test_id("stCode").filter(has_text=CANCEL_LINE).count() >= 1  # the words it replaced
    marks = page.locator(".t2s-quote mark")
    assert marks.count() == len(found["steps"])
    assert sorted(marks.nth(k).inner_text().strip() for k in range(marks.count())) == \
           sorted(s["quote"].strip() for s in found["steps"])
    removed = page.get_by_text("1 line(s) of the parent removed in this version")
    removed.click()
    wait_idle(page)
    full_screenshot(page, "review-walk-4-provenance")  # docs/screenshots/provenance.png is this one


SCRIPT = "<script>window.__xss_ran = 'script'</script>"
IMG = "<img src=x onerror=\"window.__xss_ran = 'img'\">"


def test_the_preview_renders_markdown_but_shows_markup_as_text(app_env, page, request):
    """A proposal carrying HTML (model output can): the preview renders the markdown around it, and
    the markup itself is never run or drawn as elements."""
    db = Path(app_env["TRACE2SKILL_DB"])
    seeded = seed_consolidation(Workspace(db))
    ws = Workspace(db)
    files = dict(get_version(ws.db, seeded.result.version).files)
    files["SKILL.md"] = files["SKILL.md"].replace(CANCEL_LINE, f"- **Confirm** first {SCRIPT} {IMG} ![x](http://127.0.0.1:9/t.png)")
    save_version(ws.db, "airline-policy", files, source="proposal", parent=seeded.base)
    app = request.getfixturevalue("app")
    open_app(page, app, "Review & diff")
    preview = page.locator('[class*="st-key-rev_preview-0"]')
    item = preview.locator("li", has_text="first")
    item.first.wait_for(timeout=30000)
    wait_idle(page)
    assert item.locator("strong", has_text="Confirm").count() == 1  # markdown rendered
    assert preview.locator("img, script, iframe").count() == 0  # markup and images are not elements
    assert page.evaluate("window.__xss_ran === undefined")
