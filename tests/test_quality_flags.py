"""Quality flags by code, each pinned on a real example: the embedded model's repeated text and
template text, the HTML it wrote into a proposal, empty guidance, platitudes, ungrounded quotes,
guidance copied from a τ-bench run, a value from one run only, and a rephrasing of a rejected lesson.
The default policy hides flagged lessons when the embedded model wrote them; the "reject" policy
rejects them with the reasons recorded."""

from __future__ import annotations

import pytest

from tests.fakes import ScriptedClient, analyst_answer
from tests.helpers import extract
from trace2skill.analysis import flags
from trace2skill.analysis.fleet import ExtractionConfig, select_trajectories
from trace2skill.analysis.quality import POLICY_ACTOR, RejectedIndex, lesson_flags
from trace2skill.demo import load_demo
from trace2skill.models import Evidence, Lesson
from trace2skill.settings import flag_policy, set_setting
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import LessonFilter, insert_lessons, list_lessons, set_status
from trace2skill.store.trajectories import trajectory_text

# a τ-bench airline run (task 0, trial 0): "Sure, my user ID is mia_li_3668."
MIA = "task_id = '0' AND json_extract(metadata, '$.trial') = 0 AND json_extract(metadata, '$.user_id') = ?"


@pytest.fixture
def demo(ws):
    load_demo(ws)
    (tid,) = ws.db.execute(f"SELECT id FROM trajectories WHERE {MIA}", ["mia_li_3668"]).fetchall()[0]
    return ws, tid


def _codes(found) -> list[str]:
    return [f.code for f in found]


def test_the_embedded_models_garbage_is_flagged_with_reasons():
    repeated = flags.repeated_text("The user ID is 23198. The user ID is 23198. The user ID is 23198.")
    assert repeated and "appears 3 times" in repeated.reason
    assert flags.template_text("{{<trajectory>}}").reason.startswith("a template placeholder")
    html = flags.template_text("<pre><code>booked_cancellation_rules.json</code></pre><p>…When a customer can")
    assert html and "raw HTML" in html.reason
    assert flags.template_text('Reply with {"status": "ok"} when done') is not None
    assert _codes(flags.text_flags("Check", "", "Check it.")) == ["empty"]
    assert _codes(flags.text_flags("Care", "", "Be careful.")) == ["empty", "platitude"]
    assert flags.platitude("Double-check everything before you act.") is not None
    assert flags.text_flags("Confirm before cancelling",
                            "", "When a user asks to cancel, read back the flight and the refund, then wait for a "
                                "clear yes, because a cancellation cannot be undone.") == []


def test_workspace_checks_on_a_real_run(demo):
    ws, tid = demo
    text = trajectory_text(ws.db, tid)
    ungrounded = Lesson(id="u", trajectory_id=tid, kind="failure_lesson", title="Invented", content="Do something "
                        "sensible with the booking before acting.", grounded=False,
                        evidence=[Evidence(step_idx=0, quote="this sentence appears nowhere", grounded=False)])
    assert "ungrounded" in _codes(lesson_flags(ws.db, ungrounded, text))
    copied = Lesson(id="c", trajectory_id=tid, kind="failure_lesson", title="Copied",
                    content="Sure, my user ID is mia_li_3668.")
    found = {f.code: f.reason for f in lesson_flags(ws.db, copied, text)}
    assert "copied" in found and "run_values" in found and "mia_li_3668" in found["run_values"]
    general = Lesson(id="g", trajectory_id=tid, kind="failure_lesson", title="Ask for the user id",
                     content="When a user wants to change a booking, ask for their user id before looking it up, "
                             "because the reservation tools need it.")
    assert lesson_flags(ws.db, general, text) == []


def test_a_rephrasing_of_a_rejected_lesson_is_flagged(demo):
    ws, tid = demo
    insert_lessons(ws.db, [Lesson(id="old", trajectory_id=tid, kind="failure_lesson", title="Offer a voucher",
                                  content="Always offer the customer a travel voucher when a flight is delayed.")])
    set_status(ws.db, ["old"], "rejected", actor="alice")
    again = Lesson(id="new", trajectory_id=tid, kind="failure_lesson", title="Offer vouchers",
                   content="When a flight is delayed, always offer the customer a travel voucher.")
    found = {f.code: f.reason for f in lesson_flags(ws.db, again, "", RejectedIndex.of(ws.db))}
    assert "rejected_before" in found and "old" in found["rejected_before"]


def test_default_policy_hides_the_embedded_models_flagged_lessons(demo):
    ws, _ = demo
    assert flag_policy(ws.db, local_model=True) == "hide" and flag_policy(ws.db, local_model=False) == "flag"
    set_setting(ws.db, "flagged_lessons", "flag")
    assert flag_policy(ws.db, local_model=True) == "flag"


def test_extraction_flags_lessons_and_the_reject_policy_records_why(demo):
    ws, _ = demo
    ids = select_trajectories(ws, outcome="failure", limit=3)
    run_id = extract(ws, ids, ScriptedClient(analyst_answer), ExtractionConfig(flag_policy="reject"))
    lessons = list_lessons(ws.db, LessonFilter(run_id=run_id), limit=100)
    invented = [lesson for lesson in lessons if lesson.title == "Invented"]  # the fake's made-up quote
    assert len(invented) == 3 and all("ungrounded" in _codes(lesson.flags) for lesson in invented)
    assert all(lesson.status == "rejected" for lesson in invented)
    [decision] = list_decisions(ws.db, "lesson", invented[0].id)
    assert decision.actor == POLICY_ACTOR and decision.detail["flags"][0]["code"] in ("ungrounded", "empty")
    kept = [lesson for lesson in lessons if lesson.title != "Invented"]
    assert kept and all(lesson.status == "proposed" for lesson in kept)
