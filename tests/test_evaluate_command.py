"""The command evaluator: a small Python "agent harness" that reads the skill folder and the tasks
file and fails some tasks; placeholders, no shell, timeouts and bad output."""

from __future__ import annotations

import sys
import time

import pytest

from tests.helpers import HARNESS
from trace2skill import runs
from trace2skill.errors import EvaluatorError
from trace2skill.evaluate import EvalConfig, ab_result, start_ab_run
from trace2skill.evaluate.command import CommandEvaluator, build_argv
from trace2skill.models import EvalTask
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import evaluation as eval_store
from trace2skill.store.skills import import_skill


@pytest.fixture
def harness(tmp_path):
    path = tmp_path / "harness.py"
    path.write_text(HARNESS)
    return f"{sys.executable} {path}"


TASKS = [EvalTask(prompt=f"task {n}", answers=[f"ans-{n}"]).with_id() for n in range(6)]
SKILL = SkillFolder.from_markdown("demo-skill", "A demo skill for tests.", "# Demo\n\nKnown answers: ans-1, ans-3.\n")


def test_harness_fails_some_tasks_and_the_skill_helps(harness):
    evaluator = CommandEvaluator(harness, timeout_s=30)
    with_skill = evaluator.evaluate(SKILL, TASKS)
    without = evaluator.evaluate(None, TASKS)
    assert [r.passed for r in with_skill] == [True, True, True, True, True, False]
    assert [r.passed for r in without] == [True, False, True, False, True, False]
    assert [r.task_id for r in with_skill] == [t.id for t in TASKS]
    assert with_skill[5].answer == "gave up" and with_skill[0].detail == "ok"


def test_placeholders_and_no_shell(tmp_path):
    argv = build_argv("run-agent --skill={skill} --in {tasks} -o {output} --seed {repeat}",
                      {"skill": "/s dir", "tasks": "/t.jsonl", "output": "/o.json", "repeat": "2"})
    assert argv == ["run-agent", "--skill=/s dir", "--in", "/t.jsonl", "-o", "/o.json", "--seed", "2"]
    assert build_argv("agent 'a b'", {"skill": "S", "tasks": "T", "output": "O", "repeat": "0"}) == \
        ["agent", "a b", "S", "T", "O"]
    marker = tmp_path / "pwned"
    evaluator = CommandEvaluator(f"{sys.executable} -c pass ; touch {marker}", timeout_s=30)
    with pytest.raises(EvaluatorError):
        evaluator.evaluate(SKILL, TASKS)
    assert not marker.exists()  # ";" and "touch" were arguments, not a second command
    with pytest.raises(EvaluatorError, match="cannot parse"):
        CommandEvaluator("agent 'unclosed")


@pytest.mark.parametrize("mode, message", [
    ("crash", "exited with status 3; its error output ends with: harness: cannot reach the simulator"),
    ("garbage", "is not valid JSON"),
    ("missing", "has no result for 1 of 6 tasks"),
    ("extra", "names tasks that were not given: not-a-task"),
    ("badvalue", "'passed' must be true or false"),
])
def test_bad_runs_and_bad_output_are_clear_errors(harness, monkeypatch, mode, message):
    monkeypatch.setenv("HARNESS_MODE", mode)
    with pytest.raises(EvaluatorError, match=message.replace("(", r"\(")):
        CommandEvaluator(harness, timeout_s=30).evaluate(SKILL, TASKS)


def test_timeout_stops_the_command(harness, monkeypatch):
    monkeypatch.setenv("HARNESS_MODE", "sleep")
    started = time.monotonic()
    with pytest.raises(EvaluatorError, match="timed out after 1 s"):
        CommandEvaluator(harness, timeout_s=1).evaluate(SKILL, TASKS)
    assert time.monotonic() - started < 20
    with pytest.raises(EvaluatorError, match="cannot start"):
        CommandEvaluator("/no/such/agent-binary").evaluate(SKILL, TASKS)


def test_ab_run_with_the_command_evaluator(ws, harness, monkeypatch):
    version = import_skill(ws.db, SKILL)
    ids = eval_store.save_tasks(ws.db, TASKS, "demo")
    run_id = start_ab_run(ws, version, None, ids, EvalConfig(evaluator="command", command=harness, repeats=2))
    assert ws.db.execute("SELECT count(*) FROM run_items WHERE run_id = ?", [run_id]).fetchone()[0] == 4
    run = runs.execute(ws, run_id)
    assert run.status == "done" and run.progress.done == 4
    result = ab_result(ws.db, run_id)
    assert (result.candidate.mean, result.baseline.mean) == (pytest.approx(5 / 6), pytest.approx(0.5))
    assert result.candidate.std == 0.0 and result.complete
    assert [f.direction for f in result.flips] == ["fail→pass", "fail→pass"]
    assert {f.task_id for f in result.flips} == {TASKS[1].id, TASKS[3].id}

    monkeypatch.setenv("HARNESS_MODE", "crash")
    failing = start_ab_run(ws, version, None, ids, EvalConfig(evaluator="command", command=harness))
    run = runs.execute(ws, failing)
    assert run.status == "done" and (run.progress.done, run.progress.failed) == (0, 2)
    errors = [r[0] for r in ws.db.execute("SELECT error FROM run_items WHERE run_id = ?", [failing])]
    assert all("cannot reach the simulator" in e for e in errors)
