"""Trajectories screen (AppTest): uploads with a per-file report, the generic mapping for an unknown
format, filters changing the counts, and the step viewer (escaped text, signals marked at their
steps, long observations collapsed, outcome edits recorded, lessons from the trajectory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from trace2skill.ingest.text_log import EXAMPLE_MAPPING
from trace2skill.models import Lesson
from trace2skill.store import Workspace
from trace2skill.store.lessons import insert_lessons
from trace2skill.ui.uploads import guess_mapping, import_upload, record_paths

REPO = Path(__file__).resolve().parents[1]
INJECTION = "<script>alert(1)</script> **bold** [x](javascript:alert(2))"
LONG = "row " * 3000  # a 12,000-character observation

CHAT = [
    {"role": "system", "content": "You are a helpful agent."},
    {"role": "user", "content": f"What's the weather in Paris? {INJECTION}"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": f"Error: service unavailable {INJECTION}"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c2", "type": "function", "function": {"name": "get_forecast", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "c2", "content": LONG},
    {"role": "assistant", "content": "Sorry, I could not find out."},
]
GOOD_FILE = "\n".join([
    json.dumps({"messages": CHAT, "reward": 0, "model": "m-test"}),
    "{broken",
    json.dumps({"messages": [CHAT[1], {"role": "assistant", "content": "It is sunny."}], "reward": 1}),
]).encode()
ODD_FILE = json.dumps([
    {"question": "Capital of France?", "solution": "Paris", "is_correct": True, "meta": {"id": 1}},
    {"question": "2+2?", "solution": "5", "is_correct": False, "meta": {"id": 2}},
]).encode()


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/trajectories.py")
    return at.run()


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def _imports() -> list[tuple[str, int]]:
    """The import history: (file, trajectories imported), oldest first."""
    return [tuple(r) for r in Workspace().db.execute("SELECT file, imported FROM imports ORDER BY id").fetchall()]


def _upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader[0].set_value([(name, data, "application/json") for name, data in files])
    at.run()
    return at.button(key="traj_import").click().run()


def test_upload_many_files_reports_each_and_maps_the_unknown_one():
    at = _upload(_page(), ("chat.jsonl", GOOD_FILE), ("odd.json", ODD_FILE))
    assert not at.exception
    report = at.dataframe[0].value
    assert list(report["file"]) == ["chat.jsonl", "odd.json"]
    # in words, as in the list; the unknown file is not an error: it waits for its mapping
    assert list(report["format"]) == ["OpenAI chat", "not recognised: waits for a field mapping"]
    assert list(report["imported"]) == [2, 0]
    assert list(report["errors"]) == [1, 0]
    assert at.warning[0].value.startswith("Import report: 2 trajectories imported, 0 already present, 1 error in "
                                          "2 files. 1 file waits for a mapping (below)")
    assert _imports() == [("chat.jsonl", 2)]  # nothing recorded for the file still waiting
    problems = [c.value for c in at.code]
    assert any(p.startswith("chat.jsonl: record 1 (line 2): invalid JSON") for p in problems)
    assert any("Capital of France?" in p for p in problems)  # the preview of the first record
    assert "meta.id" in "\n".join(problems)  # dotted paths offered
    # The guessed mapping is pre-filled; the user names the transcript field and imports.
    assert at.text_input(key="traj_map_1_task").value == "question"
    assert at.text_input(key="traj_map_1_outcome").value == "is_correct"
    at.text_input(key="traj_map_1_transcript").input("solution").run()
    at.button(key="traj_map_1_import").click().run()
    assert not at.exception
    report = at.dataframe[0].value
    assert (report["format"][1], report["imported"][1], report["errors"][1]) == ("mapped records", 2, 0)
    assert any("4 trajectories match" in c for c in _captions(at))
    assert _imports() == [("chat.jsonl", 2), ("odd.json", 2)]

    # Re-importing is idempotent: everything is "already present".
    at = _upload(at, ("chat.jsonl", GOOD_FILE))
    report = at.dataframe[0].value
    assert (report["imported"][0], report["already present"][0]) == (0, 2)


def test_an_invalid_mapping_is_explained_not_imported():
    at = _upload(_page(), ("odd.json", ODD_FILE))
    at.text_input(key="traj_map_0_steps").input("")
    at.text_input(key="traj_map_0_transcript").input("")
    at.button(key="traj_map_0_import").click().run()
    assert not at.exception
    assert any("name either 'steps'" in e.value for e in at.error)
    assert Workspace().db.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 0


def test_filters_change_the_counts():
    from trace2skill.demo import load_demo

    load_demo(Workspace())
    at = _page()
    at.selectbox(key="traj_signal").select("loop").run()
    assert any("4 trajectories match" in c for c in _captions(at))
    at.selectbox(key="traj_signal").select("tool_error").run()
    assert any("36 trajectories match" in c for c in _captions(at))
    at.selectbox(key="traj_outcome").select("failure").run()
    assert any("27 trajectories match" in c for c in _captions(at))
    assert set(at.dataframe[0].value["outcome"]) == {"failure"}
    at.selectbox(key="traj_outcome").select("all").run()
    at.selectbox(key="traj_signal").select("any").run()
    at.text_input(key="traj_search").input("mia_li_3668").run()
    assert any("4 trajectories match" in c for c in _captions(at))
    at.selectbox(key="traj_model").select("gpt-4o").run()
    assert any("4 trajectories match" in c for c in _captions(at))
    at.text_input(key="traj_search").input("").run()
    assert any("200 trajectories match" in c for c in _captions(at))
    at.number_input(key="traj_page").set_value(4).run()
    assert len(at.dataframe[0].value) == 50


def _imported_chat() -> str:
    ws = Workspace()
    upload = import_upload(ws, "chat.jsonl", GOOD_FILE)
    return upload.report.trajectory_ids[0]


def test_step_viewer_escapes_marks_signals_and_collapses_long_output():
    tid = _imported_chat()
    at = _page()
    at.session_state["traj_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.code[0].value == tid  # the selected trajectory opened
    # Signals: listed in a table and marked at their step, escaped.
    signals = next(d.value for d in at.dataframe if "signal" in d.value.columns)
    assert "tool error" in set(signals["signal"])  # signals in words, not their codes
    marked = [h.value for h in at.html if "t2s-signal" in h.value]
    assert marked and all("<script>" not in h for h in marked)
    assert any("tool error" in h and "&lt;script&gt;" in h for h in marked)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("[3] tool") and "error" in label and "tool error" in label for label in labels)
    # Untrusted text is shown as text (code blocks), never as markdown.
    assert any(INJECTION in c.value for c in at.code)
    assert not any("<script>" in m.value or "javascript:" in m.value for m in at.markdown)
    assert not any("<script>" in c.value for c in at.caption)
    # Tool calls with their arguments; the long observation collapsed behind an expander.
    assert any(json.loads(c.value) == {"city": "Paris"} for c in at.code if c.language == "json")
    assert any(label.startswith("Show ") and "more characters" in label for label in labels)
    assert not any(c.value == LONG for c in at.code)


def test_outcome_edit_is_saved_and_recorded():
    tid = _imported_chat()
    at = _page()
    at.text_input(key="traj_open").input(tid[:12]).run()
    assert at.selectbox(key=f"traj_outcome_edit_{tid}").value == "failure"
    at.selectbox(key=f"traj_outcome_edit_{tid}").select("success").run()
    at.button(key="traj_outcome_save").click().run()
    assert not at.exception
    db = Workspace().db
    assert db.execute("SELECT outcome, outcome_source FROM trajectories WHERE id = ?", [tid]).fetchone() == (
        "success", "user")
    assert db.execute("SELECT count(*) FROM decisions WHERE subject_id = ? AND action = 'set_outcome'",
                      [tid]).fetchone()[0] == 1
    assert any("Outcome set to success" in s.value for s in at.success)
    assert any("Outcome set by you" in c for c in _captions(at))


def test_viewer_lists_the_lessons_drawn_from_the_trajectory():
    tid = _imported_chat()
    insert_lessons(Workspace().db, [Lesson(id="les-1", trajectory_id=tid, kind="failure_lesson",
                                           title="Retry the weather service", content="Retry once before giving up.")])
    at = _page()
    at.text_input(key="traj_open").input(tid).run()
    assert any(s.value == "Lessons from this trajectory (1)" for s in at.subheader)
    lessons = at.dataframe[-1].value
    assert list(lessons["title"]) == ["Retry the weather service"]


def test_unknown_id_is_reported():
    at = _page()
    at.text_input(key="traj_open").input("nope").run()
    assert any("no trajectory with id 'nope'" in e.value for e in at.error)


@pytest.mark.parametrize("record, expected", [
    ({"question": "q", "solution": "s", "is_correct": True}, {"task": "question", "transcript": "solution",
                                                              "outcome": "is_correct"}),
    ({"prompt": "p", "messages": [], "reward": 1, "answer": "a"}, {"task": "prompt", "steps": "messages",
                                                                   "reward": "reward", "ground_truth": "answer"}),
    ([1, 2], {}),
])
def test_mapping_guess(record, expected):
    assert guess_mapping(record) == expected


def test_record_paths_descend_objects_and_lists():
    assert record_paths({"a": {"b": 1}, "steps": [{"text": "x"}]}) == ["a", "a.b", "steps", "steps.0", "steps.0.text"]


def test_split_the_demo_by_task_and_move_one_task_back():
    from trace2skill.analysis.fleet import select_trajectories
    from trace2skill.demo import load_demo
    from trace2skill.splits import heldout_ids

    ws = Workspace()
    load_demo(ws)
    at = _page()
    at.slider(key="split_share").set_value(0.25).run()
    at.button(key="split_random").click().run()
    held = heldout_ids(ws.db)
    assert held and any(f"Held out {len(held)} trajectories" in s.value for s in at.success)
    assert not held & set(select_trajectories(ws, outcome="all"))  # extraction never sees them
    tasks = {r[0]: r[1] for r in ws.db.execute("SELECT id, task_id FROM trajectories")}
    held_tasks = {tasks[t] for t in held}
    assert {t for t, task in tasks.items() if task in held_tasks} == held  # whole tasks, every run
    shown = at.dataframe[0].value
    assert {r.id for r in shown.itertuples() if r.split == "held out"} == held & set(shown["id"])
    # The open trajectory's task goes back to evolve, all its runs with it.
    chosen = sorted(held)[0]
    at.text_input(key="traj_open").input(chosen).run()
    assert at.button(key="split_move").label == "Move this task to evolve"
    at.button(key="split_move").click().run()
    runs_of_task = {t for t, task in tasks.items() if task == tasks[chosen]}
    assert heldout_ids(ws.db) == held - runs_of_task
    assert any(f"Marked {len(runs_of_task)} trajectories of this task evolve" in s.value for s in at.success)
    assert at.button(key="split_move").label == "Hold out this task"


def test_the_table_speaks_plain_words():
    from trace2skill.ui.words import plural, trajectory_table_row

    row = trajectory_table_row({"split": None, "signals": "tool_error,gold_extra", "source_format": "tau_bench"})
    assert (row["split"], row["signals"]) == ("evolve", "tool error, call beyond the expected actions")
    assert row["source_format"] == "τ-bench"
    assert trajectory_table_row({"split": "heldout", "signals": None})["split"] == "held out"
    unrecorded = trajectory_table_row({"split": None, "signals": None, "model": None, "task_id": None})
    assert (unrecorded["model"], unrecorded["task_id"]) == ("—", "—")  # not the table's grey "None"
    assert trajectory_table_row({"split": None, "signals": None, "model": "gpt-4o", "task_id": "7"})["task_id"] == "7"
    assert (plural(1, "edit"), plural(2, "edit"), plural(1, "trajectory", "trajectories"),
            plural(3, "trajectory", "trajectories")) == ("1 edit", "2 edits", "1 trajectory", "3 trajectories")


def test_outcomes_set_by_rule_after_a_preview(tmp_path):
    from tests.helpers import unlabelled_react

    ids = unlabelled_react(Workspace(), tmp_path)
    at = _page()
    at.selectbox(key="rule_kind").select("answer_is_gold").run()
    at.selectbox(key="rule_else").select("failure").run()
    assert any("If applied: 2 trajectories → success; 1 trajectory → failure" in i.value for i in at.info)
    assert Workspace().db.execute("SELECT count(*) FROM trajectories WHERE outcome = 'unknown'").fetchone()[0] == 3
    at.button(key="rule_apply").click().run()
    assert not at.exception
    db = Workspace().db
    assert db.execute("SELECT outcome FROM trajectories WHERE id = ?", [ids["wtq-18"]]).fetchone()[0] == "failure"
    assert any("Outcomes set by rule (the final answer states the gold answer → success, else failure)" in s.value
               for s in at.success)
    at.selectbox(key="rule_kind").select("last_call_failed").run()  # its own defaults: failure, else as it is
    assert (at.selectbox(key="rule_then").value, at.selectbox(key="rule_else").value) == ("failure", "leave as it is")
    at.selectbox(key="rule_kind").select("answer_matches").run()
    assert (at.selectbox(key="rule_then").value, at.selectbox(key="rule_else").value) == ("success", "failure")
    # no pattern yet: said in the page's words (not the CLI's), nothing offered
    assert "Type a pattern to see what this rule would change." in _captions(at)
    assert not any("--pattern" in c for c in _captions(at)) and not [b for b in at.button if b.key == "rule_apply"]


def test_a_text_log_is_read_with_a_text_mapping_from_the_page():
    log = (REPO / "tests" / "data" / "react_episodes.log").read_bytes()
    at = _page()
    at.file_uploader[0].set_value([("runs.log", log, "text/plain")])
    at.run()
    assert any("not JSON: after Import you can read it as a text log" in c.value for c in at.caption)
    at.button(key="traj_import").click().run()
    assert not at.exception
    assert not at.warning and not at.success  # a text log waiting for its mapping is not an error
    assert at.info[0].value == ("Import report: 0 trajectories imported, 0 already present, 0 errors in 1 file. "
                                "1 file waits for a mapping (below): nothing in it is imported yet.")
    assert at.dataframe[0].value["format"][0] == "text log: waits for a text mapping"
    assert _imports() == []  # nothing tried yet, so nothing in the import history
    form = at.text_area(key="traj_text_0_mapping")
    assert form.value.startswith("record_start: '^=== Episode '")  # the README's ReAct example to start from
    at.button(key="traj_text_0_preview").click().run()
    assert any("(text log): 3 records → 3 trajectories (success 2, failure 1" in c.value for c in at.caption)
    form.set_value("markers: {thought: 'Thought:'}\noutcome: '(unclosed'\n").run()
    at.button(key="traj_text_0_import").click().run()
    assert any("not a regular expression" in e.value for e in at.error)
    assert Workspace().db.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 0
    at.text_area(key="traj_text_0_mapping").set_value(EXAMPLE_MAPPING).run()
    at.button(key="traj_text_0_import").click().run()
    assert not at.exception
    rows = Workspace().db.execute("SELECT source_format, outcome FROM trajectories ORDER BY task_id").fetchall()
    assert rows == [("text_log", "success"), ("text_log", "failure"), ("text_log", "success")]
    assert _imports() == [("runs.log", 3)]
    assert not [t for t in at.text_area if t.key == "traj_text_0_mapping"]  # imported: the form is gone
