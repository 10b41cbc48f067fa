"""Trajectories screen (AppTest): the import history with its delete flow (a question naming the
counts, cancel, delete), and setting the outcome of every matching trajectory at once."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from trace2skill.models import Lesson
from trace2skill.reviewers import UNNAMED_APP_USER
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.imports import list_imports
from trace2skill.store.lessons import insert_lessons
from trace2skill.ui.uploads import import_upload

REPO = Path(__file__).resolve().parents[1]


def _file(flights: dict[int, float]) -> bytes:
    return "".join(json.dumps({"messages": [
        {"role": "user", "content": f"Is flight {n} on time?"},
        {"role": "assistant", "content": f"Flight {n} is on time."}], "reward": reward}) + "\n"
        for n, reward in flights.items()).encode()


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/trajectories.py")
    return at.run()


def _count(ws: Workspace, table: str) -> int:
    return ws.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_delete_an_import_from_the_page_after_a_question_naming_the_counts():
    ws = Workspace()
    first = import_upload(ws, "monday.jsonl", _file({1: 0, 2: 1, 3: 0}))
    import_upload(ws, "tuesday.jsonl", _file({3: 0, 4: 1}))  # flight 3 is in both
    insert_lessons(ws.db, [Lesson(id="les-1", trajectory_id=first.report.trajectory_ids[0], kind="failure_lesson",
                                  title="Check the board", content="Check the departures board first.")])
    [tuesday, monday] = list_imports(ws.db)
    assert monday.actor == "app user (unnamed)" and monday.file == "monday.jsonl"

    at = _page()
    assert any(e.label == "Import history · 2 imports" for e in at.expander)
    lines = [t.value for t in at.text]
    assert any(line.startswith(f"{monday.id} · monday.jsonl · OpenAI chat · ") and "3 added" in line
               for line in lines)
    at.button(key=f"imports_delete_{monday.id}").click().run()
    assert not at.exception
    question = next(w.value for w in at.warning if w.value.startswith("Delete "))
    assert question.startswith(f"Delete 2 trajectories and 1 lesson from import {monday.id} (file monday.jsonl, "
                               f"{monday.started[:10]} {monday.started[11:16]} UTC)?")
    assert "1 trajectory it added stays" in question

    at.button(key="imports_delete_no").click().run()  # cancel: nothing happens
    assert not any(w.value.startswith("Delete ") for w in at.warning)
    assert (_count(ws, "trajectories"), _count(ws, "lessons")) == (4, 1)

    at.button(key=f"imports_delete_{monday.id}").click().run()
    at.button(key="imports_delete_yes").click().run()
    assert not at.exception
    assert any(s.value.startswith("Deleted 2 trajectories and 1 lesson from import") for s in at.success)
    assert (_count(ws, "trajectories"), _count(ws, "lessons")) == (2, 0)
    assert [r.id for r in list_imports(ws.db)] == [tuesday.id]
    [decision] = list_decisions(ws.db, "import")
    assert (decision.subject_id, decision.action, decision.actor) == (str(monday.id), "delete", UNNAMED_APP_USER)
    assert any(e.label == "Import history · 1 import" for e in at.expander)
    assert any("2 trajectories match" in c.value for c in at.caption)


def test_set_the_outcome_of_every_matching_trajectory():
    ws = Workspace()
    import_upload(ws, "runs.jsonl", _file({1: 0, 2: 0, 3: 1, 4: 0}))
    at = _page()
    at.selectbox(key="traj_outcome").select("failure").run()
    assert any(e.label == "Set outcomes · 3 matching trajectories" for e in at.expander)
    at.selectbox(key="bulk_outcome").select("success").run()
    assert at.button(key="bulk_outcome_set").label == "Set 3 trajectories to success…"
    at.button(key="bulk_outcome_set").click().run()
    assert any(w.value == "Set the outcome of 3 trajectories to success?" for w in at.warning)
    assert _count(ws, "decisions") == 0  # nothing yet: it asks first
    at.button(key="bulk_outcome_yes").click().run()
    assert not at.exception
    assert any(s.value.startswith("Set 3 trajectories to success (0 already were)") for s in at.success)
    assert ws.db.execute("SELECT outcome, count(*) FROM trajectories GROUP BY 1").fetchall() == [("success", 4)]
    decisions = list_decisions(ws.db, "trajectory")
    assert len(decisions) == 3 and all(d.actor == UNNAMED_APP_USER and d.detail == {"outcome": "success", "previous": "failure"}
                                       for d in decisions)
    assert any("0 trajectories match" in c.value for c in at.caption)  # the failure filter now matches none
