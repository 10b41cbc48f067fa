"""Lessons screen (AppTest): the page's table follows the store, filters, bulk decisions over all
matching lessons, table edits saved through the store with stale edits refused, near-duplicate
groups, and a lesson's evidence beside its (escaped) quoted step."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from trace2skill.analysis.flags import text_flags
from trace2skill.analysis.grounding import find_quote
from trace2skill.errors import StaleEditError
from trace2skill.fuzzy import Match
from trace2skill.models import Evidence, Lesson
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import (
    LessonFilter,
    edit_lesson,
    get_lesson,
    insert_lessons,
    save_lesson_row,
    set_status,
    set_status_checked,
)
from trace2skill.ui.escape import quote_html
from trace2skill.ui.uploads import import_upload

REPO = Path(__file__).resolve().parents[1]
TOPICS = ["Check the baggage allowance of the cabin class", "Verify the payment method belongs to the user",
          "Search one-stop flights when no direct flight fits", "Never cancel a basic economy flight after 24 hours",
          "Compute the refund before telling the user the amount", "Ask for the reservation id before looking it up",
          "Offer travel insurance only when the user asks", "Use certificates before the credit card",
          "Transfer to a human agent when the policy forbids the request"]
TASK = "Please change my booking <b>now</b> to the later flight"
FILE = (b'{"messages": [{"role": "user", "content": "' + TASK.encode() + b'"}, '
        b'{"role": "assistant", "content": "I changed   the booking\\n to flight HAT083 without asking."}], "reward": 0}')


@pytest.fixture
def seeded() -> tuple[Workspace, str]:
    ws = Workspace()
    tid = import_upload(ws, "t.jsonl", FILE).report.trajectory_ids[0]
    lessons = [
        Lesson(id=f"les-{i:02d}", trajectory_id=tid, kind=["failure_lesson", "failure_cause", "success_lesson"][i % 3],
               title=f"Lesson {i}", content=f"{TOPICS[i]} (number {i}).",
               evidence=[Evidence(step_idx=1, quote="changed the booking to flight", grounded=True, match="exact")],
               grounded=[True, False, None][i % 3])
        for i in range(9)
    ]
    insert_lessons(ws.db, lessons)
    return ws, tid


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/lessons.py")
    return at.run()


def _table(at: AppTest):
    return at.data_editor[0].value.set_index("id")


def _matching(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.endswith("lessons match"))


def _editor_key(at: AppTest) -> str:
    return f"les_editor_{at.session_state['les_gen']}"


def test_table_follows_the_store(seeded):
    ws, _ = seeded
    at = _page()
    assert not at.exception
    assert _matching(at) == "9 lessons match"
    assert at.data_editor[0].editing_mode == "fixed"
    assert set(_table(at)["status"]) == {"proposed"}
    set_status(ws.db, ["les-04"], "approved")
    at.run()
    assert _table(at).loc["les-04", "status"] == "approved"
    assert _table(at).loc["les-04", "version"] == 2


def test_filters(seeded):
    _, tid = seeded
    at = _page()
    at.selectbox(key="les_kind").select("failure_cause").run()
    assert _matching(at) == "3 lessons match"
    at.selectbox(key="les_kind").select("all").run()
    at.selectbox(key="les_grounded").select("unchecked").run()
    assert sorted(_table(at).index) == ["les-02", "les-05", "les-08"]
    at.selectbox(key="les_grounded").select("no").run()
    assert sorted(_table(at).index) == ["les-01", "les-04", "les-07"]
    at.selectbox(key="les_grounded").select("any").run()
    at.text_input(key="les_search").input("number 5").run()
    assert list(_table(at).index) == ["les-05"]
    at.text_input(key="les_search").input("").run()
    at.text_input(key="les_trajectory").input("no-such-trajectory").run()
    assert _matching(at) == "0 lessons match"
    assert "No lessons match these filters: widen them." in [c.value for c in at.caption]
    at.text_input(key="les_trajectory").input(tid).run()
    assert _matching(at) == "9 lessons match"


def test_bulk_approve_and_reject_apply_to_everything_matching(seeded):
    ws, _ = seeded
    at = _page()
    at.selectbox(key="les_kind").select("failure_lesson").run()
    at.button(key="les_bulk_approve").click().run()
    assert not at.exception
    assert any(s.value == "Approved 3 lessons." for s in at.success)
    statuses = dict(ws.db.execute("SELECT id, status FROM lessons"))
    assert sorted(k for k, v in statuses.items() if v == "approved") == ["les-00", "les-03", "les-06"]
    assert ws.db.execute("SELECT count(*) FROM decisions WHERE action = 'approved'").fetchone()[0] == 3
    at.selectbox(key="les_kind").select("all").run()
    at.selectbox(key="les_status").select("proposed").run()
    at.button(key="les_bulk_reject").click().run()
    assert sorted(dict(ws.db.execute("SELECT status, count(*) FROM lessons GROUP BY status")).items()) == [
        ("approved", 3), ("rejected", 6)]


def test_table_edits_are_saved_through_the_store(seeded):
    ws, _ = seeded
    at = _page()
    at.session_state["reviewer_name"] = "Dana Reyes"  # given once in the sidebar
    row = list(_table(at).index).index("les-03")
    at.session_state[_editor_key(at)] = {
        "edited_rows": {row: {"status": "approved", "title": "Confirm before changing a booking"}},
        "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    lesson = get_lesson(ws.db, "les-03")
    assert (lesson.status, lesson.title, lesson.version) == ("approved", "Confirm before changing a booking", 3)
    decisions = list_decisions(ws.db, "lesson", "les-03")  # newest first
    assert [(d.action, d.actor) for d in decisions] == [("approved", "Dana Reyes"), ("edit", "Dana Reyes")]
    assert decisions[1].detail == {"changes": {"title": "Confirm before changing a booking"}, "from_version": 1}
    assert any(s.value == "Saved 1 lesson." for s in at.success)
    assert _table(at).loc["les-03", "title"] == "Confirm before changing a booking"
    assert not (at.session_state[_editor_key(at)] or {}).get("edited_rows")  # a fresh editor
    at.run()
    table = _table(at)
    assert table.loc["les-03", "decided by"] == "Dana Reyes" and table.loc["les-04", "decided by"] == ""


def test_a_concurrent_edit_is_refused_not_overwritten(seeded):
    ws, _ = seeded
    at = _page()  # the reviewer sees les-02 at version 1
    row = list(_table(at).index).index("les-02")
    edit_lesson(ws.db, "les-02", {"title": "Someone else's title"}, expected_version=1, actor="bob")
    at.session_state[_editor_key(at)] = {"edited_rows": {row: {"title": "My title"}}, "added_rows": [],
                                         "deleted_rows": []}
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["A concurrent edit was refused"]
    assert any("changed by bob" in t.value for t in at.text)
    assert get_lesson(ws.db, "les-02").title == "Someone else's title"
    # The same for a status change made on stale data.
    row = list(_table(at).index).index("les-05")
    set_status(ws.db, ["les-05"], "rejected", actor="carol")
    at.session_state[_editor_key(at)] = {"edited_rows": {row: {"status": "approved"}}, "added_rows": [],
                                         "deleted_rows": []}
    at.run()
    assert get_lesson(ws.db, "les-05").status == "rejected"
    assert any("changed by carol" in t.value for t in at.text)


def test_empty_title_is_refused(seeded):
    ws, _ = seeded
    at = _page()
    at.session_state[_editor_key(at)] = {"edited_rows": {0: {"title": "  "}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert [e.value for e in at.error] == ["An edit was refused"]
    assert ws.db.execute("SELECT count(*) FROM lessons WHERE trim(title) = ''").fetchone()[0] == 0


def test_evidence_is_shown_beside_the_quoted_step_escaped(seeded):
    ws, _ = seeded
    ws.db.execute("UPDATE steps SET text = ? WHERE idx = 0", [TASK])
    ws.db.conn.commit()
    insert_lessons(ws.db, [Lesson(id="les-xss", trajectory_id=seeded[1], kind="failure_cause", title="<b>x</b>",
                                  content="c", evidence=[Evidence(step_idx=0, quote="booking <b>now</b>",
                                                                  grounded=True, match="exact")], grounded=True)])
    at = _page()
    at.selectbox(key="les_inspect").select("les-xss").run()
    assert not at.exception
    quoted = [h.value for h in at.html if 'class="t2s-box t2s-quote"' in h.value]
    assert len(quoted) == 1
    assert "<mark>booking &lt;b&gt;now&lt;/b&gt;</mark>" in quoted[0]
    assert "<b>now</b>" not in quoted[0]
    assert any(c.value == "booking <b>now</b>" for c in at.code)  # the quote itself, as text
    assert any("quote found (exact)" in c.value for c in at.caption)
    assert "<b>x</b>" in [t.value for t in at.text]  # the title as plain text

    at.selectbox(key="les_inspect").select("les-01").run()  # whitespace differs: still located
    assert any("<mark>changed   the booking\n to flight</mark>" in h.value for h in at.html)
    at.button(key="les_set_approved").click().run()  # its quotes were not found: it asks first
    assert get_lesson(ws.db, "les-01").status == "proposed"
    assert at.button(key="les_confirm_go_les-01").disabled
    at.checkbox(key="les_confirm_les-01").check().run()
    at.button(key="les_confirm_go_les-01").click().run()
    assert get_lesson(ws.db, "les-01").status == "approved"
    [decision] = [d for d in list_decisions(ws.db, "lesson", "les-01") if d.action == "approved"]
    assert decision.detail["confirmed_problems"] == ["quotes not found in the run"]


def test_flagged_lessons_are_hidden_by_policy_and_need_confirmation_in_bulk(seeded):
    ws, tid = seeded
    insert_lessons(ws.db, [Lesson(id="les-junk", trajectory_id=tid, kind="failure_lesson", title="The user",
                                  content="The user ID is 23198. The user ID is 23198. The user ID is 23198.",
                                  flags=text_flags("The user", "", "The user ID is 23198. The user ID is 23198. "
                                                   "The user ID is 23198."))])
    set_setting(ws.db, "flagged_lessons", "hide")
    at = _page()
    assert "les-junk" not in _table(at).index
    assert any("1 lesson hidden as unusable: repeated text 1" in w.value for w in at.warning)
    at.text_input(key="les_search").input("23198").run()  # only the unusable one matches: said, not "none"
    assert ("No usable lesson matches: the one lesson that matches is hidden as unusable (above: Show them)."
            in [c.value for c in at.caption])
    at.text_input(key="les_search").input("").run()
    at.button(key="les_show_hidden").click().run()
    assert _table(at).loc["les-junk", "flags"] == "repeated text"
    at.button(key="les_bulk_approve").click().run()  # the box is not ticked: flagged ones stay
    assert get_lesson(ws.db, "les-junk").status == "proposed"
    assert any("flagged lesson" in s.value and "left as" in s.value for s in at.success)
    assert get_lesson(ws.db, "les-00").status == "approved"
    at.checkbox(key="les_despite").check().run()
    at.button(key="les_bulk_approve").click().run()
    assert get_lesson(ws.db, "les-junk").status == "approved"


def test_near_duplicate_groups_on_the_page(seeded):
    ws, tid = seeded
    insert_lessons(ws.db, [
        Lesson(id="dup-a", trajectory_id=tid, kind="failure_lesson", title="Confirm before changing a booking",
               content="Always ask the user to confirm before you modify their reservation."),
        Lesson(id="dup-b", trajectory_id=tid, kind="failure_lesson", title="Confirm before changing a booking",
               content="Always ask the user to confirm before modifying the reservation."),
    ])
    at = _page()
    at.toggle(key="les_dups").set_value(True).run()
    assert not at.exception
    groups = [c.value for c in at.caption if c.value.startswith("Group ")]
    assert groups == ["Group 1: 2 similar lessons"]
    members = next(d.value for d in at.dataframe if "id" in d.value.columns and len(d.value) == 2)
    assert sorted(members["id"]) == ["dup-a", "dup-b"]


def test_store_helpers_check_versions(seeded):
    ws, _ = seeded
    assert set_status_checked(ws.db, "les-00", "approved", expected_version=1)
    with pytest.raises(StaleEditError):
        set_status_checked(ws.db, "les-00", "rejected", expected_version=1)
    with pytest.raises(StaleEditError):  # atomic: the title edit is rolled back with the stale status
        save_lesson_row(ws.db, "les-00", {"title": "T", "status": "rejected"}, expected_version=1)
    assert get_lesson(ws.db, "les-00").title == "Lesson 0"
    where, params = LessonFilter(unchecked=True, kind="failure_cause").where()
    assert where == " WHERE l.kind = ? AND l.grounded IS NULL" and params == ["failure_cause"]


def test_quote_location_and_escaping():
    assert find_quote("Hello  World\nagain", "world again") == Match(7, 18, "exact")
    assert find_quote("The quick brown fox jumps", "quick brwn fox") == Match(4, 19, "fuzzy", 1)
    assert find_quote("abc", "something else entirely") is None
    html = quote_html("<img src=x onerror=alert(1)> said hi", (29, 36))
    assert "<img" not in html and "&lt;img" in html and "<mark>said hi</mark>" in html


def test_lessons_at_a_glance_counts_by_kind_outcome_and_status(seeded):
    from trace2skill.store.stats import lesson_breakdown
    from trace2skill.ui.lesson_charts import kind_frame, outcome_series

    ws, _tid = seeded
    set_status(ws.db, ["les-00", "les-03"], "approved")
    breakdown = lesson_breakdown(ws.db)
    frame = kind_frame(breakdown)
    by_kind = frame.groupby(["kind", "status"])["lessons"].sum().to_dict()
    assert by_kind[("from a failure", "approved")] == 2 and by_kind[("from a failure", "proposed")] == 1
    assert by_kind[("diagnosis of a failure", "proposed")] == 3 and by_kind[("from a success", "proposed")] == 3
    assert frame["lessons"].sum() == 9 and outcome_series(breakdown).to_dict() == {"failure": 9}
    at = _page()
    assert not at.exception and any(e.label == "Lessons at a glance" for e in at.expander)


def test_an_empty_workspace_says_where_lessons_come_from():
    at = _page()
    assert "No lessons yet: run an extraction on the Extract page." in [c.value for c in at.caption]
