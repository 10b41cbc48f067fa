"""A/B evaluation runs with a scripted model: per-arm scores over repeats (mean ± std), flips with
pass→fail first, the save gate, cancel/resume, failures, distinct cached repeats over HTTP, the
background job, and ablation of a proposal's edit groups."""

from __future__ import annotations

import statistics
import threading

import pytest

from tests.fakes import ScriptedClient
from tests.helpers import AB_BASE_MD, AB_TASKS, ab_http_responder, ab_model_answer, proposal_with_groups
from trace2skill import runs
from trace2skill.errors import LLMUnavailableError, RunStateError, Trace2SkillError
from trace2skill.evaluate import (
    EvalConfig,
    ab_result,
    ablation_report,
    gate,
    latest_ab_result,
    start_ab_run,
    start_ablation,
)
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import EvalTask
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import evaluation as eval_store
from trace2skill.store import runs as run_store
from trace2skill.store.skills import folder_of, get_version, import_skill, save_version

TASKS = AB_TASKS


def scripted() -> ScriptedClient:
    return ScriptedClient(lambda messages, output: ab_model_answer(messages))


@pytest.fixture
def versions(ws):
    """(base, good proposal, bad proposal) versions of one skill, and the stored task ids."""
    base = import_skill(ws.db, SkillFolder.from_markdown("table-qa", "Answer questions about tables.", AB_BASE_MD))
    good = save_version(ws.db, "table-qa", {"SKILL.md": folder_of(get_version(ws.db, base)).skill_md()
                                            + "\nMARK-GOOD: read every row.\n"}, source="proposal", parent=base)
    bad = save_version(ws.db, "table-qa", {"SKILL.md": folder_of(get_version(ws.db, base)).skill_md()
                                           + "\nMARK-BAD: guess.\n"}, source="proposal", parent=base)
    return base, good, bad, eval_store.save_tasks(ws.db, TASKS, "six")


def test_scores_over_repeats_and_flips_regressions_first(ws, versions):
    base, good, _, ids = versions
    client = scripted()
    run_id = start_ab_run(ws, good, base, ids, EvalConfig(repeats=3, concurrency=3))
    run = runs.execute(ws, run_id, client)
    assert run.status == "done" and run.error is None
    assert run.progress.done == 36 and run.progress.failed == 0 and len(client.calls) == 36
    result = ab_result(ws.db, run_id)
    per_repeat = [5 / 6, 4 / 6, 4 / 6]
    assert result.candidate.per_repeat == pytest.approx(per_repeat)
    assert result.candidate.mean == pytest.approx(statistics.fmean(per_repeat), abs=1e-6)
    assert result.candidate.std == pytest.approx(statistics.stdev(per_repeat), abs=1e-6)
    assert (result.baseline.mean, result.baseline.std) == (pytest.approx(0.5), 0.0)
    assert result.delta == pytest.approx(statistics.fmean(per_repeat) - 0.5, abs=1e-6)
    assert result.complete and result.status == "done"

    summary = [(f.direction, f.prompt.split(":")[0], f.baseline_rate, round(f.candidate_rate, 3)) for f in result.flips]
    assert summary == [("pass→fail", "Question 1", 1.0, 0.0),
                       ("fail→pass", "Question 2", 0.0, 1.0),
                       ("fail→pass", "Question 3", 0.0, 1.0),
                       ("fail→pass", "Question 5", 0.0, 0.333)]
    assert result.flips[0].candidate_answers == ["no idea"] * 3 and result.flips[0].answers == ["v1"]
    assert [f.task_id for f in result.regressions] == [TASKS[1].id]
    assert ws.db.execute("SELECT count(*) FROM eval_results WHERE run_id = ?", [run_id]).fetchone()[0] == 36
    assert run_store.get_run(ws.db, run_id).counters["scores"]["A"]["mean"] == result.candidate.mean


def test_no_skill_arm_and_argument_checks(ws, versions):
    base, good, _, ids = versions
    run_id = start_ab_run(ws, good, None, ids)
    runs.execute(ws, run_id, scripted())
    result = ab_result(ws.db, run_id)
    assert result.baseline.label == "no skill" and result.baseline.version_id is None
    assert result.baseline.mean == pytest.approx(0.5) and result.candidate.mean == pytest.approx(5 / 6)
    with pytest.raises(Trace2SkillError, match="same skill version"):
        start_ab_run(ws, good, good, ids)
    with pytest.raises(Trace2SkillError, match="at least one skill version"):
        start_ab_run(ws, None, None, ids)
    with pytest.raises(Trace2SkillError, match="no gold answer"):
        start_ab_run(ws, good, base, eval_store.save_tasks(ws.db, [EvalTask(prompt="Book a flight").with_id()]))
    with pytest.raises(Trace2SkillError, match="needs a command"):
        start_ab_run(ws, good, base, ids, EvalConfig(evaluator="command"))


