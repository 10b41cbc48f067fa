"""The activity log after a CLI session: every decision-making command records its --reviewer (or
the default), `trace2skill activity` filters and exports them; the Activity screen shows the same."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from tests.helpers import seed_lessons
from trace2skill.activity import detail_words, rows, what
from trace2skill.cli import main
from trace2skill.models import Decision
from trace2skill.reviewers import os_user
from trace2skill.store import Workspace
from trace2skill.store.decisions import ActivityFilter, activity
from trace2skill.store.lessons import lesson_ids

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_cli_session_is_in_the_activity_log_with_each_reviewer(tmp_path, monkeypatch):
    db = str(tmp_path / "a.db")
    ws = Workspace(db)
    seed_lessons(ws, 4)  # the demo, with lessons (approved by the helper, as "user")
    ids = lesson_ids(ws.db)
    _cli("lessons", "reject", ids[0], ids[1], "--reviewer", "Dana Reyes", "--db", db)
    _cli("--reviewer", "Sam Okafor", "lessons", "approve", ids[0], "--db", db)  # before the command name too
    trajectory = ws.db.execute("SELECT id FROM trajectories WHERE outcome = 'failure' ORDER BY id LIMIT 1").fetchone()[0]
    _cli("trajectories", "relabel", trajectory, "--outcome", "success", "--db", db)  # the default: the OS user
    monkeypatch.setenv("TRACE2SKILL_REVIEWER", "Lee Park")
    _cli("skills", "lock", "airline-policy", "Cancel flight", "--db", db)

    log = json.loads(_cli("activity", "--json", "--db", db))
    mine = [(d["reviewer"], d["what"], d["object"]) for d in log["decisions"] if d["reviewer"] != "user"]
    assert mine[:3] == [
        ("Lee Park", "changed the locked sections (Cancel flight)", "airline-policy"),
        (os_user(), "set the outcome to success", trajectory),
        ("Sam Okafor", "approved the lesson", ids[0]),
    ]
    assert sorted(mine[3:]) == sorted([("Dana Reyes", "rejected the lesson", ids[0]),
                                       ("Dana Reyes", "rejected the lesson", ids[1])])

    dana = json.loads(_cli("activity", "--by", "Dana Reyes", "--json", "--db", db))
    assert dana["total"] == 2 and {d["object"] for d in dana["decisions"]} == {ids[0], ids[1]}
    lessons = json.loads(_cli("activity", "--kind", "trajectory", "--json", "--db", db))
    assert [d["reviewer"] for d in lessons["decisions"]] == [os_user()]
    assert json.loads(_cli("activity", "--since", "2000-01-01", "--until", "2000-12-31", "--json",
                           "--db", db))["total"] == 0
    out = tmp_path / "activity.csv"
    _cli("activity", "--by", "Sam Okafor", "--csv", str(out), "--db", db)
    [row] = list(csv.DictReader(out.open()))
    assert (row["reviewer"], row["what"], row["kind"], row["object"]) == ("Sam Okafor", "approved the lesson",
                                                                        "lesson", ids[0])
    text = _cli("activity", "--object", ids[0][:6], "--db", db)
    assert "Sam Okafor" in text and "Dana Reyes" in text and "Lee Park" not in text


def test_a_bad_reviewer_name_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["stats", "--reviewer", "  ", "--db", str(tmp_path / "b.db")])
    assert result.exit_code == 2 and "a reviewer's name cannot be empty" in result.output


def test_the_activity_screen_filters_by_reviewer():
    ws = Workspace()
    seed_lessons(ws, 4)
    ids = lesson_ids(ws.db)
    CliRunner().invoke(main, ["lessons", "reject", ids[0], "--reviewer", "Dana Reyes"], catch_exceptions=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/activity.py")
    at.run()
    assert not at.exception
    [table] = [d.value for d in at.dataframe if "reviewer" in d.value.columns]
    assert "Dana Reyes" in set(table["reviewer"])
    at.multiselect(key="act_reviewers").set_value(["Dana Reyes"]).run()
    [table] = [d.value for d in at.dataframe if "reviewer" in d.value.columns]
    assert list(table["reviewer"]) == ["Dana Reyes"] and list(table["what"]) == ["rejected the lesson"]
    assert any(m.value.startswith("**1 decision**") for m in at.markdown)


def test_split_changes_record_who_made_them(tmp_path):
    db = str(tmp_path / "s.db")
    _cli("demo", "--db", db)
    _cli("split", "random", "--heldout", "0.2", "--reviewer", "Ana Lima", "--db", db)
    trajectory = Workspace(db).db.execute("SELECT id FROM trajectories ORDER BY id LIMIT 1").fetchone()[0]
    _cli("split", "heldout", trajectory, "--reviewer", "Ana Lima", "--db", db)
    log = json.loads(_cli("activity", "--by", "Ana Lima", "--json", "--limit", "500", "--db", db))
    whats = {d["what"] for d in log["decisions"]}
    assert "split the tasks at random" in whats and "moved the trajectory to held-out" in whats
    assert trajectory in {d["object"] for d in log["decisions"] if d["kind"] == "trajectory"}


def test_the_screen_says_each_decisions_detail_in_words_and_the_csv_keeps_its_data(tmp_path):
    db = str(tmp_path / "w.db")
    _cli("demo", "--db", db)
    _cli("split", "random", "--heldout", "0.25", "--seed", "3", "--reviewer", "Ana Lima", "--db", db)
    ws = Workspace(db)
    [split] = activity(ws.db, ActivityFilter(reviewers=("Ana Lima",)), limit=10)
    words = detail_words(split)
    assert words.startswith("held-out runs: ") and "evolve runs: " in words and "held-out tasks: " in words and "fraction: 0.25" in words
    assert "seed: 3" in words and "{" not in words and "_" not in words
    [row] = rows([split], words=True)
    assert row["detail"] == words
    [data] = rows([split])
    assert json.loads(data["detail"])["seed"] == 3  # files and programs get the data itself

    long = Decision(subject_type="queue", subject_id="Sam", action="unassigned_lessons", actor="Ana Lima",
                    detail={"lessons": [f"lesson-{i}" for i in range(7)], "note": "x" * 200, "grouped": False})
    assert detail_words(long) == ("lessons: lesson-0, lesson-1, lesson-2 and 4 more · note: " + "x" * 79 + "… · "
                                  "grouped: no")
    said = Decision(subject_type="trajectory", subject_id="t1", action="set_outcome", actor="Ana Lima",
                    detail={"outcome": "failure", "previous": "success"})
    assert what(said) == "set the outcome to failure" and detail_words(said) == "was: success"
