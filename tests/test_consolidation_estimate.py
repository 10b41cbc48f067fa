"""The estimate the Consolidate screen shows before a run: the calls and proposal prompts it counts
are the ones the run then sends (scripted model), the merges' prompt bound holds, and the page
shows it (AppTest)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import consolidate, seed_lessons
from trace2skill.consolidate.estimate import estimate_consolidation, merge_levels
from trace2skill.consolidate.run import ConsolidationConfig
from trace2skill.demo import DEMO_SKILL
from trace2skill.errors import Trace2SkillError
from trace2skill.llm.estimate import estimate_messages_tokens
from trace2skill.prompts import load_prompt
from trace2skill.store import Workspace
from trace2skill.store.lessons import lesson_ids, set_status
from trace2skill.store.skills import latest_version

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("leaves", "size", "calls"), [
    (0, 8, []), (1, 8, []), (2, 8, [1]), (8, 8, [1]), (9, 8, [1, 1]), (16, 8, [2, 1]), (6, 2, [3, 1, 1]),
    (17, 4, [4, 1, 1])])
def test_merge_levels_follow_the_tree(leaves, size, calls):
    # 9 by 8: a group of 8 merged, the 9th passed up alone; then those two merged.
    assert merge_levels(leaves, size) == calls


def test_the_estimate_counts_what_the_run_then_sends(ws):
    client = seed_lessons(ws)
    base = latest_version(ws.db, DEMO_SKILL).id
    config = ConsolidationConfig(base_version=base, batch_size=2, embeddings=False, skill_chars=20000)
    plan = estimate_consolidation(ws, config)
    assert (plan.lessons, plan.trajectories, plan.sampled) == (12, 6, 0)
    before = len(client.calls)
    result = consolidate(ws, replace(config), client)
    sent = client.calls[before:]
    proposer, merger = load_prompt("patch_proposer").render(), load_prompt("merger").render()
    proposals = [m for m in sent if m[0]["content"] == proposer]
    merges = [m for m in sent if m[0]["content"] == merger]
    assert len(proposals) + len(merges) == len(sent)
    assert plan.proposal_calls == len(proposals) == 6
    assert plan.merge_calls == (3, 1, 1) and sum(plan.merge_calls) == len(merges) == result.merge_calls
    # The proposals' prompts counted are the prompts sent; each merge's prompt stays under its bound.
    assert plan.proposal_prompt_tokens == sum(estimate_messages_tokens(m) for m in proposals)
    assert plan.merge_prompt_tokens >= sum(estimate_messages_tokens(m) for m in merges) > 0
    assert plan.max_completion_tokens == 11 * config.max_tokens


def test_a_large_selection_is_sampled_and_scaled(ws):
    seed_lessons(ws)
    config = ConsolidationConfig(base_version=latest_version(ws.db, DEMO_SKILL).id, skill_chars=20000)
    whole = estimate_consolidation(ws, config)
    part = estimate_consolidation(ws, config, exact_up_to=3)
    assert part.sampled == 3 and part.proposal_calls == whole.proposal_calls == 6
    assert part.merge_calls == whole.merge_calls == (1,)
    assert 0.5 * whole.proposal_prompt_tokens < part.proposal_prompt_tokens < 1.5 * whole.proposal_prompt_tokens


def test_nothing_to_consolidate_is_said(ws):
    seed_lessons(ws)
    set_status(ws.db, lesson_ids(ws.db), "rejected")
    with pytest.raises(Trace2SkillError, match="no approved lessons"):
        estimate_consolidation(ws, ConsolidationConfig(base_version=latest_version(ws.db, DEMO_SKILL).id))


def test_the_page_shows_calls_tokens_cost_and_time():
    app_ws = Workspace()  # the workspace the app opens (this test's TRACE2SKILL_DB)
    seed_lessons(app_ws)
    app_ws.close()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/consolidate.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # 6 proposals merged 8 at a time: one merge; the embedded model is free.
    assert (metrics["Proposal calls"], metrics["Merge calls"], metrics["Cost (at most, est.)"]) == ("6", "1", "$0.0000")
    assert int(metrics["Prompt tokens (est.)"].replace(",", "")) > 0
    assert any(c.value.startswith("Time: about") and "the merges go level by level" in c.value
               and "At most 10,752 completion tokens" in c.value for c in at.caption)
    at.number_input(key="con_batch").set_value(2).run()
    assert {m.label: m.value for m in at.metric}["Merge calls"] == "5"