def test_gate_refuses_a_regression_and_reads_the_right_result(ws, versions):
    base, good, bad, ids = versions
    assert gate(ws.db, bad, base).allowed  # nothing measured yet: not gated...
    refused = gate(ws.db, bad, base, require_result=True)  # ...unless a result is required
    assert not refused.allowed and "no finished" in refused.reason

    for candidate in (good, bad):
        runs.execute(ws, start_ab_run(ws, candidate, base, ids), scripted())
    decision = gate(ws.db, bad, base)
    assert not decision.allowed and decision.reason.startswith("regressed")
    assert "16.7%" in decision.reason and "50.0%" in decision.reason and "2 tasks went pass→fail" in decision.reason
    assert decision.result is not None and decision.result.delta == pytest.approx(1 / 6 - 0.5)
    assert gate(ws.db, bad, base, max_drop=0.5).allowed
    assert gate(ws.db, good, base).allowed and "no regression" in gate(ws.db, good, base).reason

    # a result against "no skill" is not a result against the base
    runs.execute(ws, start_ab_run(ws, bad, None, ids), scripted())
    assert latest_ab_result(ws.db, bad).baseline.version_id is None
    assert latest_ab_result(ws.db, bad, baseline=base).baseline.version_id == base
    assert not gate(ws.db, bad, base).allowed
    unfinished = start_ab_run(ws, good, base, ids)  # newest, but not run: the gate uses the finished one
    assert latest_ab_result(ws.db, good).run_id == unfinished
    assert latest_ab_result(ws.db, good, complete_only=True).run_id != unfinished
    assert latest_ab_result(ws.db, base) is None


def test_cancel_then_resume_finishes_without_redoing_work(ws, versions):
    base, good, _, ids = versions
    run_id = start_ab_run(ws, good, base, ids, EvalConfig(repeats=2, concurrency=1))
    calls = []

    def script(messages, output):
        calls.append(messages)
        if len(calls) == 5:
            runs.cancel(ws, run_id)  # while the 5th item is in flight: it is abandoned, its answer not stored
        return ab_model_answer(messages)

    run = runs.execute(ws, run_id, ScriptedClient(script))
    assert run.status == "cancelled" and len(calls) == 5  # nothing started after the cancel
    assert (run.progress.done, run.progress.cancelled, run.progress.queued, run.progress.running) == (4, 20, 0, 0)
    assert ws.db.execute("SELECT count(*) FROM eval_results WHERE run_id = ?", [run_id]).fetchone()[0] == 4
    assert run_store.get_run(ws.db, run_id).status == "cancelled"
    assert not ab_result(ws.db, run_id).complete
    with pytest.raises(RunStateError, match="nothing to cancel"):
        runs.cancel(ws, run_id)

    run = runs.resume(ws, run_id, ScriptedClient(script))
    assert run.status == "done" and run.progress.done == 24 and run.progress.cancelled == 0
    # the 20 unfinished items are asked (the abandoned 5th again, first); none of the 4 finished ones
    assert len(calls) == 25 and calls[5] == calls[4]
    assert not any(c in calls[5:] for c in calls[:4])
    assert ws.db.execute("SELECT count(*) FROM eval_results WHERE run_id = ?", [run_id]).fetchone()[0] == 24
    result = ab_result(ws.db, run_id)
    assert result.complete and result.candidate.mean == pytest.approx((5 / 6 + 4 / 6) / 2)


