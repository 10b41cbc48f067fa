"""Replay verification against a scripted loopback endpoint: a lesson that fixes its failure is
marked verified and one that does not is not; a failure no lesson fixes goes through the fix loop
and the revised lesson is checked in turn; a task without a gold answer is "not verifiable";
verification runs like any run (cancel, resume, call log); consolidation can keep to verified
lessons."""

from __future__ import annotations

from typing import Any

import pytest

from trace2skill import runs
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import Lesson, Outcome, Step, Task, Trajectory
from trace2skill.store.calls import list_calls
from trace2skill.store.lessons import approved_lessons, get_lesson, insert_lessons, lessons_by_ids, set_status
from trace2skill.store.trajectories import insert_trajectories
from trace2skill.store.verifications import checks_of
from trace2skill.verify.run import VerifyConfig, create_verification_run

MAGIC = "multiply the two numbers digit by digit"  # a skill line with this makes the agent right


def _trajectory(question: str, wrong: str, answer: str | None, outcome: str = "failure") -> Trajectory:
    steps = [Step(index=0, role="user", text=question), Step(index=1, role="assistant", text=f"The answer is {wrong}.")]
    truth = {"answer": answer} if answer is not None else None
    return Trajectory(source_format="qa_run", task=Task(prompt=question), outcome=Outcome(label=outcome),  # type: ignore[arg-type]
                      steps=steps, ground_truth=truth).with_id()


def _lesson(tid: str, key: str, content: str) -> Lesson:
    return Lesson(id=key, trajectory_id=tid, kind="failure_lesson", title=key, content=content)


def responder(request: dict[str, Any]) -> dict[str, Any]:
    name = request["response_format"]["json_schema"]["name"]
    messages = request["messages"]
    if name == "qa_answer":
        system, question = messages[0]["content"], messages[-1]["content"]
        right = "42" if "seven" in question else "12"
        return {"answer": right if MAGIC in system else "41"}
    assert name == "error_revision", name  # the fix loop: the analyst sees the replays and revises
    assert "answered '41': wrong" in messages[-1]["content"]
    return {"causal_step": 1, "failure_cause": "guessed the product",
            "lessons": [{"kind": "failure_lesson", "title": "Multiply carefully",
                         "description": "", "content": f"When asked for a product, {MAGIC}, because guessing fails.",
                         "evidence": [{"step": 1, "quote": "The answer is 41."}]}]}


@pytest.fixture
def seeded(ws):
    fixable = _trajectory("What is six times seven?", "41", "42")
    stubborn = _trajectory("What is three times four?", "41", "12")
    no_gold = _trajectory("Is this a good plan?", "maybe", None)
    insert_trajectories(ws.db, [(t, []) for t in (fixable, stubborn, no_gold)])
    insert_lessons(ws.db, [
        _lesson(fixable.id, "good", f"When asked for a product, {MAGIC}."),
        _lesson(fixable.id, "vague", "Think about the question before answering it."),
        _lesson(stubborn.id, "useless", "Answer in a friendly tone."),
        _lesson(no_gold.id, "opinion", "Weigh the plan's risks before judging it."),
    ])
    return ws, fixable, stubborn, no_gold


def test_verdicts_replay_evidence_and_the_fix_loop(seeded):
    ws, fixable, stubborn, no_gold = seeded
    with FakeLLMServer(responder) as server:
        client = LLMClient(ws, LLMConfig(base_url=server.base_url, model="fake"))
        config = VerifyConfig(repeats=2, rounds=1, base_url=server.base_url, model="fake")
        run = runs.execute(ws, create_verification_run(ws, ["good", "vague", "useless", "opinion"], config), client)
    assert run.status == "done" and run.progress.done == 3, run.error
    verdicts = {i: get_lesson(ws.db, i).verdict for i in ("good", "vague", "useless", "opinion")}
    assert verdicts == {"good": "fixed", "vague": "not_fixed", "useless": "not_fixed", "opinion": "not_verifiable"}
    [good] = checks_of(ws.db, "good")
    assert (good.rate_with, good.rate_without, good.repeats) == (1.0, 0.0, 2)
    assert [r["answer"] for r in good.evidence["with_lesson"]] == ["42", "42"]
    assert [r["answer"] for r in good.evidence["baseline"]] == ["41", "41"]
    # the stubborn failure went through the fix loop: one revised lesson, checked and fixed
    revised = [lesson for lesson in lessons_by_ids(ws.db, _ids_of_run(ws, run.id)) if lesson.round == 1]
    assert len(revised) == 1 and revised[0].trajectory_id == stubborn.id
    assert revised[0].revises == ["useless"] and revised[0].verdict == "fixed" and revised[0].status == "proposed"
    # the fixable failure did not: one of its lessons already fixed it
    assert all(lesson.trajectory_id != fixable.id for lesson in revised)
    calls = list_calls(ws.db, run_id=run.id, limit=100)
    assert any(c.item_id == stubborn.id and "error_revision" in str(c.request.get("response_format")) for c in calls)
    assert not [c for c in calls if c.item_id == no_gold.id]  # not verifiable: no call at all
    lines, data = runs.get_kind("verification").report(ws, run)
    assert data["verdicts"] == {"fixed": 2, "not_fixed": 2, "not_verifiable": 1}


