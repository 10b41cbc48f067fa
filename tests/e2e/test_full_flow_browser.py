"""The whole flow in a real browser: load the demo -> extract on a few failures with the embedded
local model (llama.cpp + SmolLM2-135M, no endpoint configured) -> approve the lessons -> point the
app at an OpenAI-compatible endpoint on the Home screen -> consolidate, deepening the airline
policy, first on the embedded model, then on an endpoint -> reject one hunk, keep the other ->
save -> export -> provenance of a changed line.
A screenshot of each screen goes to test-artifacts/flow-*.png.

The proposal that is reviewed comes from a scripted loopback server (a real HTTP endpoint, set
through the app's own settings form): the toy model's proposals vary from run to run (no hunk, one
or three, a deleted section), and the review steps need a proposal with known hunks. Its own run
is checked to finish with a proposal or with the screen saying why there is none.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.fakes import http_analyst_responder
from tests.helpers import merging_operator
from trace2skill.diff import apply_hunks, diff_hunks
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.provenance import blame
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import LessonFilter, count_lessons, list_lessons
from trace2skill.store.skills import get_version, list_versions

pytestmark = pytest.mark.slow

FAILURES = 3
RUN_TIMEOUT_MS = 900_000  # the toy model on two shared cores: minutes, not seconds


BOOK_RULE = "- Before booking, read the details back to the user and wait for a clear yes."
CANCEL_RULE = "- Before cancelling, confirm the reservation id and the reason with the user."


def scripted_endpoint(request: dict) -> dict:
    """Analysts: one grounded lesson and one diagnosis with an invented quote per run. Every
    proposal: one rule at the end of "Book flight", one at the end of "Cancel flight" (two hunks);
    merges deduplicate identical edits."""
    name = request["response_format"]["json_schema"]["name"]
    if name.endswith("_analysis"):
        return http_analyst_responder(request)
    if name == "merge":
        return merging_operator(request["messages"], None)
    edit = {"op": "append_to_section", "file": "SKILL.md", "anchor": "", "rationale": "from the lessons",
            "lessons": [1]}
    return {"edits": [{**edit, "section": "Book flight", "content": BOOK_RULE},
                      {**edit, "section": "Cancel flight", "content": CANCEL_RULE}]}


def _nav(page, link: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    wait_idle(page)


def _consolidate(page, lessons: int, base_version: str | None = None) -> str:
    """Consolidate the approved lessons into the airline policy (its latest version, or
    `base_version`) on the Consolidate screen; wait until the run is done."""
    _nav(page, "Consolidate")
    start = page.get_by_role("button", name="Start consolidation")
    if not start.is_visible():  # the form folds away once there are runs
        page.get_by_text("New consolidation run").click()
        wait_idle(page)
    page.get_by_text(re.compile(rf"{lessons} approved lessons? from \d+ trajector")).wait_for(timeout=30000)
    if base_version:  # the newest version may be the previous run's proposal
        page.get_by_label("Version (latest first)").click()
        page.get_by_role("option", name=re.compile(re.escape(base_version[:12]))).click()
        wait_idle(page)
    run_id = _start(page, start, "Consolidation", "con")
    page.get_by_text(re.compile(rf"Run {re.escape(run_id)}: done")).first.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    return run_id


def _start(page, button, kind: str, prefix: str) -> str:
    """Click a Start button; the id of the run it started, from its "<kind> run <id> started" message
    (one from an earlier run may still be on the screen: that message stays for 20 s)."""
    started = page.get_by_text(re.compile(rf"{kind} run {prefix}-\S+ started"))
    pattern = re.compile(rf"{prefix}-[\w-]+")
    earlier = set(pattern.findall(" ".join(started.all_inner_texts())))
    button.click()
    deadline = time.monotonic() + 30
    while True:
        new = [i for i in pattern.findall(" ".join(started.all_inner_texts())) if i not in earlier]
        if new:
            return new[0]
        assert time.monotonic() < deadline, f"the new {kind.lower()} run's 'started' message did not appear"
        page.wait_for_timeout(200)


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)


def test_whole_flow_from_demo_to_provenance(app, page, app_env, tmp_path):
    db = Path(app_env["TRACE2SKILL_DB"])

    # Home: an empty workspace, the demo one click away.
    open_app(page, app)
    page.get_by_text("The workspace is empty").wait_for(timeout=60000)
    page.get_by_role("button", name="Load demo data").click()
    page.get_by_text("Imported 200 trajectories").wait_for(timeout=120000)
    wait_idle(page)
    full_screenshot(page, "flow-1-home")

    # Extract: three failures, the local model.
    _nav(page, "Extract")
    _set_number(page, "Limit (0 = no limit)", FAILURES)
    _set_number(page, "Max lessons per trajectory", 2)
    _set_number(page, "Concurrency", 2)
    assert page.get_by_text("the embedded SmolLM2-135M model will run").is_visible()
    page.get_by_role("button", name="Start extraction").click()
    # the tiny model may fail some: "done, 1 of 3 failed (Resume retries them) — 2 of 3 trajectories done"
    page.get_by_text(re.compile(rf"Run ext-\S+: done(, \d of {FAILURES} failed \(Resume retries them\))? — \d of "
                                rf"{FAILURES} trajectories done")).first.wait_for(
        timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    full_screenshot(page, "flow-2-extract")
    ws = Workspace(db)
    lessons = count_lessons(ws.db, LessonFilter())
    assert lessons > 0, "the local model produced no lesson at all"

    # Lessons: the toy model's unusable lessons are hidden behind a count (the default policy for the
    # embedded model); show them, confirm their problems, and approve them all.
    _nav(page, "Lessons")
    flagged = count_lessons(ws.db, LessonFilter(flagged=True))
    if flagged:
        page.get_by_text(f"{flagged} lessons hidden as unusable:").wait_for(timeout=30000)
        full_screenshot(page, "flow-3a-lessons-hidden")
        page.get_by_role("button", name="Show them").click()
        wait_idle(page)
        page.get_by_text(f"Approve the {flagged} flagged lessons too").click()
        wait_idle(page)
    page.get_by_role("button", name=f"Approve all {lessons}").click()
    page.get_by_text(re.compile(rf"Approved {lessons} lessons?\.")).first.wait_for(timeout=30000)
    wait_idle(page)
    full_screenshot(page, "flow-3-lessons")
    assert count_lessons(ws.db, LessonFilter(status="approved")) == lessons

    # Consolidate on the embedded model too: the run finishes with a proposal, or says why not.
    local_run = run_store.get_run(ws.db, _consolidate(page, lessons))
    outcome = page.get_by_role("button", name="Review the proposal").or_(page.get_by_text("No proposal: none of"))
    assert outcome.first.is_visible()
    assert local_run.status == "done" and local_run.config["base_url"] is None
    local_proposals = [v for v in list_versions(ws.db, "airline-policy") if v.source == "proposal"]
    assert len(local_proposals) == (1 if local_run.counters["applied"] else 0)

    # Home: point the app at an OpenAI-compatible endpoint (a scripted loopback server).
    with FakeLLMServer(scripted_endpoint, model="scripted").start() as server:
        _nav(page, "Home")
        page.get_by_label("Endpoint base URL").fill(server.base_url)
        page.get_by_label("Model", exact=True).fill("scripted")
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for(timeout=30000)
        page.get_by_role("button", name="Test connection").click()
        wait_idle(page)
        assert page.get_by_text(f"In use: scripted @ {server.base_url}").is_visible()

        # The toy model's lessons may be diagnoses only (never skill text by themselves): extract the
        # same failures again on the endpoint and approve what it found (its invented quotes are
        # flagged and held back from the bulk approval).
        _nav(page, "Extract")
        page.get_by_text("New extraction run").click()
        wait_idle(page)
        _set_number(page, "Limit (0 = no limit)", FAILURES)
        ext_run = _start(page, page.get_by_role("button", name="Start extraction"), "Extraction", "ext")
        page.get_by_text(f"Run {ext_run}: done").first.wait_for(timeout=120000)
        wait_idle(page)
        _nav(page, "Lessons")
        page.get_by_label("Status").click()
        page.get_by_role("option", name="proposed", exact=True).click()
        wait_idle(page)
        pending = count_lessons(ws.db, LessonFilter(status="proposed"))
        unflagged = count_lessons(ws.db, LessonFilter(status="proposed", flagged=False))
        assert 0 < unflagged < pending  # the invented quotes are flagged
        page.get_by_role("button", name=f"Approve all {pending}").click()
        page.get_by_text(re.compile(rf"Approved {unflagged} lessons?")).first.wait_for(timeout=30000)
        wait_idle(page)
        approved = count_lessons(ws.db, LessonFilter(status="approved"))
        assert approved == lessons + unflagged

        # Consolidate: deepen the imported airline policy.
        imported = list_versions(ws.db, "airline-policy")[-1]
        scripted_run = _consolidate(page, approved, base_version=imported.id)
        review = page.get_by_role("button", name="Review the proposal")
        if not review.is_visible():
            full_screenshot(page, "flow-4-no-proposal")
        assert review.is_visible(), run_store.get_run(ws.db, scripted_run).counters
        full_screenshot(page, "flow-4-consolidate")
    proposal = list_versions(ws.db, "airline-policy")[0]
    assert proposal.source == "proposal" and proposal.parent == imported.id
    base = get_version(ws.db, proposal.parent)
    base_text, proposed_text = base.files["SKILL.md"], get_version(ws.db, proposal.id).files["SKILL.md"]
    hunks = diff_hunks(base_text, proposed_text)
    assert len(hunks) == 2 and BOOK_RULE in proposed_text and CANCEL_RULE in proposed_text

    # Review & diff: reject the first hunk (Book flight), keep the second (Cancel flight), save.
    review.first.click()
    wait_idle(page)
    first = page.locator('[class*="st-key-rev_hbox-"]').first
    first.get_by_text("Hunk 1 of 2").wait_for(timeout=30000)
    first.get_by_role("radio", name="Reject", exact=True).click()
    page.locator('[class*="st-key-rev_counts"]').get_by_text("2 hunks: 0 accepted, 1 rejected, 1 undecided",
                                                             exact=True).wait_for(timeout=30000)
    wait_idle(page)
    page.get_by_role("button", name="Save as the current version").click()
    page.get_by_text("Saved version").wait_for(timeout=30000)
    wait_idle(page)
    saved = list_versions(ws.db, "airline-policy")[0]
    assert (saved.source, saved.parent) == ("manual", proposal.id)
    saved_text = get_version(ws.db, saved.id).files["SKILL.md"]
    assert saved_text == apply_hunks(base_text, proposed_text, [1])
    assert BOOK_RULE not in saved_text and CANCEL_RULE in saved_text

    # Export the saved skill to a folder; the reference validator accepts it.
    out = tmp_path / "export"
    folder_box = page.get_by_label("Export to folder: the skill is written to <folder>/<name>/")
    folder_box.fill(str(out))
    folder_box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Export to folder").click()
    page.get_by_text("Exported the skill folder:").wait_for(timeout=30000)
    wait_idle(page)
    full_screenshot(page, "flow-5-review")
    folder = out / "airline-policy"
    assert (folder / "SKILL.md").read_text() == saved_text
    check = subprocess.run([sys.executable, "-m", "skills_ref.cli", "validate", str(folder)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # Provenance: the newest version opens on its first line written by an edit.
    _nav(page, "Provenance")
    page.get_by_text("from a consolidation edit").wait_for(timeout=30000)
    wait_idle(page)
    line = int(page.get_by_role("spinbutton", name="Line").input_value())
    found = blame(ws.db, saved.id, "SKILL.md", line)
    assert found["origin"]["kind"] == "edit" and found["lessons"]
    assert saved_text.splitlines()[line - 1] == CANCEL_RULE
    assert set(found["trajectories"]) <= {lesson.trajectory_id for lesson in list_lessons(ws.db, LessonFilter())}
    assert page.get_by_text(f"Line {line}", exact=True).is_visible()
    assert page.get_by_text(CANCEL_RULE).first.is_visible()
    badge = f"{len(found['trajectories'])} trajectories · {len(found['lessons'])} lessons"
    assert page.get_by_text(badge).first.is_visible()
    full_screenshot(page, "flow-6-provenance")
