"""Evaluation sets (dataset files with a field mapping, the bundled WikiTableQuestions sample, tasks
of trajectories), the evolve/held-out split and its refusal in extraction, and the leakage check."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, TAU_BENCH

from tests.helpers import WTQ
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.errors import HeldOutError, TaskFormatError
from trace2skill.evaluate import (
    WTQ_MAPPING,
    TaskMapping,
    check_leakage,
    heldout_ids,
    load_tasks,
    random_split,
    set_split,
    tasks_from_trajectories,
)
from trace2skill.ingest import import_paths
from trace2skill.models import Lesson
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import evaluation as eval_store
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.skills import get_version, import_skill
from trace2skill.store.trajectories import TrajectoryFilter, trajectory_ids


@pytest.fixture
def tau(ws):
    import_paths(ws, [TAU_BENCH])
    return ws


def test_jsonl_with_dotted_mapping_and_csv(tmp_path):
    data = tmp_path / "tasks.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"meta": {"id": "q1"}, "input": {"q": "Capital of France?"}, "gold": {"answers": ["Paris"]}},
        {"meta": {"id": "q2"}, "input": {"q": "2+2?"}, "gold": {"answers": ["4"]}}]))
    mapping = TaskMapping(id="meta.id", prompt="input.q", answer="gold.answers", gold="gold")
    tasks = load_tasks(data, mapping)
    assert [(t.source_id, t.prompt, t.answers) for t in tasks] == [("q1", "Capital of France?", ["Paris"]),
                                                                    ("q2", "2+2?", ["4"])]
    assert tasks[0].gold == {"answers": ["Paris"]} and tasks[0].id and tasks[0].id != tasks[1].id
    table = tmp_path / "tasks.csv"
    table.write_text('id,question,answer\na,"Largest planet, by mass?",Jupiter\n')
    assert load_tasks(table)[0].prompt == "Largest planet, by mass?"


def test_bad_task_files_name_the_file_and_record(tmp_path):
    missing = tmp_path / "t.jsonl"
    missing.write_text('{"question": "ok?", "answer": "y"}\n{"answer": "n"}\n')
    with pytest.raises(TaskFormatError, match=r"t.jsonl: record 1: no task text in field 'question'"):
        load_tasks(missing)
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"question": "ok?"}\n{nope\n')
    with pytest.raises(TaskFormatError, match="line 2 is not valid JSON"):
        load_tasks(broken)
    escape = tmp_path / "e.jsonl"
    escape.write_text('{"question": "q", "table": "../../etc/passwd"}\n')
    with pytest.raises(TaskFormatError, match="outside"):
        load_tasks(escape, TaskMapping(context_file="table"))


def test_bundled_wikitablequestions_sample():
    tasks = load_tasks(WTQ, WTQ_MAPPING)
    assert len(tasks) == 300 and len({t.id for t in tasks}) == 300
    first = tasks[0]
    assert first.source_id == "nt-0" and first.answers == ["2004"]
    assert first.context.startswith('"Year","Division","League"') and "USL A-League" in first.context
    multi = next(t for t in tasks if len(t.answers) > 1)
    assert multi.answers == ["Siim Ennemuist", "Andri Aganits"]
    assert len(load_tasks(WTQ, WTQ_MAPPING, limit=10)) == 10
    assert (REPO / "data" / "wikitablequestions" / "LICENSE").exists()
    assert "CC BY-SA 4.0" in (REPO / "data" / "wikitablequestions" / "SOURCE.txt").read_text()


def test_sets_are_stored_idempotently(ws):
    tasks = load_tasks(WTQ, WTQ_MAPPING, limit=5)
    ids = eval_store.save_tasks(ws.db, tasks, "wtq-5")
    assert eval_store.save_tasks(ws.db, tasks, "wtq-5") == ids
    assert [t.prompt for t in eval_store.get_tasks(ws.db, ids)] == [t.prompt for t in tasks]
    assert eval_store.set_task_ids(ws.db, "wtq-5") == ids
    assert eval_store.list_sets(ws.db)[0]["tasks"] == 5


def test_random_split_keeps_every_run_of_a_task_on_one_side(tau):
    counts = random_split(tau.db, 0.2, seed=1)
    assert counts["heldout_tasks"] == 10 and counts["heldout"] == 40 and counts["evolve"] == 160
    sides = {}
    for _tid, task_id, split in tau.db.execute(
            "SELECT t.id, t.task_id, s.split FROM trajectories t JOIN splits s ON s.trajectory_id = t.id"):
        sides.setdefault(task_id, set()).add(split)
    assert len(sides) == 50 and all(len(s) == 1 for s in sides.values())
    assert random_split(tau.db, 0.2, seed=1) == counts  # same seed, same split


def test_extraction_refuses_heldout_trajectories(tau):
    one = trajectory_ids(tau.db, TrajectoryFilter(task_id="7"))[0]
    assert set_split(tau.db, [one], "heldout") == 4  # every run of task 7
    held = heldout_ids(tau.db)
    assert len(held) == 4
    with pytest.raises(HeldOutError, match="4 of the 5 chosen trajectories are held out"):
        create_extraction_run(tau, sorted(held) + [trajectory_ids(tau.db, TrajectoryFilter(task_id="8"))[0]],
                              ExtractionConfig())
    chosen = select_trajectories(tau)
    assert len(chosen) == 196 and not held & set(chosen)
    create_extraction_run(tau, chosen[:3], ExtractionConfig())  # evolve ones are fine
    set_split(tau.db, [one], "evolve")
    assert not heldout_ids(tau.db)


def test_trajectory_whose_task_is_an_evaluation_task_is_held_out(tau):
    tid = trajectory_ids(tau.db, TrajectoryFilter(task_id="3"))[0]
    task = tasks_from_trajectories(tau.db, [tid])[0]
    shouty = task.model_copy(update={"prompt": "  " + task.prompt.upper() + "  "}).with_id()
    eval_store.save_tasks(tau.db, [shouty], "copied")
    assert len(heldout_ids(tau.db)) == 4
    with pytest.raises(HeldOutError):
        create_extraction_run(tau, [tid], ExtractionConfig())


def test_tasks_from_trajectories_take_textual_ground_truth(tau):
    ids = trajectory_ids(tau.db)
    tasks = tasks_from_trajectories(tau.db, ids)
    assert len(tasks) == 50  # 4 runs of each task give one task
    with_outputs = [t for t in tasks if t.answers]
    assert with_outputs and all(t.gold and "outputs" in t.gold for t in with_outputs)
    assert all(t.gold and "actions" in t.gold for t in tasks if not t.answers)


def _lesson(tid: str, content: str, n: int) -> Lesson:
    return Lesson(id=f"L{n}", trajectory_id=tid, kind="failure_lesson", title=f"lesson {n}", content=content)


def test_leakage_check_finds_copied_task_text_in_lessons_and_skill(tau):
    held, evolve = (trajectory_ids(tau.db, TrajectoryFilter(task_id=t))[0] for t in ("5", "6"))
    set_split(tau.db, [held], "heldout")
    held_task = tau.db.execute("SELECT task FROM trajectories WHERE id = ?", [held]).fetchone()[0]
    sentence = held_task.split(". ")[1]
    assert len(sentence.split()) >= 8
    insert_lessons(tau.db, [
        _lesson(evolve, "Confirm the user id before any booking change.", 1),
        _lesson(evolve, f"When a user says: {sentence.upper()}!, do X.", 2),
        _lesson(held, "Confirm the cabin class first.", 3)])
    wtq = load_tasks(WTQ, WTQ_MAPPING, limit=3)
    eval_store.save_tasks(tau.db, wtq, "wtq")
    skill = import_skill(tau.db, SkillFolder.from_markdown(
        "airline-policy", "Airline policy.", f"# Policy\n\nBe brief.\nExample: {wtq[1].prompt}\n"))

    report = check_leakage(tau.db, version_id=skill)
    found = {(f.kind, f.where.split(":")[0]) for f in report.findings}
    assert ("ngram", "lesson L2") in found
    assert ("heldout_source", "lesson L3") in found
    assert ("substring", f"{skill} SKILL.md") in found
    assert not any(f.where == "lesson L1" for f in report.findings)
    assert report.heldout_tasks == 4 and not report.clean
    line = next(f for f in report.findings if f.kind == "substring")
    lines = get_version(tau.db, skill).files["SKILL.md"].split("\n")
    assert line.where == f"{skill} SKILL.md:{lines.index('Example: ' + wtq[1].prompt) + 1}"
    assert line.task == f"task:{wtq[1].id}"

    clean = check_leakage(tau.db, lesson_ids=["L1"])
    assert clean.clean and clean.checked == ["1 lesson"]
