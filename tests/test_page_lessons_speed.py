"""Review at speed on the Lessons screen (AppTest): near-duplicate groups settled at once (keep one,
the others rejected as its duplicates; or reject the group), and the keyboard review's buttons —
their keys, Previous / Next moving the evidence panel (across pages), a decision moving on to the
next lesson, E opening the edit form — every decision recorded as the reviewer's."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from trace2skill.errors import ReviewError
from trace2skill.models import Evidence, Lesson
from trace2skill.review import keep_one, representative
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import get_lesson, insert_lessons, set_status
from trace2skill.ui.lesson_keys import edit_open_key
from trace2skill.ui.uploads import import_upload

REPO = Path(__file__).resolve().parents[1]
FILE = (b'{"messages": [{"role": "user", "content": "Please change my booking to the later flight"}, '
        b'{"role": "assistant", "content": "I changed the booking to flight HAT083 without asking."}], "reward": 0}')
TOPICS = ["Check the baggage allowance of the cabin class", "Verify the payment method belongs to the user",
          "Search one-stop flights when no direct flight fits", "Compute the refund before telling the amount"]
QUOTE = Evidence(step_idx=1, quote="changed the booking to flight HAT083", grounded=True, match="exact")
REVIEWER = "Dana Reyes"


def _lesson(lesson_id: str, tid: str, title: str, content: str, **extra) -> Lesson:
    return Lesson(id=lesson_id, trajectory_id=tid, kind="failure_lesson", title=title, content=content, **extra)


@pytest.fixture
def seeded() -> tuple[Workspace, str]:
    ws = Workspace()
    tid = import_upload(ws, "t.jsonl", FILE).report.trajectory_ids[0]
    insert_lessons(ws.db, [_lesson(f"les-{i}", tid, f"Lesson {i}", f"{topic} (number {i}).", evidence=[QUOTE],
                                   grounded=True) for i, topic in enumerate(TOPICS)])
    return ws, tid


def _with_duplicates(ws: Workspace, tid: str, *, first_grounded: bool = True) -> None:
    title = "Confirm before changing a booking"
    insert_lessons(ws.db, [
        _lesson("dup-a", tid, title, "Always ask the user to confirm before you modify their reservation.",
                grounded=first_grounded, evidence=[QUOTE.model_copy(update={"grounded": first_grounded})]),
        _lesson("dup-b", tid, title, "Always ask the user to confirm before modifying the reservation.",
                grounded=True, evidence=[QUOTE, QUOTE]),
        _lesson("dup-c", tid, title, "Ask the user to confirm before you modify a reservation.", grounded=True,
                evidence=[QUOTE]),
    ])


def _page(reviewer: str | None = REVIEWER) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if reviewer:
        at.session_state["reviewer_name"] = reviewer  # given once in the sidebar
    at.switch_page("views/lessons.py")
    return at.run()


def _groups(at: AppTest) -> AppTest:
    at.toggle(key="les_dups").set_value(True).run()
    assert not at.exception
    return at


def _statuses(ws: Workspace) -> dict[str, str]:
    return dict(ws.db.execute("SELECT id, status FROM lessons"))


def test_keep_one_of_a_group_approves_it_and_rejects_the_others_as_its_duplicates(seeded):
    ws, tid = seeded
    _with_duplicates(ws, tid)
    at = _groups(_page())
    assert [c.value for c in at.caption if c.value.startswith("Group ")] == ["Group 1: 3 similar lessons"]
    keep = at.selectbox(key="les_keep_dup-c")  # the group is keyed by its first lesson on the page
    assert keep.value == "dup-b"  # grounded, and cites the most evidence
    keep.select("dup-a").run()
    at.button(key="les_keep_go_dup-c").click().run()
    assert not at.exception
    assert any(s.value == "Kept one lesson (approved); rejected 2 near-duplicates." for s in at.success)
    statuses = _statuses(ws)
    assert (statuses["dup-a"], statuses["dup-b"], statuses["dup-c"]) == ("approved", "rejected", "rejected")
    assert {statuses[f"les-{i}"] for i in range(4)} == {"proposed"}  # lessons outside the group untouched
    for other in ("dup-b", "dup-c"):
        [decision] = list_decisions(ws.db, "lesson", other)
        assert (decision.action, decision.actor, decision.detail) == ("rejected", REVIEWER, {"duplicate_of": "dup-a"})
    [kept] = list_decisions(ws.db, "lesson", "dup-a")
    assert (kept.action, kept.actor, sorted(kept.detail["duplicates"])) == ("approved", REVIEWER, ["dup-b", "dup-c"])
    # The group now offers the approved lesson to keep.
    assert at.selectbox(key="les_keep_dup-c").value == "dup-a"


def test_reject_a_whole_group(seeded):
    ws, tid = seeded
    _with_duplicates(ws, tid)
    at = _groups(_page())
    at.button(key="les_reject_group_dup-c").click().run()
    assert not at.exception
    assert any(s.value == "Rejected 3 lessons of the group." for s in at.success)
    statuses = _statuses(ws)
    assert {statuses[i] for i in ("dup-a", "dup-b", "dup-c")} == {"rejected"}
    assert {statuses[f"les-{i}"] for i in range(4)} == {"proposed"}
    [decision] = list_decisions(ws.db, "lesson", "dup-b")
    assert decision.actor == REVIEWER and sorted(decision.detail["near_duplicates"]) == ["dup-a", "dup-b", "dup-c"]


def test_keeping_a_lesson_with_problems_is_refused_and_changes_nothing(seeded):
    ws, tid = seeded
    _with_duplicates(ws, tid, first_grounded=False)
    at = _groups(_page())
    at.selectbox(key="les_keep_dup-c").select("dup-a").run()  # its quote was not found in the run
    at.button(key="les_keep_go_dup-c").click().run()
    assert not at.exception
    assert any("approve it on its own first" in e.value for e in at.error)
    assert {_statuses(ws)[i] for i in ("dup-a", "dup-b", "dup-c")} == {"proposed"}
    assert ws.db.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0


def test_group_rules_in_the_library(seeded):
    ws, tid = seeded
    _with_duplicates(ws, tid)
    with pytest.raises(ReviewError, match="not in this group"):
        keep_one(ws.db, ["dup-a", "dup-b"], "dup-c", actor="x")
    group = [get_lesson(ws.db, i) for i in ("dup-a", "dup-b", "dup-c")]
    assert representative(group) == "dup-b"
    set_status(ws.db, ["dup-c"], "approved", actor="x")
    assert representative([get_lesson(ws.db, i) for i in ("dup-a", "dup-b", "dup-c")]) == "dup-c"


def test_the_keys_are_on_the_buttons_and_explained(seeded):
    at = _page()
    shortcuts = {key: at.button(key=key).proto.shortcut
                 for key in ("les_next", "les_prev", "les_set_approved", "les_set_rejected", "les_edit_key")}
    assert shortcuts == {"les_next": "j", "les_prev": "k", "les_set_approved": "a", "les_set_rejected": "x",
                         "les_edit_key": "e"}
    assert at.button(key="les_set_proposed").proto.shortcut == ""
    assert any(c.value.startswith("Review with the keyboard: **J** next lesson") for c in at.caption)


def test_next_and_previous_move_the_evidence_panel(seeded):
    at = _page()  # newest first: les-3, les-2, les-1, les-0
    assert at.selectbox(key="les_inspect").value == "les-3"
    assert at.button(key="les_prev").disabled and not at.button(key="les_next").disabled
    at.button(key="les_next").click().run()
    assert at.selectbox(key="les_inspect").value == "les-2"
    assert "Lesson 2" in [t.value for t in at.text]  # the panel shows the lesson now selected
    assert any("Search one-stop flights" in c.value for c in at.code)
    assert any(c.value == "2 of 4 on page 1" for c in at.caption)
    at.button(key="les_next").click().run()
    at.button(key="les_next").click().run()
    assert at.selectbox(key="les_inspect").value == "les-0" and at.button(key="les_next").disabled
    at.button(key="les_prev").click().run()
    assert at.selectbox(key="les_inspect").value == "les-1"
    assert not at.exception


def test_a_decision_moves_on_to_the_next_lesson_recorded_as_the_reviewer(seeded):
    ws, _ = seeded
    at = _page()
    at.button(key="les_set_approved").click().run()
    assert get_lesson(ws.db, "les-3").status == "approved"
    assert at.selectbox(key="les_inspect").value == "les-2"
    at.button(key="les_set_rejected").click().run()
    assert get_lesson(ws.db, "les-2").status == "rejected"
    assert at.selectbox(key="les_inspect").value == "les-1"
    assert [(d.action, d.actor) for d in list_decisions(ws.db, "lesson", "les-2")] == [("rejected", REVIEWER)]
    # With only proposed lessons listed, the decided one leaves the list and the next is shown.
    at.selectbox(key="les_status").select("proposed").run()
    assert at.selectbox(key="les_inspect").value == "les-1"
    at.button(key="les_set_approved").click().run()
    assert at.selectbox(key="les_inspect").value == "les-0" and get_lesson(ws.db, "les-1").status == "approved"
    assert not at.exception


def test_next_crosses_to_the_following_page_and_back(seeded):
    ws, tid = seeded
    insert_lessons(ws.db, [_lesson(f"more-{i:02d}", tid, f"More {i}", f"Guidance {i}.") for i in range(47)])
    at = _page()  # 51 lessons: page 1 holds the 47 new ones and les-3, les-2, les-1; page 2 holds les-0
    at.selectbox(key="les_inspect").select("les-1").run()
    at.button(key="les_next").click().run()
    assert at.number_input(key="les_page").value == 2
    assert at.selectbox(key="les_inspect").value == "les-0"
    assert at.button(key="les_next").disabled
    at.button(key="les_prev").click().run()
    assert at.number_input(key="les_page").value == 1 and at.selectbox(key="les_inspect").value == "les-1"
    assert not at.exception


def test_e_opens_the_edit_form_and_puts_the_keyboard_in_its_title(seeded):
    ws, _ = seeded
    at = _page()
    at.button(key="les_next").click().run()  # les-2
    assert not at.session_state[edit_open_key("les-2")]
    at.button(key="les_edit_key").click().run()
    assert at.session_state[edit_open_key("les-2")] is True
    assert any("st-key-les_edit_title_" in h.value for h in at.html)  # the script that focuses the title box
    at.text_input(key="les_edit_title_les-2_1").input("Confirm the new flight first")
    next(b for b in at.button if b.label == "Save changes").click().run()
    lesson = get_lesson(ws.db, "les-2")
    assert lesson.title == "Confirm the new flight first" and lesson.edited_by == REVIEWER
    assert not any("st-key-les_edit_title_" in h.value for h in at.html)  # focused once, not on every run
    # The picker's label changed with the title: the panel still shows the edited lesson.
    assert at.selectbox(key="les_inspect").value == "les-2"
    assert "Confirm the new flight first" in [t.value for t in at.text]
    assert not at.exception
