"""The merge tree in a real browser (a seeded workspace whose merges settled conflicts, no model):
every box is a button named in words, a click opens that node below the tree, its accounting adds
up, each conflict shows the edits involved and how it was settled, and the conflicts the boxes
count are the ones the run summary counts."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.helpers import seed_conflicts
from trace2skill.store import Workspace
from trace2skill.store.patches import list_nodes

ACCOUNTING = re.compile(r"^(\d+) edits? in = (.+?)(?: \(\d+ of them named in conflicts\))?$")


def _metric(page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True)).first
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def _adds_up(sentence: str) -> tuple[int, int]:
    """(edits in, sum of the fates) of an accounting sentence."""
    found = ACCOUNTING.match(sentence)
    assert found, sentence
    return int(found.group(1)), sum(int(part.split(" ", 1)[0]) for part in found.group(2).split(" + "))


def test_click_a_node_see_its_accounting_and_conflicts(app_env, page, request):
    ws = Workspace(Path(app_env["TRACE2SKILL_DB"]))
    seeded = seed_conflicts(ws)
    nodes = list_nodes(ws.db, seeded.run_id)
    target = next(n for n in nodes if n["level"] == 1 and n["conflicts"])
    ws.close()
    app = request.getfixturevalue("app")  # start the app after seeding
    open_app(page, app, "Consolidate")

    boxes = page.locator("[data-testid=stElementContainer][class*='st-key-con_tree_'], "
                         "[data-testid=stElementContainer][class*='st-key-con_leaf_']")
    expect(boxes).to_have_count(6 + len(nodes), timeout=30000)  # the page may still be drawing the tree
    labels = [b.locator("button").first.inner_text().strip() for b in boxes.all()]
    assert any(label.endswith("Level 3 · 4 edits → 2 · 1 conflict") for label in labels), labels
    assert not any(re.search(r"\b[0-9a-f]{10}\b", label) for label in labels)  # words, not hashes
    assert "Level 3 · #0 (root)" in page.get_by_role("heading", level=4).first.inner_text()

    # Click a level-1 merge: it opens below the tree.
    page.locator(f".st-key-con_tree_1_{target['idx']} button").first.click()
    heading = page.get_by_role("heading", name=re.compile(rf"Level 1 · #{target['idx']} — done"))
    heading.wait_for(timeout=30000)
    wait_idle(page)
    sentence = page.get_by_text(ACCOUNTING).first.inner_text().strip()
    edits_in, fates = _adds_up(sentence)
    assert edits_in == fates == 4 and "1 dropped" in sentence
    assert page.get_by_text("Every input edit is accounted for.").is_visible()
    said = page.get_by_text(re.compile(r"^Conflict 1\. The merger said: E4 vs E2")).first
    said.scroll_into_view_if_needed()
    assert said.is_visible()
    settled = page.get_by_text(re.compile(r"^How it was settled: E4 \(1 run\) dropped: contradicts E2")).first
    assert settled.is_visible() and "E2 (1 run) kept as output edit" in settled.inner_text()

    # The conflicts the boxes count are the run summary's.
    counted = sum(int(m.group(1)) for label in labels if (m := re.search(r"(\d+) conflicts?$", label)))
    assert counted == 2 and _metric(page, "Conflicts") == "2"

    # A leaf opens its trajectory's proposal.
    page.locator("[class*='st-key-con_leaf_'] button").first.click()
    page.get_by_role("heading", name=re.compile("Proposal from one trajectory")).wait_for(timeout=30000)
    wait_idle(page)
    page.locator(f".st-key-con_tree_1_{target['idx']} button").first.click()
    heading.wait_for(timeout=30000)
    wait_idle(page)
    full_screenshot(page, "consolidate-tree")  # docs/screenshots/consolidate.png is this one
