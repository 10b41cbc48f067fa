"""Imports that can be undone and relabelled: every import recorded; a re-import with corrected
outcomes relabels (never duplicates) and records decisions; `imports` lists, `imports delete` removes
what one import added with the lessons that depend on it (after a question naming the counts);
outcomes set by hand, one or many; old workspaces keep their ids and still match on re-import."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result
from sqlite_utils import Database

from trace2skill.cli import main
from trace2skill.ingest import import_paths
from trace2skill.ingest.registry import BY_NAME
from trace2skill.models import Lesson, LessonCheck
from trace2skill.reviewers import default_reviewer, os_user
from trace2skill.signals import compute_signals
from trace2skill.store import Workspace
from trace2skill.store.content_keys import old_id
from trace2skill.store.decisions import list_decisions
from trace2skill.store.imports import list_imports
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.migrations import MIGRATIONS
from trace2skill.store.runs import create_run
from trace2skill.store.trajectories import prepare
from trace2skill.store.verifications import save_checks


def _record(n: int, reward: float) -> dict:
    return {"messages": [{"role": "user", "content": f"How many seats are left on flight {n}?"},
                         {"role": "assistant", "content": f"Flight {n} has {n + 3} seats left."}],
            "reward": reward}


def _jsonl(path: Path, rewards: dict[int, float]) -> Path:
    path.write_text("".join(json.dumps(_record(n, r)) + "\n" for n, r in rewards.items()))
    return path


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def _outcomes(db: Database) -> dict[str, str]:
    """Task text -> outcome."""
    return dict(db.execute("SELECT task, outcome FROM trajectories").fetchall())


def _ids_by_flight(db: Database) -> dict[int, str]:
    return {int(re.search(r"flight (\d+)", task).group(1)): tid  # type: ignore[union-attr]
            for tid, task in db.execute("SELECT id, task FROM trajectories")}


def test_reimport_with_corrected_outcomes_relabels_and_records_decisions(tmp_path):
    db_path = str(tmp_path / "w.db")
    wrong = _jsonl(tmp_path / "runs.jsonl", dict.fromkeys(range(5), 0))
    fixed = _jsonl(tmp_path / "runs-fixed.jsonl", {0: 1, 1: 1, 2: 1, 3: 0, 4: 0})
    first = json.loads(cli("import", str(wrong), "--db", db_path, "--json").output)
    assert (first["imported"], first["relabelled"]) == (5, 0)
    ids = set(first["files"][0]["trajectory_ids"])

    again = cli("import", str(fixed), "--db", db_path, "--reviewer", "Dana")
    assert again.exit_code == 0
    assert "0 trajectories imported, 2 already present, 3 relabelled, 0 errors" in again.output
    db = Workspace(db_path).db
    assert db.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 5  # never duplicated
    assert {r[0] for r in db.execute("SELECT id FROM trajectories")} == ids  # the same trajectories
    assert sorted(_outcomes(db).values()) == ["failure", "failure", "success", "success", "success"]
    assert db.execute("SELECT count(*) FROM trajectories WHERE outcome_source = 'data'").fetchone()[0] == 5
    changed = [d for d in list_decisions(db, "trajectory") if d.action == "set_outcome"]
    assert len(changed) == 3 and {d.actor for d in changed} == {"Dana"}  # who imported the corrected file
    assert all(d.detail["outcome"] == "success" and d.detail["previous"] == "failure" for d in changed)
    assert all(d.detail["reward"] == 1.0 and d.detail["previous_reward"] == 0.0 for d in changed)

    # Both imports are listed, newest first, with their counts, the file and who ran them.
    listing = json.loads(cli("imports", "--json", "--db", db_path).output)
    assert listing["total"] == 2
    newer, older = listing["imports"]
    assert (newer["file"], newer["imported"], newer["duplicates"], newer["relabelled"]) == (str(fixed), 0, 2, 3)
    assert (older["file"], older["imported"], older["records"], older["format"]) == (str(wrong), 5, 5, "openai_chat")
    assert newer["actor"] == "Dana" and newer["status"] == "done" and newer["started"] and newer["finished"]
    assert older["actor"] == default_reviewer()  # no --reviewer: $TRACE2SKILL_REVIEWER, else the OS user
    assert newer["trajectories"] == older["trajectories"] == 5
    table = cli("imports", "--db", db_path).output
    assert "runs-fixed.jsonl" in table and "openai_chat" in table and "2 of 2 imports shown" in table
    assert "Dana" in table.splitlines()[1]  # the newest import, by who ran it

    # A third import of the fixed file adds and changes nothing, and is still recorded.
    third = json.loads(cli("import", str(fixed), "--db", db_path, "--json").output)
    assert (third["imported"], third["duplicates"], third["relabelled"]) == (0, 5, 0)
    assert len(list_imports(db)) == 3


def test_delete_removes_what_the_import_added_with_its_lessons_after_asking(tmp_path):
    db_path = str(tmp_path / "w.db")
    a = _jsonl(tmp_path / "a.jsonl", {0: 0, 1: 1, 2: 0, 3: 1, 4: 0})
    b = _jsonl(tmp_path / "b.jsonl", {4: 0, 5: 1, 6: 0, 7: 0})  # flight 4 is in both files
    cli("import", str(a), "--db", db_path)
    cli("import", str(b), "--db", db_path)
    ws = Workspace(db_path)
    ids = _ids_by_flight(ws.db)
    run = create_run(ws.db, "verification", {}, [])
    insert_lessons(ws.db, [Lesson(id=f"L{n}", trajectory_id=ids[n], kind="failure_lesson", title=f"Lesson {n}",
                                  content=f"When seats run out on flight {n}, say so.") for n in (0, 2, 4, 6)])
    save_checks(ws.db, [LessonCheck(lesson_id="L0", run_id=run, verdict="fixed", repeats=1)])
    ws.db.execute("INSERT INTO splits (trajectory_id, split, created) VALUES (?, 'heldout', 'now')", [ids[1]])
    ws.db.conn.commit()
    [first_import] = [r for r in list_imports(ws.db) if r.file == str(a)]

    # Asked first, naming the counts; "no" deletes nothing.
    answer = cli("imports", "delete", str(first_import.id), "--db", db_path, input="n\n")
    question = re.search(r"Delete .*?\? ", answer.output)
    assert question and question.group(0).startswith(
        f"Delete 4 trajectories and 2 lessons from import {first_import.id} (file {a}, "
        f"{first_import.started[:10]} {first_import.started[11:16]} UTC)?")
    assert "1 trajectory it added stays: another import also brought it." in answer.output
    assert "Nothing deleted." in answer.output
    assert ws.db.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 8

    answer = cli("imports", "delete", str(first_import.id), "--db", db_path, "--reviewer", "Dana Reyes", input="y\n")
    assert answer.exit_code == 0 and "Deleted 4 trajectories and 2 lessons" in answer.output
    assert set(_ids_by_flight(ws.db)) == {4, 5, 6, 7}  # flight 4 stays: the second import brought it too
    assert {r[0] for r in ws.db.execute("SELECT id FROM lessons")} == {"L4", "L6"}
    gone = json.dumps([ids[n] for n in range(4)])
    for table in ("steps", "signals", "splits", "import_trajectories"):
        assert ws.db.execute(f"SELECT count(*) FROM {table} WHERE trajectory_id IN "
                             "(SELECT value FROM json_each(?))", [gone]).fetchone()[0] == 0, table
    assert ws.db.execute("SELECT count(*) FROM lesson_checks").fetchone()[0] == 0
    assert ws.db.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'flight 0'").fetchone()[0] == 0
    [decision] = list_decisions(ws.db, "import")
    assert decision.action == "delete" and decision.actor == "Dana Reyes"  # --reviewer
    assert (decision.detail["trajectories"], decision.detail["lessons"]) == (4, 2)
    assert [r.file for r in list_imports(ws.db)] == [str(b)]

    # The remaining import now owns flight 4; --yes skips the question.
    [second] = list_imports(ws.db)
    done = json.loads(cli("imports", "delete", str(second.id), "--yes", "--json", "--db", db_path).output)
    assert (done["deleted"]["trajectories"], done["deleted"]["lessons"]) == (4, 2)
    assert ws.db.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 0
    assert cli("imports", "--json", "--db", db_path).output.count('"id"') == 0


def test_delete_mistakes_are_one_line(tmp_path):
    db_path = str(tmp_path / "w.db")
    cli("import", str(_jsonl(tmp_path / "a.jsonl", {1: 0})), "--db", db_path)
    missing = CliRunner().invoke(main, ["imports", "delete", "99", "--yes", "--db", db_path])
    assert missing.exit_code == 2 and "error: no import with id 99" in missing.output
    unanswerable = CliRunner().invoke(main, ["imports", "delete", "1", "--json", "--db", db_path])
    assert unanswerable.exit_code == 2 and "--json needs --yes" in unanswerable.output
    assert Workspace(db_path).db.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 1


def test_bulk_relabel_from_the_cli_is_recorded_and_survives_a_reimport(tmp_path):
    db_path = str(tmp_path / "w.db")
    runs = _jsonl(tmp_path / "runs.jsonl", dict.fromkeys(range(4), 0))
    cli("import", str(runs), "--db", db_path)
    db = Workspace(db_path).db
    ids = _ids_by_flight(db)
    out = cli("trajectories", "relabel", ids[0][:8], ids[1], ids[2], "--outcome", "success", "--db", db_path)
    assert out.exit_code == 0 and "3 trajectories set to success (0 already were)" in out.output
    again = json.loads(cli("trajectories", "relabel", ids[0], ids[3], "--outcome", "success", "--json",
                           "--db", db_path).output)
    assert (again["changed"], again["unchanged"]) == (1, 1)
    decisions = [d for d in list_decisions(db, "trajectory") if d.action == "set_outcome"]
    assert len(decisions) == 4 and all(d.actor == os_user() and d.detail == {"outcome": "success", "previous": "failure"}
                                       for d in decisions)
    assert set(_outcomes(db).values()) == {"success"}
    # Re-importing the file leaves the outcomes a person set.
    report = json.loads(cli("import", str(runs), "--db", db_path, "--json").output)
    assert (report["relabelled"], report["duplicates"]) == (0, 4)
    assert set(_outcomes(db).values()) == {"success"}
    # An unknown id changes nothing; the listing still works as before.
    bad = CliRunner().invoke(main, ["trajectories", "relabel", ids[0], "nope", "--outcome", "failure", "--db", db_path])
    assert bad.exit_code == 2 and "error: no trajectory with id 'nope'" in bad.output
    assert set(_outcomes(db).values()) == {"success"}
    assert json.loads(cli("trajectories", "--json", "--db", db_path).output)["total"] == 4


def test_an_old_workspace_keeps_its_ids_and_a_corrected_reimport_relabels(tmp_path):
    """A workspace from before m011 (ids hashed the outcome) is upgraded: ids stay, each gets its
    outcome-free key, its trajectories become one earlier import, and re-imports match them."""
    path = tmp_path / "old.db"
    wrong = _jsonl(tmp_path / "runs.jsonl", dict.fromkeys(range(4), 0))
    fmt = BY_NAME["openai_chat"]
    old = Database(sqlite3.connect(str(path)))
    MIGRATIONS.apply(old, stop_before="m011_imports")
    for line in wrong.read_text().splitlines():
        [t] = fmt.parse(json.loads(line), str(wrong))
        t.id = old_id(t)  # as the old importer named it
        p = prepare(t, compute_signals(t))
        old.execute("INSERT INTO trajectories (id, source_format, source_name, task_id, task, model, outcome, "
                    "reward, outcome_detail, ground_truth, final_output, metadata, n_steps, n_tool_calls, n_errors, "
                    f"imported_at) VALUES ({', '.join('?' * 16)})", [*p.row, "2026-01-01T00:00:00+00:00"])
        old.conn.executemany("INSERT INTO steps (trajectory_id, idx, role, text, reasoning, tool_calls, tool_results, "
                             "tool_name, is_error, timestamp, raw_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p.steps)
    old.conn.commit()
    old_ids = {r[0] for r in old.execute("SELECT id FROM trajectories")}
    old.close()

    ws = Workspace(path)
    assert {r[0] for r in ws.db.execute("SELECT id FROM trajectories")} == old_ids
    keys = ws.db.execute("SELECT count(*), count(content_key), sum(content_key = id) FROM trajectories").fetchone()
    assert keys == (4, 4, 0)  # every one keyed, no key equal to its old id
    [earlier] = list_imports(ws.db)
    assert (earlier.file, earlier.status, earlier.imported, earlier.trajectories) == (str(wrong), "earlier", 4, 4)

    fixed = _jsonl(tmp_path / "runs-fixed.jsonl", {0: 1, 1: 1, 2: 0, 3: 0})
    report = import_paths(ws, [fixed])
    assert (report.imported, report.duplicates, report.relabelled) == (0, 2, 2)
    assert {r[0] for r in ws.db.execute("SELECT id FROM trajectories")} == old_ids
    assert sorted(_outcomes(ws.db).values()) == ["failure", "failure", "success", "success"]
    assert import_paths(ws, [wrong]).imported == 0  # the original file, too, adds nothing


def test_reimport_with_a_corrected_mapping_relabels_and_keeps_the_mapping(tmp_path):
    """The case that doubled a workspace: a field mapping read the grades wrongly; the corrected
    mapping's re-import relabels the same trajectories, and each import keeps the mapping it used."""
    db_path = str(tmp_path / "w.db")
    data = tmp_path / "graded.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {n} + {n}?", "solution": str(2 * n),
                                        "grade": "pass" if n % 2 else "ok"}) + "\n" for n in range(6)))
    wrong, fixed = tmp_path / "wrong.json", tmp_path / "fixed.json"
    wrong.write_text(json.dumps({"task": "question", "transcript": "solution", "outcome": "grade",
                                 "success_values": ["pass"], "failure_values": ["ok"]}))
    fixed.write_text(json.dumps({"task": "question", "transcript": "solution", "outcome": "grade",
                                 "success_values": ["pass", "ok"]}))
    first = json.loads(cli("import", str(data), "--mapping", str(wrong), "--db", db_path, "--json").output)
    second = json.loads(cli("import", str(data), "--mapping", str(fixed), "--db", db_path, "--json").output)
    assert (first["imported"], second["imported"], second["relabelled"], second["duplicates"]) == (6, 0, 3, 3)
    db = Workspace(db_path).db
    assert set(_outcomes(db).values()) == {"success"} and len(_outcomes(db)) == 6
    newer, older = json.loads(cli("imports", "--json", "--db", db_path).output)["imports"]
    assert older["mapping"]["failure_values"] == ["ok"] and older["format"] == "generic"
    assert newer["mapping"]["success_values"] == ["pass", "ok"] and "failure_values" not in newer["mapping"]