def test_endpoint_failures_fail_items_and_resume_retries_them(ws, versions):
    base, good, _, ids = versions
    broken = {"on": True}

    def script(messages, output):
        if broken["on"] and "Question 3" in messages[1]["content"]:
            raise LLMUnavailableError("endpoint kept failing after 5 attempts: 503")
        return ab_model_answer(messages)

    run_id = start_ab_run(ws, good, base, ids)
    run = runs.execute(ws, run_id, ScriptedClient(script))
    assert run.status == "done" and (run.progress.done, run.progress.failed) == (10, 2)
    errors = [i.error for i in run_store.list_items(ws.db, run_id, status="failed")]
    assert errors and all("endpoint kept failing after 5 attempts: 503" in e and "LLMUnavailableError" not in e
                          for e in errors)  # said in words, without the class name
    assert not ab_result(ws.db, run_id).complete
    broken["on"] = False
    assert runs.resume(ws, run_id, ScriptedClient(script)).progress.done == 12
    assert ab_result(ws.db, run_id).candidate.mean == pytest.approx(5 / 6)


def test_repeats_are_distinct_logged_requests_and_a_rerun_hits_the_cache(ws, versions):
    base, good, _, ids = versions
    with FakeLLMServer(ab_http_responder) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake", max_retries=0))
        first = start_ab_run(ws, good, base, ids[3:], EvalConfig(repeats=2, base_url=srv.base_url, model="fake"))
        runs.execute(ws, first, client)
        assert srv.request_count == 12  # 2 arms x 3 tasks x 2 repeats, none answered from the cache
        logged = ws.db.execute("SELECT count(*), count(DISTINCT request_hash) FROM llm_calls WHERE run_id = ?",
                               [first]).fetchone()
        assert tuple(logged) == (12, 12)
        second = start_ab_run(ws, good, base, ids[3:], EvalConfig(repeats=2, base_url=srv.base_url, model="fake"))
        runs.execute(ws, second, client)
        assert srv.request_count == 12  # identical requests: served from the cache
    one, two = ab_result(ws.db, first), ab_result(ws.db, second)
    assert (one.candidate.per_repeat, one.baseline.per_repeat) == (two.candidate.per_repeat, two.baseline.per_repeat)
    assert one.candidate.per_repeat == pytest.approx([1.0, 2 / 3])
    calls = {r[0] for r in ws.db.execute("SELECT call_id FROM eval_results WHERE run_id = ?", [first])}
    assert None not in calls and len(calls) == 12


def test_background_job(ws, versions):
    base, good, _, ids = versions
    gate_open = threading.Event()

    def script(messages, output):
        gate_open.wait(10)
        return ab_model_answer(messages)

    run_id = start_ab_run(ws, good, base, ids, EvalConfig(concurrency=2))
    runs.start_background(ws, run_id, ScriptedClient(script))
    assert run_store.get_run(ws.db, run_id).progress.done == 0
    gate_open.set()
    runs.wait(run_id, timeout=30)
    assert run_store.get_run(ws.db, run_id).status == "done"
    assert latest_ab_result(ws.db, good).complete


def test_ablation_reports_each_edit_groups_effect(ws):
    base, proposal = proposal_with_groups(ws)
    ids = eval_store.save_tasks(ws.db, TASKS, "six")
    run_id = start_ablation(ws, proposal, ids)
    arms = eval_store.get_arms(ws.db, run_id)
    assert list(arms) == ["full", "base", "g1", "g2", "g3"]
    assert arms["full"]["version_id"] == proposal and arms["full"]["detail"]["matches_version"]
    assert "MARK-GOOD" not in arms["g1"]["files"]["SKILL.md"] and "MARK-BAD" in arms["g1"]["files"]["SKILL.md"]
    assert "references/glossary.md" not in arms["g3"]["files"] and "## Terms" not in arms["g3"]["files"]["SKILL.md"]
    assert arms["g3"]["detail"]["edit_ids"] == ["e-ref", "e-terms"]
    runs.execute(ws, run_id, scripted())
    report = ablation_report(ws.db, run_id)
    # full (both markers): 0, 2, 3, 5 right; without the good group 0; without the bad group 0, 2, 3, 4, 5
    effects = [(g["group"], g["edits"], round(g["effect"], 3)) for g in report["groups"]]
    assert effects == [("SKILL.md › Table QA > Pitfalls", 1, round(4 / 6 - 5 / 6, 3)),
                       ("SKILL.md › Table QA > Terms", 2, 0.0),
                       ("SKILL.md › Table QA > Reading", 1, 0.5)]
    assert report["complete"] and report["full"]["mean"] == pytest.approx(4 / 6)
    assert report["base"]["mean"] == pytest.approx(0.5)
    assert ab_result(ws.db, run_id).candidate.arm == "full"
    with pytest.raises(Trace2SkillError, match="not a consolidation proposal"):
        start_ablation(ws, base, ids)
