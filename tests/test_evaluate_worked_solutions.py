"""Evaluations that can score (issue 17, part 5): gold answers found in worked solutions ("#### 18")
by a mapping's answer_pattern, the warning when gold answers still look like whole solutions (task
files and held-out trajectories), the CLI preview, a QA evaluator that may reason before its final
answer, numbers compared as numbers, and an A/B run on math word problems that scores."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from trace2skill import runs
from trace2skill.cli import main
from trace2skill.errors import TaskFormatError
from trace2skill.evaluate import EvalConfig, TaskMapping, ab_result, load_mapping, load_tasks, start_ab_run
from trace2skill.evaluate.answers import final_answer, gold_warnings
from trace2skill.evaluate.qa import QAEvaluator
from trace2skill.evaluate.scoring import score_answer
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import EvalTask, Outcome, Step, Task, Trajectory
from trace2skill.signals import compute_signals
from trace2skill.skill.folder import SkillFolder
from trace2skill.splits import set_split
from trace2skill.store import Workspace
from trace2skill.store import evaluation as eval_store
from trace2skill.store.skills import import_skill
from trace2skill.store.trajectories import insert_trajectories

PROBLEMS = [  # (question, worked solution ending in "#### answer", the answer)
    ("Tom has 3 boxes of 6 eggs. How many eggs does he have?", "3 boxes x 6 eggs = 18 eggs.\n#### 18", "18"),
    ("A book costs $12 and a pen costs $3. What do 2 books and 4 pens cost?",
     "2 books cost 2 x 12 = $24.\n4 pens cost 4 x 3 = $12.\nTogether: 24 + 12 = $36.\n#### 36", "36"),
    ("A farm has 1,200 hens; each lays 1.5 eggs a day. How many eggs a day?",
     "1,200 x 1.5 = 1,800 eggs.\n#### 1,800", "1800"),
    ("Ann walks 4 km a day for 5 days, then rests. How far did she walk?",
     "4 km x 5 = 20 km.\n#### 20", "20"),
]


def _jsonl(tmp_path, name="math.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps({"question": q, "answer": a}) for q, a, _ in PROBLEMS) + "\n")
    return path


def test_answer_pattern_finds_the_gold_answer_in_a_worked_solution(tmp_path):
    path = _jsonl(tmp_path)
    whole = load_tasks(path, TaskMapping(id=None))
    assert whole[0].answers == [PROBLEMS[0][1]]  # without a pattern: the whole solution...
    [warning] = gold_warnings(whole)  # ...and a warning that names the cure
    assert warning.startswith("4 of 4 gold answers look like whole worked solutions") and "####" in warning
    assert "answer_pattern" in warning and "--answer-pattern" in warning

    tasks = load_tasks(path, TaskMapping(id=None, answer_pattern=r"####\s*(.+)$"))
    assert [t.answers for t in tasks] == [["18"], ["36"], ["1,800"], ["20"]] and gold_warnings(tasks) == []
    assert [t.answers for t in load_tasks(path, load_mapping("gsm8k"))] == [["18"], ["36"], ["1,800"], ["20"]]
    mapping = tmp_path / "m.yaml"
    mapping.write_text("prompt: question\nanswer: answer\nid: null\nanswer_pattern: 'The answer is (\\d+)'\n")
    sentences = tmp_path / "s.jsonl"
    sentences.write_text(json.dumps({"question": "2+2?", "answer": "Two and two. The answer is 4."}) + "\n")
    assert load_tasks(sentences, load_mapping(str(mapping)))[0].answers == ["4"]
    with pytest.raises(TaskFormatError, match=r"s.jsonl: record 0: answer_pattern '####.*' finds nothing"):
        load_tasks(sentences, load_mapping("gsm8k"))
    with pytest.raises(TaskFormatError, match="not a valid regular expression"):
        TaskMapping(answer_pattern="####(")


def test_the_cli_previews_the_gold_answers_and_warns_about_whole_solutions(tmp_path):
    db, path, runner = str(tmp_path / "w.db"), _jsonl(tmp_path), CliRunner()
    out = runner.invoke(main, ["--db", db, "evaluate", "--tasks", str(path), "--preview"])
    assert out.exit_code == 0, out.output
    assert "4 tasks from math.jsonl" in out.output and "gold: 3 boxes x 6 eggs" in out.output
    assert "warning: 4 of 4 gold answers look like whole worked solutions" in out.output
    out = runner.invoke(main, ["--db", db, "evaluate", "--tasks", str(path), "--mapping", "gsm8k", "--preview"])
    assert out.exit_code == 0 and "warning" not in out.output and re.search(r"gold: 1,800\n", out.output)
    out = runner.invoke(main, ["--db", db, "evaluate", "--tasks", str(path), "--answer-pattern", r"####\s*(.+)$",
                               "--preview", "--json"])
    data = json.loads(out.stdout)
    assert [t["answers"] for t in data["preview"]] == [["18"], ["36"], ["1,800"], ["20"]] and data["warnings"] == []
    assert eval_store.list_sets(Workspace(db).db) == []  # a preview stores nothing
    out = runner.invoke(main, ["--db", db, "evaluate", "--tasks", str(path)])
    assert out.exit_code == 2 and "needs --skill" in out.output
    assert "answer_pattern" in runner.invoke(main, ["evaluate", "--help"]).output


def test_heldout_trajectories_with_worked_solutions_warn_and_take_a_pattern(ws, tmp_path):
    trajectories = []
    for question, solution, _ in PROBLEMS:
        t = Trajectory(source_format="qa_run", task=Task(prompt=question), outcome=Outcome(label="failure"),
                       steps=[Step(index=0, role="user", text=question), Step(index=1, role="assistant", text="?")],
                       ground_truth={"answer": solution}).with_id()
        trajectories.append((t, compute_signals(t)))
    insert_trajectories(ws.db, trajectories)
    set_split(ws.db, [t.id for t, _ in trajectories], "heldout")
    runner = CliRunner()
    out = runner.invoke(main, ["--db", str(ws.path), "evaluate", "--from-trajectories", "all", "--preview"])
    assert out.exit_code == 0 and "warning: 4 of 4 gold answers look like whole worked solutions" in out.output
    out = runner.invoke(main, ["--db", str(ws.path), "evaluate", "--from-trajectories", "all", "--preview",
                               "--answer-pattern", r"####\s*(.+)$", "--json"])
    assert sorted(a for t in json.loads(out.stdout)["preview"] for a in t["answers"]) == ["1,800", "18", "20", "36"]


@pytest.mark.parametrize("answer, gold", [("18", "18"), ("18.0", "18"), ("$18", "18"), ("18 dollars", "18"),
                                          ("18 US dollars", "18"), ("1,800", "1800"), ("1800", "1,800"),
                                          ("$1,800.00", "1,800")])
def test_numbers_compare_as_numbers(answer, gold):
    assert score_answer(answer, [gold]).passed


@pytest.mark.parametrize("answer, gold", [("1,8", "18"), ("180", "18"), ("18 or 19", "18"), ("1.8", "18")])
def test_numbers_that_differ(answer, gold):
    assert not score_answer(answer, [gold]).passed


def test_the_final_answer_is_read_after_the_reasoning():
    assert final_answer("18") == "18"
    assert final_answer("Final answer: 18") == "18"
    assert final_answer("The answer is $36.") == "$36"
    assert final_answer("**Answer:** 20") == "20"
    assert final_answer("", "4 x 5 = 20 km.\nFinal answer: 20 km") == "20 km"
    assert final_answer("", "no answer stated") == ""
    assert final_answer("Bangkok, Thailand") == "Bangkok, Thailand"
    assert final_answer("Answers vary") == "Answers vary"  # "answer" inside a word is no marker


def _reasoning_model(request):
    """Works the problem out, then states "Final answer: N"; without the skill's hint it forgets to
    multiply on the two-step problem."""
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    question = user.split("Question: ", 1)[1].split("\n")[0]
    _, solution, answer = next(p for p in PROBLEMS if p[0] == question)
    if "books" in question and "MULTIPLY-FIRST" not in system:
        solution, answer = "12 + 3 = 15.", "15"
    steps = solution.split("\n#### ")[0]
    reply = {"reasoning": f"{steps}\nFinal answer: {answer}", "answer": ""}
    if "eggs a day" in question:
        reply["answer"] = f"Final answer: {answer} eggs"  # a sentence in the answer field
    return reply


def test_an_ab_run_on_worked_solutions_scores_the_final_answers(ws, tmp_path):
    tasks = load_tasks(_jsonl(tmp_path), load_mapping("gsm8k"))
    ids = eval_store.save_tasks(ws.db, tasks, "math")
    base = import_skill(ws.db, SkillFolder.from_markdown("math", "Word problems.", "# Word problems\n\nRead twice.\n"))
    better = import_skill(ws.db, SkillFolder.from_markdown("math", "Word problems.",
                                                           "# Word problems\n\nRead twice.\n\nMULTIPLY-FIRST: work "
                                                           "out each product before adding.\n"))
    with FakeLLMServer(_reasoning_model) as srv:
        run_id = start_ab_run(ws, better, base, ids, EvalConfig(base_url=srv.base_url, model="fake"))
        run = runs.execute(ws, run_id, LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake")))
        requests = list(srv.requests)
    assert run.status == "done", run.error
    result = ab_result(ws.db, run_id)
    assert result.candidate.mean == 1.0 and result.baseline.mean == 0.75
    assert [(f.direction, f.candidate_answers) for f in result.flips] == [("fail→pass", ["36"])]
    rows = {(r["arm"], r["task_id"]): r for r in eval_store.list_results(ws.db, run_id)}
    assert rows[("A", ids[2])]["answer"] == "1800 eggs" and rows[("A", ids[2])]["detail"] == "numeric"
    request = requests[0]
    assert request["max_tokens"] == 1024  # room for the working
    schema = request["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["reasoning", "answer"] and schema["properties"]["reasoning"]["maxLength"] > 2000
    assert "step by step" in request["messages"][0]["content"]


def test_a_small_answer_budget_asks_for_the_answer_alone():
    seen = {}

    class Client:
        def structured(self, messages, output, *, schema_name, run_id=None, max_tokens=None, schema=None):
            seen.update(max_tokens=max_tokens, schema=schema)
            return type("R", (), {"value": output(answer="18"), "usage": {}, "cached": False, "call_id": "c"})()

    task = EvalTask(prompt="3 x 6?", answers=["18"]).with_id()
    assert QAEvaluator(Client(), max_tokens=48).evaluate(None, [task])[0].passed
    assert seen["max_tokens"] == 48 and seen["schema"]["properties"]["reasoning"]["maxLength"] == 0
