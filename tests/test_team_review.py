"""Team review: comment threads on lessons, hunks and proposals (add, reply, resolve, open counts),
review queues (lessons shared out among reviewers, near-duplicates kept together, "My queue",
progress), and two-person approval (a save refused until two reviewers approved the very result
saved) — in the library, from the command line (every decision recorded as --reviewer) and on the
Lessons and Review & diff screens (AppTest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from tests.helpers import BOOK_LINE, Seeded, seed_consolidation
from trace2skill.approvals import (
    approve_version,
    approved_by,
    can_save,
    history_approvers,
    last_editor,
    result_key,
    save_check,
)
from trace2skill.assignments import assign_lessons, progress, share_out, unassign_lessons
from trace2skill.cli import main
from trace2skill.comments import add_comment, hunk_subject, open_on_review, open_threads, reply, resolve, threads
from trace2skill.errors import ApprovalError, CommentError, SettingsError
from trace2skill.models import Evidence, Lesson
from trace2skill.settings import required_approvals, set_setting
from trace2skill.skill_review import save_review
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import LessonFilter, count_lessons, insert_lessons, set_status
from trace2skill.store.skills import get_version
from trace2skill.store.version_states import current_version_id
from trace2skill.ui.uploads import import_upload

REPO = Path(__file__).resolve().parents[1]
FILE = (b'{"messages": [{"role": "user", "content": "Move my flight to Friday"}, '
        b'{"role": "assistant", "content": "I moved the booking to flight HAT083 without asking."}], "reward": 0}')
TOPICS = ["Check the baggage allowance of the cabin class", "Check the baggage allowance for the cabin class",
          "Verify the payment method belongs to the user", "Search one-stop flights when no direct flight fits",
          "Compute the refund before telling the user the amount", "Ask for the reservation id before looking it up"]


def _lessons(ws: Workspace) -> list[str]:
    tid = import_upload(ws, "t.jsonl", FILE).report.trajectory_ids[0]
    lessons = [Lesson(id=f"les-{i:02d}", trajectory_id=tid, kind="failure_lesson", title=topic, content=f"{topic}.",
                      evidence=[Evidence(step_idx=1, quote="moved the booking", grounded=True, match="exact")],
                      grounded=True) for i, topic in enumerate(TOPICS)]
    insert_lessons(ws.db, lessons)
    return [lesson.id for lesson in lessons]


def _cli(db: Path, *args: str, reviewer: str = "Ann") -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", str(db), "--reviewer", reviewer, *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def seeded() -> Seeded:
    ws = Workspace()  # the workspace the app opens
    yield seed_consolidation(ws)
    ws.close()


# --------------------------------------------------------------------------- comments


def test_threads_on_a_lesson_a_hunk_and_a_proposal(seeded: Seeded) -> None:
    db = seeded.ws.db
    proposal = get_version(db, seeded.result.version)
    lesson = _lessons(seeded.ws)[0]
    first = add_comment(db, "lesson", lesson[:5] + lesson[5:], "Is this about checked bags only?", author="Ann")
    answer = reply(db, first.id, "Cabin bags too.", author="Ben")
    reply(db, answer.id, "Then say so in the text.", author="Ann")  # a reply to a reply joins the thread
    [thread] = threads(db, "lesson", lesson)
    assert [c.author for c in [thread.first, *thread.replies]] == ["Ann", "Ben", "Ann"] and thread.open
    assert open_threads(db, "lesson", [lesson, "les-01"]) == {lesson: 1}

    hunk = hunk_subject(proposal.parent or "", proposal.id, "SKILL.md", 0)
    on_hunk = add_comment(db, "hunk", hunk, "Where does this rule come from?", author="Ben")
    add_comment(db, "proposal", proposal.id[:10], "Good overall.", author="Ann")  # an id prefix is enough
    assert open_on_review(db, proposal.parent or "", proposal.id) == 2
    assert resolve(db, on_hunk.id, actor="Ann").resolved_by == "Ann"
    assert open_on_review(db, proposal.parent or "", proposal.id) == 1
    assert resolve(db, on_hunk.id, actor="Ben", resolved=False).resolved is False  # opened again
    assert open_on_review(db, proposal.parent or "", proposal.id) == 2

    actions = [(d.action, d.actor, d.detail["on"]) for d in reversed(list_decisions(db, "comment"))]
    assert actions == [("commented", "Ann", "lesson"), ("replied", "Ben", "lesson"), ("replied", "Ann", "lesson"),
                       ("commented", "Ben", "hunk"), ("commented", "Ann", "proposal"), ("resolved", "Ann", "hunk"),
                       ("reopened", "Ben", "hunk")]


def test_bad_comments_are_refused_with_one_sentence(ws: Workspace) -> None:
    lesson = _lessons(ws)[0]
    for call, words in [(lambda: add_comment(ws.db, "lesson", lesson, "   ", author="Ann"), "cannot be empty"),
                        (lambda: add_comment(ws.db, "lesson", "nope", "hi", author="Ann"), "nothing to comment on"),
                        (lambda: add_comment(ws.db, "hunk", "a:b", "hi", author="Ann"), "OLD_VERSION:NEW_VERSION"),
                        (lambda: add_comment(ws.db, "trajectory", "x", "hi", author="Ann"), "a lesson, a hunk or"),
                        (lambda: reply(ws.db, 99, "hi", author="Ann"), "there is no comment 99"),
                        (lambda: add_comment(ws.db, "lesson", lesson, "x" * 5001, author="Ann"), "at most 5,000")]:
        with pytest.raises(CommentError, match=words) as caught:
            call()
        assert "\n" not in str(caught.value)


# --------------------------------------------------------------------------- review queues


def test_lessons_are_shared_out_evenly_with_near_duplicates_together() -> None:
    ids = [f"l{i}" for i in range(7)]
    plan = share_out(ids, ["Ann", "Ben"], groups=[["l5", "l1", "l3"]])
    assert sorted(len(v) for v in plan.values()) == [3, 4]
    holder = next(name for name, given in plan.items() if "l1" in given)
    assert {"l1", "l3", "l5"} <= set(plan[holder])  # the group went whole to one reviewer
    assert all(given == sorted(given, key=ids.index) for given in plan.values())  # queue order kept
    assert share_out(ids, ["Ann"]) == {"Ann": ids}


def test_assign_then_review_then_progress(ws: Workspace) -> None:
    ids = _lessons(ws)
    done = assign_lessons(ws.db, ids, ["Ann", "Ben"], actor="Cy", how="run r1")
    assert [(a.reviewer, a.lessons, a.new) for a in done] == [("Ann", 3, 3), ("Ben", 3, 3)]
    assert count_lessons(ws.db, LessonFilter(assigned_to="Ann")) == 3
    mine = [lesson for lesson in ids if lesson in set(_queue(ws, "Ann"))]
    set_status(ws.db, mine[:2], "approved", actor="Ann")
    set_status(ws.db, mine[2:], "rejected", actor="Ben")
    by_name = {p.reviewer: p for p in progress(ws.db)}
    assert (by_name["Ann"].assigned, by_name["Ann"].decided, by_name["Ann"].decided_by_them, by_name["Ann"].left) \
        == (3, 3, 2, 0)
    assert (by_name["Ben"].decided, by_name["Ben"].left) == (0, 3)
    again = assign_lessons(ws.db, ids[:1], ["Ann"], actor="Cy")
    assert (again[0].lessons, again[0].new) == (1, 0 if ids[0] in mine else 1)
    assert unassign_lessons(ws.db, mine[:1], "Ann", actor="Cy") == 1
    recorded = [(d.subject_id, d.action, d.actor) for d in reversed(list_decisions(ws.db, "queue"))]
    assert recorded[:2] == [("Ann", "assigned_lessons", "Cy"), ("Ben", "assigned_lessons", "Cy")]
    assert recorded[-1] == ("Ann", "unassigned_lessons", "Cy")


def _queue(ws: Workspace, name: str) -> list[str]:
    from trace2skill.assignments import queue

    return queue(ws.db, name)


# --------------------------------------------------------------------------- two-person approval


def test_one_reviewer_by_default_two_when_the_workspace_asks(seeded: Seeded) -> None:
    db = seeded.ws.db
    proposal = get_version(db, seeded.result.version)
    base = get_version(db, proposal.parent or "")
    assert required_approvals(db) == 1 and can_save(db, proposal.id, "Ann") is None
    with pytest.raises(SettingsError, match="required_approvals is 1"):
        set_setting(db, "required_approvals", "3")
    set_setting(db, "required_approvals", "2")

    with pytest.raises(ApprovalError, match="so far nobody has"):
        save_review(db, proposal, base, proposal.files, proposal.files, actor="Ann", message="")
    assert approve_version(db, proposal.id, "Ann") and not approve_version(db, proposal.id, "Ann")  # once each
    with pytest.raises(ApprovalError, match="so far only Ann has") as refused:
        save_review(db, proposal, base, proposal.files, proposal.files, actor="Ann", message="")
    assert str(refused.value).count(".") == 1 and current_version_id(db, "airline-policy") == base.id

    edited = {**proposal.files, "SKILL.md": proposal.files["SKILL.md"].replace(BOOK_LINE + "\n", "")}
    assert approve_version(db, proposal.id, "Ben", edited)  # Ben approved another result: it does not count
    check = save_check(db, proposal, proposal.files, "Ann")
    assert check.approved_by == ["Ann"] and check.other_results == ["Ben"] and "approved a different result" in (
        check.reason or "")
    assert approve_version(db, proposal.id, "Ben")
    assert can_save(db, proposal.id, "Ann") is None
    outcome = save_review(db, proposal, base, proposal.files, proposal.files, actor="Ann", message="ok")
    assert outcome.kind == "saved_as_is" and current_version_id(db, "airline-policy") == proposal.id
    save = next(d for d in list_decisions(db, "skill_version", proposal.id) if d.action == "save")
    assert (save.actor, save.detail["approved_by"], save.detail["required_approvals"]) == ("Ann", ["Ann", "Ben"], 2)
    assert approved_by(db, proposal) == ["Ann", "Ben"]


def test_an_edited_result_needs_approvals_of_that_result(seeded: Seeded) -> None:
    db = seeded.ws.db
    proposal = get_version(db, seeded.result.version)
    base = get_version(db, proposal.parent or "")
    edited = {**proposal.files, "SKILL.md": proposal.files["SKILL.md"].replace(BOOK_LINE + "\n", "")}
    assert last_editor(db, proposal, proposal.files, "Ann") is None  # the consolidation wrote it
    assert last_editor(db, proposal, edited, "Ann") == "Ann"  # her hunk decisions changed it
    set_setting(db, "required_approvals", "2")
    approve_version(db, proposal.id, "Ann")
    approve_version(db, proposal.id, "Ben")  # both approved the proposal as it is, not the edit
    assert "so far nobody has" in (can_save(db, proposal.id, "Ann", edited) or "")
    approve_version(db, proposal.id, "Ann", edited)
    assert "so far only Ann has" in (can_save(db, proposal.id, "Ann", edited) or "")
    approve_version(db, proposal.id, "Ben", edited)
    outcome = save_review(db, proposal, base, edited, edited, actor="Ann", message="without the booking rule")
    saved = get_version(db, outcome.version_id)
    assert outcome.kind == "new_version" and last_editor(db, saved, saved.files, "Cy") == "Ann"
    assert approved_by(db, saved) == ["Ann", "Ben"]
    assert result_key(saved.files) == result_key(edited)
    assert history_approvers(db, [(saved.id, saved.parent), (proposal.id, proposal.parent), (base.id, None)]) == {
        saved.id: ["Ann", "Ben"], proposal.id: ["Ann", "Ben"]}


# --------------------------------------------------------------------------- the command line


def test_the_command_line_records_each_reviewer(tmp_path: Path) -> None:
    db = tmp_path / "ws.db"
    ws = Workspace(db)
    seeded = seed_consolidation(ws)
    proposal = seeded.result.version
    lessons = _lessons(ws)

    code, out = _cli(db, "settings", "set", "required_approvals", "2")
    assert code == 0 and "required_approvals = 2" in out
    code, out = _cli(db, "settings", "set", "required_approvals", "5")
    assert code == 2 and out.count("\n") == 1 and "required_approvals is 1" in out

    code, out = _cli(db, "comment", "add", "lesson", lessons[0], "Too specific?", "--json")
    first = json.loads(out)
    assert code == 0 and first["author"] == "Ann"
    assert _cli(db, "comment", "reply", str(first["id"]), "Keep it.", reviewer="Ben")[0] == 0
    code, out = _cli(db, "comment", "list", "lesson", lessons[0], "--open")
    assert code == 0 and "Ann: Too specific?" in out and "Ben: Keep it." in out
    assert "resolved by Ben" in _cli(db, "comment", "resolve", str(first["id"]), reviewer="Ben")[1]
    assert "Ann: Too specific?" not in _cli(db, "comment", "list", "--open")[1]
    code, out = _cli(db, "comment", "add", "proposal", "nope", "hi")
    assert code == 2 and out.startswith("error: nothing to comment on") and out.count("\n") == 1

    code, out = _cli(db, "lessons", "assign", "--to", "Ann", "--to", "Ben", "--search", "baggage",
                     "--keep-duplicates-together", reviewer="Cy")
    assert code == 0 and "1 group of near-duplicates kept together" in out
    assert "2 lessons" in out and "0 lessons" in out  # the two look-alike baggage lessons went to one reviewer
    code, out = _cli(db, "lessons", "assign", "--to", "Ann", "--all", "--json")
    assert code == 0 and json.loads(out)["assigned"][0]["lessons"] == count_lessons(ws.db)
    code, out = _cli(db, "lessons", "queue", "--json")
    ann = next(p for p in json.loads(out)["reviewers"] if p["reviewer"] == "Ann")
    assert ann["assigned"] == count_lessons(ws.db) and ann["left"] == len(lessons)
    assert _cli(db, "lessons", "assign", "--to", "Ann")[0] == 2  # nothing chosen: a usage error

    code, out = _cli(db, "skills", "save", proposal)
    assert code == 2 and "so far nobody has" in out and out.count("\n") == 1
    code, out = _cli(db, "skills", "approve", proposal)
    assert code == 0 and "approved by Ann" in out and "not ready to save" in out
    assert _cli(db, "skills", "save", proposal)[0] == 2
    code, out = _cli(db, "skills", "approve", proposal, reviewer="Ben")
    assert code == 0 and "approved by Ann, Ben" in out and "it may be saved" in out
    code, out = _cli(db, "skills", "save", proposal, reviewer="Ben")
    assert code == 0 and "saved as it is" in out
    assert current_version_id(ws.db, "airline-policy") == proposal

    code, out = _cli(db, "activity", "--kind", "skill_version", "--json")
    decisions = [(d["reviewer"], d["what"]) for d in json.loads(out)["decisions"]]
    assert decisions[:3] == [("Ben", "saved the version"), ("Ben", "approved the proposal"),
                             ("Ann", "approved the proposal")]
    comments = [(d["reviewer"], d["what"].split()[0]) for d in json.loads(_cli(db, "activity", "--kind", "comment",
                                                                               "--json")[1])["decisions"]]
    assert comments == [("Ben", "resolved"), ("Ben", "replied"), ("Ann", "commented")]


# --------------------------------------------------------------------------- the screens (AppTest)


def _app(page: str, reviewer: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.session_state["reviewer_name"] = reviewer
    at.switch_page(page)
    return at.run()


def test_the_review_screen_refuses_the_save_until_two_reviewers_approved(seeded: Seeded) -> None:
    db = seeded.ws.db
    proposal = seeded.result.version
    set_setting(db, "required_approvals", "2")
    at = _app("views/review.py", "Ann")
    assert not at.exception
    assert any("two-person approval" in m.value for m in at.markdown)
    assert at.button(key="rev_save").disabled
    assert any("refused by the approval policy" in e.value and "so far nobody has" in e.value for e in at.error)

    at.button(key="rev_approve").click().run()
    assert any("Ann approved this result" in s.value for s in at.success)
    assert at.button(key="rev_save").disabled and at.button(key="rev_approve").disabled  # approved once
    assert any("so far only Ann has" in e.value for e in at.error)

    ben = _app("views/review.py", "Ben")
    hunk = next(t.key for t in ben.toggle if t.key and t.key.startswith("rev_hc:"))
    ben.toggle(key=hunk).set_value(True).run()
    area = next(a for a in ben.text_area if a.key and a.key.startswith("cm_hunk_"))
    area.input("Is this rule backed by enough runs?").run()
    ben.button(key=area.key.replace("_new", "_add")).click().run()
    assert any("Is this rule backed by enough runs?" in h.proto.body for h in ben.get("html"))
    assert any("1 open thread" in w.value for w in ben.warning)  # said before the save
    ben.button(key="rev_approve").click().run()
    assert any("Approved by Ann, Ben" in m.value for m in ben.markdown)
    assert not ben.button(key="rev_save").disabled
    ben.button(key="rev_save").click().run()
    assert not ben.exception and current_version_id(db, "airline-policy") == proposal
    save = next(d for d in list_decisions(db, "skill_version", proposal) if d.action == "save")
    assert save.actor == "Ben" and save.detail["approved_by"] == ["Ann", "Ben"]
    history = next(d.value for d in ben.dataframe if "approved by" in d.value.columns)
    row = history[history["id"] == proposal].iloc[0]
    assert row["approved by"] == "Ann, Ben" and row["open threads"] == 0  # the thread is on a hunk


def test_the_lessons_screen_queue_and_comments() -> None:
    ws = Workspace()
    ids = _lessons(ws)
    assign_lessons(ws.db, ids[:2], ["Ann"], actor="Cy")
    at = _app("views/lessons.py", "Ann")
    assert not at.exception
    mine = at.toggle(key="les_mine")
    assert mine.label.startswith("My queue: 2 lessons assigned to you, 2 to review")
    at = mine.set_value(True).run()
    table = at.data_editor[0].value
    assert sorted(table["id"]) == ids[:2] and list(table["threads"]) == [0, 0]

    at.text_area(key="les_comments_new").input("Merge with the other baggage lesson?").run()
    at.button(key="les_comments_add").click().run()
    [(lesson, count)] = open_threads(ws.db, "lesson", ids).items()
    assert lesson in ids[:2] and count == 1
    table = at.data_editor[0].value
    assert int(table[table["id"] == lesson]["threads"].iloc[0]) == 1
    assert [d.actor for d in list_decisions(ws.db, "comment")] == ["Ann"]

    at.toggle(key="les_mine").set_value(False).run()
    at.multiselect(key="les_assign_to").set_value(["Cy"]).run()
    at.text_input(key="les_assign_new").input("Dana").run()
    assert at.button(key="les_assign_go").label == f"Assign {len(ids)} lessons"  # counted; ids read on the click
    at.button(key="les_assign_go").click().run()
    assert not at.exception and any("Assigned 3 lessons to Cy" in s.value for s in at.success)
    progress_table = next(d.value for d in at.dataframe if "left" in d.value.columns)
    assert sorted(progress_table["reviewer"]) == ["Ann", "Cy", "Dana"]