def _ids_of_run(ws, run_id: str) -> list[str]:
    from trace2skill.store.lessons import LessonFilter, lesson_ids

    return lesson_ids(ws.db, LessonFilter(run_id=run_id))


def test_consolidation_can_keep_to_verified_lessons(seeded):
    from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
    from trace2skill.skill.folder import SkillFolder
    from trace2skill.store.runs import get_run
    from trace2skill.store.skills import import_skill

    ws, *_ = seeded
    with FakeLLMServer(responder) as server:
        client = LLMClient(ws, LLMConfig(base_url=server.base_url, model="fake"))
        config = VerifyConfig(repeats=1, rounds=0, base_url=server.base_url, model="fake")
        runs.execute(ws, create_verification_run(ws, ["good", "vague", "useless", "opinion"], config), client)
    set_status(ws.db, ["good", "vague", "useless", "opinion"], "approved")
    base = import_skill(ws.db, SkillFolder.from_markdown("arith", "Arithmetic tips.", "# Arithmetic\n"))
    run_id = create_consolidation_run(ws, ConsolidationConfig(base_version=base, verified_only=True))
    assert get_run(ws.db, run_id).config["lesson_ids"] == ["good"]
    assert {lesson.id for lesson in approved_lessons(ws.db)} == {"good", "vague", "useless", "opinion"}


SCORER = '''
import json, os, sys
skill_dir, tasks_file, output = sys.argv[1:4]
path = os.path.join(skill_dir, "SKILL.md")
skill = open(path).read() if os.path.exists(path) else ""
results = {}
for line in open(tasks_file):
    task = json.loads(line)
    answer = task["answers"][0] if "digit by digit" in skill else "41"
    results[task["id"]] = {"passed": answer in task["answers"], "answer": answer, "detail": "scored by command"}
json.dump(results, open(output, "w"))
'''


def test_a_real_command_scores_the_replays(seeded, tmp_path):
    import sys

    ws, fixable, *_ = seeded
    script = tmp_path / "scorer.py"
    script.write_text(SCORER)
    config = VerifyConfig(evaluator="command", command=f"{sys.executable} {script}", repeats=1, rounds=0)
    run = runs.execute(ws, create_verification_run(ws, ["good", "vague"], config), None)
    assert run.status == "done", run.error
    assert (get_lesson(ws.db, "good").verdict, get_lesson(ws.db, "vague").verdict) == ("fixed", "not_fixed")
    [check] = checks_of(ws.db, "good")
    assert check.evidence["with_lesson"][0]["detail"] == "scored by command"


def _gold_answers() -> dict[str, str]:
    from tests.helpers import WTQ
    from trace2skill.evaluate import WTQ_MAPPING, load_tasks

    return {t.prompt: t.answers[0] for t in load_tasks(WTQ, WTQ_MAPPING, limit=3)}


def _wtq_responder(request: dict[str, Any]) -> dict[str, Any]:
    """The QA agent answers wrongly unless the skill holds the magic line; the analysts write it."""
    from tests.fakes import analyst_answer

    name = request["response_format"]["json_schema"]["name"]
    messages = request["messages"]
    if name == "qa_answer":
        question = messages[-1]["content"].rsplit("Question: ", 1)[1].split("\n")[0]
        return {"answer": _gold_answers()[question] if MAGIC in messages[0]["content"] else "no idea"}
    output = type("ErrorAnalysis" if name in ("error_analysis", "error_revision") else "SuccessAnalysis", (), {})
    answer = analyst_answer(messages, output)
    answer["lessons"] = answer["lessons"][:1]
    answer["lessons"][0]["content"] = f"When reading a table, {MAGIC}, because the totals are sums."
    return answer


def test_collect_extract_and_verify_from_the_command_line(tmp_path):
    import json

    from click.testing import CliRunner

    from tests.helpers import WTQ
    from trace2skill.cli import main

    db = str(tmp_path / "wtq.db")
    with FakeLLMServer(_wtq_responder) as server:
        llm = ["--base-url", server.base_url, "--model", "fake", "--db", db]
        out = CliRunner().invoke(main, ["collect", "--tasks", str(WTQ), "--mapping", "wtq", "--limit", "3", *llm],
                                 catch_exceptions=False)
        assert out.exit_code == 0, out.output
        assert "3 attempts kept as trajectories" in out.output
        out = CliRunner().invoke(main, ["extract", "--outcome", "failure", "--verify", *llm], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        assert "verdicts:" in out.output and "fixed" in out.output
        listed = json.loads(CliRunner().invoke(main, ["lessons", "--verification", "verified", "--json", *llm[-2:]],
                                               catch_exceptions=False).output)
    assert listed["total"] == 3  # one lesson per failed attempt, each fixing it on replay
