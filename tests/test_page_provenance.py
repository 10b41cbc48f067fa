"""Provenance screen (AppTest): a changed line of the proposal traced to its edit, merge path,
lessons and the quoted steps (quote marked, text escaped); a base line has no lessons; the
per-file origins agree with the library's line-by-line answer, manual versions included."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import BOOK_LINE, CANCEL_LINE, Seeded, seed_consolidation
from trace2skill.analysis.grounding import find_quote, step_text
from trace2skill.provenance import blame, line_origin
from trace2skill.store import Workspace
from trace2skill.store.skills import get_version, save_version
from trace2skill.store.trajectories import get_steps
from trace2skill.ui.provenance_view import line_origins, lines_frame, located_steps

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def seeded() -> Seeded:
    ws = Workspace()
    yield seed_consolidation(ws)
    ws.close()


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/provenance.py")
    return at.run()


def _line(seeded: Seeded, text: str) -> int:
    return get_version(seeded.ws.db, seeded.result.version).files["SKILL.md"].splitlines().index(text) + 1


def test_a_changed_line_shows_its_edit_lessons_and_quoted_steps(seeded):
    at = _page()
    assert not at.exception
    assert at.selectbox(key="prov_version").value == seeded.result.version  # the latest version
    assert at.number_input(key="prov_line").value == _line(seeded, BOOK_LINE)  # first line written by an edit
    assert at.code[0].value == BOOK_LINE
    assert any("from a consolidation edit" in m.value for m in at.markdown)
    assert any("3 trajectories · 3 lessons" in m.value for m in at.markdown)
    path = at.dataframe[1].value
    assert list(path["level"])[0] == 3 and list(path["level"])[-1] == 0 and set(path["content"]) == {BOOK_LINE}
    lessons = at.dataframe[2].value
    assert len(lessons) == 3 and set(lessons["status"]) == {"approved"} and set(lessons["kind"]) == {"failure_lesson"}
    steps = [h.proto.body for h in at.get("html") if "t2s-quote" in h.proto.body and "<style>" not in h.proto.body]
    assert len(steps) == 3 and all("<mark>" in s for s in steps)
    assert sum("grounded" in m.value and "ungrounded" not in m.value for m in at.markdown) == 3
    assert len([b for b in at.button if b.key and b.key.startswith("prov_open_")]) == 3


def test_a_line_of_every_trajectory_and_a_base_line(seeded):
    at = _page()
    at.number_input(key="prov_line").set_value(_line(seeded, CANCEL_LINE)).run()
    assert at.code[0].value == CANCEL_LINE
    assert len(at.dataframe[2].value) == 6  # lessons of all six trajectories
    at.number_input(key="prov_line").set_value(6).run()  # "# Airline Agent Policy"
    assert at.code[0].value == "# Airline Agent Policy"
    assert any("base text" in m.value for m in at.markdown)
    assert not any(s.value == "Supporting lessons" for s in at.subheader)


def test_only_edit_lines_filter_and_open_trajectory(seeded):
    at = _page()
    at.toggle(key="prov_only_edits").set_value(True).run()
    table = at.dataframe[0].value
    assert set(table["origin"]) == {"edit"} and BOOK_LINE in set(table["text"]) and CANCEL_LINE in set(table["text"])
    first = next(b for b in at.button if b.key == "prov_open_0")
    first.click().run()
    tid = at.session_state["traj_open"]
    assert at.title[0].value != "Provenance"  # switched to the Trajectories page, the trajectory opened
    assert at.text_input(key="traj_open").value == tid


def test_origins_per_file_agree_with_the_library_line_by_line(seeded):
    db = seeded.ws.db
    files = dict(get_version(db, seeded.result.version).files)
    text = files["SKILL.md"].replace(BOOK_LINE, BOOK_LINE + "\n- Written by a reviewer.").replace("## Refund\n", "")
    manual = save_version(db, "airline-policy", {**files, "SKILL.md": text}, source="manual",
                          parent=seeded.result.version, message="hand edit")
    for version in (seeded.base, seeded.result.version, manual):
        fast = line_origins(db, version, "SKILL.md")
        n = len(get_version(db, version).files["SKILL.md"].splitlines())
        slow = [line_origin(db, version, "SKILL.md", i) for i in range(n)]
        assert [(o["kind"], o.get("edit_id"), o["version"]) for o in fast] == \
               [(o["kind"], o.get("edit_id"), o["version"]) for o in slow]
    frame = lines_frame(db, manual, "SKILL.md")
    kinds = dict(zip(frame["text"], frame["origin"]))
    assert kinds["- Written by a reviewer."] == "manual" and kinds[BOOK_LINE] == "edit" and kinds["## Cancel flight"] == "base"
    assert dict(zip(frame["text"], frame["support"]))[CANCEL_LINE] == "6"


def test_quoted_step_text_is_escaped_around_the_mark():
    step = {"trajectory_id": "t", "step_idx": 2, "role": "tool", "grounded": True,
            "text": 'Result: <script>alert(1)</script> then "the booking <b>was</b> changed" ok',
            "quote": "the booking <b>was</b> changed"}
    [shown] = located_steps([step])
    assert shown["match"] == "exact"
    assert "<script>" not in shown["html"] and html.escape("<script>alert(1)</script>") in shown["html"]
    assert f"<mark>{html.escape('the booking <b>was</b> changed')}</mark>" in shown["html"]
    [missing] = located_steps([{**step, "quote": "nothing like this appears anywhere"}])
    assert missing["match"] is None and "<mark>" not in missing["html"]


def test_blame_steps_carry_each_quote_s_stored_span_in_grounding_s_step_text(seeded):
    db = seeded.ws.db
    found = blame(db, seeded.result.version, "SKILL.md", _line(seeded, CANCEL_LINE))
    grounded = [s for s in found["steps"] if s["grounded"]]
    assert grounded and all(isinstance(s["start"], int) and s["match"] in ("exact", "fuzzy") for s in grounded)
    for s in grounded:
        lesson_step = get_steps(db, s["trajectory_id"], [s["step_idx"]])[s["step_idx"]]
        assert s["text"] == step_text(lesson_step)  # the text grounding searched, calls and results included
        assert find_quote(s["text"][s["start"]:s["end"]], s["quote"]) is not None
    moved = [{**s, "quote": "a quote the screen would not find"} for s in grounded]
    assert [(m["match"], m["html"].count("<mark>")) for m in located_steps(moved)] == \
           [(s["match"], 1) for s in grounded]  # the stored span is marked: no search of the screen's own
