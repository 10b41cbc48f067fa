"""Step links (AppTest): `?trajectory=…&step=…` on the Trajectories screen opens that trajectory at the
step, highlighted, the lesson's quote marked inside it, scrolled to once; a step the run does not
have is said in words; the link gives way when the reader opens another trajectory. Lessons' evidence
links to its steps; the search lists marked snippets and hides shared text unless asked."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from trace2skill.models import Evidence, Lesson, Step, Task, Trajectory
from trace2skill.store import Workspace
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.trajectories import insert_trajectories
from trace2skill.ui.escape import missing_step, words_html
from trace2skill.ui.search_view import marked_html
from trace2skill.ui.step_links import StepLink

REPO = Path(__file__).resolve().parents[1]
POLICY = "Policy: travel insurance is sold only at booking. Check the baggage rules."
QUOTE = "insurance cannot be added now"


def _run(n: int, *texts: str) -> Trajectory:
    steps = [Step(index=0, role="system", text=POLICY)]
    steps += [Step(index=i + 1, role="user" if i % 2 == 0 else "assistant", text=t) for i, t in enumerate(texts)]
    return Trajectory(source_format="test", task=Task(id=str(n), prompt=f"task {n}"), steps=steps,
                      outcome={"label": "failure"}).with_id()


@pytest.fixture
def seeded() -> dict[str, str]:
    """Three small runs (the policy in each system prompt) and a lesson quoting step 4 of the first
    and citing a step 9 it does not have."""
    ws = Workspace()
    runs = [_run(1, "Add insurance to my trip.", "Let me look.", "Please <b>hurry</b>.",
                 f"Sorry, {QUOTE} <script>alert(1)</script>, it is sold only at booking."),
            _run(2, "Book a flight to Paris.", "Done."),
            _run(3, "Cancel my flight.", "Cancelled.")]
    insert_trajectories(ws.db, [(t, []) for t in runs])
    lesson = Lesson(trajectory_id=runs[0].id, kind="failure_lesson", title="Offer insurance at booking",
                    content="When booking, offer insurance, because it cannot be added later.",
                    evidence=[Evidence(step_idx=4, quote=QUOTE), Evidence(step_idx=9, quote="not in the run")])
    lesson.id = "lesson-1"
    insert_lessons(ws.db, [lesson])
    ws.close()
    return {"first": runs[0].id, "second": runs[1].id, "lesson": "lesson-1"}


def _trajectories(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/trajectories.py")
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def _html(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def _scripts(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if h.proto.unsafe_allow_javascript]


def test_a_link_opens_the_trajectory_at_the_step_with_the_quote_marked(seeded):
    at = _trajectories(StepLink(seeded["first"], 4, seeded["lesson"], 0).params())
    assert not at.exception
    assert at.text_input(key="traj_open").value == seeded["first"]
    focus = [b for b in _html(at) if 'id="step-4"' in b]
    assert len(focus) == 1 and "quote 1 of the lesson “Offer insurance at booking” is marked" in focus[0]
    marked = [b for b in _html(at) if f"<mark>{QUOTE}</mark>" in b]
    assert len(marked) == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in marked[0] and "<script>alert" not in marked[0]
    assert len(_scripts(at)) == 1 and 'getElementById("step-4")' in _scripts(at)[0]
    assert not at.query_params.get("trajectory")  # taken: the same link works again later
    at.run()  # a later run keeps the step highlighted, without scrolling again
    assert any(f"<mark>{QUOTE}</mark>" in b for b in _html(at)) and _scripts(at) == []


def test_a_missing_step_says_so_in_words(seeded):
    at = _trajectories(StepLink(seeded["first"], 9, seeded["lesson"], 1).params())
    assert not at.exception
    said = [b for b in _html(at) if 'id="step-9"' in b]
    assert len(said) == 1 and "Step 9 does not exist: this run has 5 steps." in said[0]
    assert missing_step(9, 1) == "Step 9 does not exist: this run has 1 step."


def test_opening_another_trajectory_leaves_the_link(seeded):
    at = _trajectories(StepLink(seeded["first"], 2).params())
    assert any("You are at step 2." in b for b in _html(at))
    at.text_input(key="traj_open").set_value(seeded["second"]).run()
    assert not at.exception
    assert not any('id="step-2"' in b for b in _html(at))
    assert any(seeded["second"] in c.value for c in at.code)


def test_a_malformed_link_is_ignored(seeded):
    at = _trajectories({"trajectory": seeded["first"], "step": "four"})
    assert not at.exception and not any("You are at step" in b for b in _html(at))
    assert StepLink.from_params({"trajectory": "abc", "step": "3", "lesson": "L", "quote": "x"}) == StepLink("abc", 3)
    link = StepLink("abc", 3, "L", 0, words="insurance")
    assert StepLink.from_params(link.params()) == link


def test_lesson_evidence_links_to_its_steps_and_names_a_missing_one(seeded):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/lessons.py")
    at.run()
    assert not at.exception
    links = [p.proto for p in at.get("page_link")]
    assert [p.label for p in links] == ["Open step 4 in its trajectory", "Open step 9 in its trajectory"]
    assert all(p.page.endswith("trajectories") or "trajectories" in p.page for p in links)
    assert parse_qs(links[0].query_string) == {"trajectory": [seeded["first"]], "step": ["4"],
                                               "lesson": [seeded["lesson"]], "quote": ["0"]}
    assert any("Step 9 does not exist: this run has 5 steps." in b for b in _html(at))


def test_search_hides_the_shared_policy_unless_asked_and_marks_matches(seeded):
    at = _trajectories()
    at.text_input(key="traj_search").input("insurance").run()
    assert not at.exception
    assert any(c.value == "1 trajectory matches" for c in at.caption)
    assert any("2 more trajectories mention “insurance” only in system prompts or shared text" in c.value
               for c in at.caption)
    hits = [b for b in _html(at) if "t2s-hit" in b and "<style>" not in b]
    assert len(hits) == 1 and "step 1 (user):</span> Add <mark>insurance</mark> to my trip." in hits[0]
    assert [p.proto.label for p in at.get("page_link")] == ["Open step 1"]
    at.checkbox(key="traj_search_shared").check().run()
    assert any(c.value == "3 trajectories match" for c in at.caption)
    assert not any("only in system prompts" in c.value for c in at.caption)
    at.text_input(key="traj_search").input("hurry").run()
    hits = [b for b in _html(at) if "t2s-hit" in b and "<style>" not in b]
    assert len(hits) == 1 and "Please &lt;b&gt;<mark>hurry</mark>&lt;/b&gt;." in hits[0]


def test_marking_escapes_everything_but_the_marks():
    assert marked_html("a <b>\ue000x\ue001</b>") == "a &lt;b&gt;<mark>x</mark>&lt;/b&gt;"
    out = words_html("Insurance? <i>insurance</i>", ["insurance"])
    assert out.count("<mark>") == 2 and "&lt;i&gt;" in out and "<i>" not in out
