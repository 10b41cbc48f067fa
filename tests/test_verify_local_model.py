"""Replay verification on the embedded local model (llama.cpp + SmolLM2-135M, 2 CPU cores), on the
bundled WikiTableQuestions sample: the QA agent's attempts are collected as trajectories, lessons
are extracted from the failures, and verification records a verdict with its replay evidence for
every lesson of a verifiable trajectory. The toy model will rarely fix anything: the test asserts
the mechanics, not the rate."""

from __future__ import annotations

import pytest

from tests.helpers import WTQ
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.evaluate import WTQ_MAPPING, load_tasks
from trace2skill.evaluate.collect import CollectConfig, create_collection_run
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.store import runs as run_store
from trace2skill.store.calls import list_calls
from trace2skill.store.lessons import LessonFilter, list_lessons
from trace2skill.store.verifications import checks_of
from trace2skill.verify.run import VerifyConfig, verify_extraction

pytestmark = pytest.mark.slow


def test_collect_extract_and_verify_on_the_embedded_model(ws):
    client = LLMClient(ws, LLMConfig.from_env(base_url=None, model=None))
    collected = runs.execute(ws, create_collection_run(ws, load_tasks(WTQ, WTQ_MAPPING, limit=4),
                                                       CollectConfig(answer_tokens=48, concurrency=2)), client)
    assert collected.status == "done" and collected.progress.done == 4, collected.error
    failures = select_trajectories(ws, outcome="failure")
    assert failures, "the toy model answered every table question right: nothing to learn from"
    extraction = runs.execute(ws, create_extraction_run(ws, failures[:2], ExtractionConfig(
        max_lessons=1, max_tokens=600, concurrency=2, flag_policy="flag")), client)
    assert extraction.status == "done", extraction.error
    lessons = list_lessons(ws.db, LessonFilter(run_id=extraction.id), limit=100)
    if not lessons:
        pytest.skip("the toy model wrote no lesson this time (every analyst answer was invalid)")

    verification = runs.execute(ws, verify_extraction(ws, extraction.id, VerifyConfig(
        repeats=1, rounds=1, answer_tokens=48, analyst_tokens=600, concurrency=2)), client)
    assert verification.status == "done", verification.error
    items = {i.item_id: i for i in run_store.list_items(ws.db, verification.id)}
    checked = [x for x in lessons if x.status in ("proposed", "approved")]  # what verification takes
    for lesson in checked:
        item = items[lesson.trajectory_id]
        if item.status == "failed":  # the toy model's replay or revision failed: recorded, with its error
            assert item.error and not checks_of(ws.db, lesson.id)
            continue
        [check] = checks_of(ws.db, lesson.id)
        assert check.verdict in ("fixed", "not_fixed")  # every collected task has a gold answer
        assert len(check.evidence["with_lesson"]) == len(check.evidence["baseline"]) == 1
        assert all(r["call_id"] for r in check.evidence["with_lesson"])  # a real, logged replay
    calls = list_calls(ws.db, run_id=verification.id, limit=500)
    assert calls and all(c.item_id in failures for c in calls)
