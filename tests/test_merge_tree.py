"""The merge tree with a scripted merge operator: levels, dedup across branches, conflicts,
nothing lost without a reason, support by code through three levels, invalid merges fall back."""

from __future__ import annotations

import math

import pytest

from tests.fakes import ScriptedClient
from tests.helpers import merging_operator
from trace2skill.consolidate.tree import build_tree
from trace2skill.models import Edit, Patch, content_hash
from trace2skill.runs.context import LocalSteps
from trace2skill.store.patches import list_nodes


def leaf(k: int, contents: list[str]) -> Patch:
    pid = content_hash(["leaf", k])
    return Patch(id=pid, run_id="r", level=0, edits=[
        Edit(id=content_hash([pid, i]), op="append_to_section", section="Rules", content=c, support=[f"lesson{k}"])
        for i, c in enumerate(contents)])


LESSON_TRAJ = {f"lesson{k}": f"traj{k}" for k in range(20)}


def support_of(e: Edit) -> int:
    return len({LESSON_TRAJ[s] for s in e.support})


@pytest.fixture
def run_id(ws):
    from trace2skill.store.runs import create_run

    return create_run(ws.db, "consolidation", {}, [])


def _leaves(run_id, specs):
    patches = []
    for k, contents in enumerate(specs):
        p = leaf(k, contents)
        p.run_id = run_id
        patches.append(p)
    return patches


def test_eight_patches_batch_two_gives_three_levels_dedup_and_support(ws, run_id):
    specs = [["Confirm before booking."], ["Check baggage rules."]] * 4  # duplicates in every branch
    client = ScriptedClient(merging_operator)
    result = build_tree(LocalSteps(ws), client, run_id, _leaves(run_id, specs), batch_size=2, skill_files={"SKILL.md": "# S"},
                        support_of=support_of, embeddings=False)
    assert result.levels == 3 == math.ceil(math.log(8, 2))
    assert result.merge_calls == 4 + 2 + 1
    contents = sorted(e.content for e in result.root.edits)
    assert contents == ["Check baggage rules.", "Confirm before booking."]
    confirm = next(e for e in result.root.edits if e.content.startswith("Confirm"))
    assert sorted(confirm.support) == ["lesson0", "lesson2", "lesson4", "lesson6"]  # union, by code
    assert support_of(confirm) == 4
    nodes = list_nodes(ws.db, run_id)
    assert [(n["level"], n["status"]) for n in nodes].count((1, "done")) == 4 and len(nodes) == 7


def test_every_input_edit_is_used_or_dropped_with_reason_and_conflicts_are_reported(ws, run_id):
    specs = [["Refund within 24 hours.", "CONFLICT: never refund."], ["Refund within 24 hours."], ["Ask for the user id."]]
    result = build_tree(LocalSteps(ws), ScriptedClient(merging_operator), run_id, _leaves(run_id, specs), batch_size=8,
                        skill_files={}, support_of=support_of, embeddings=False)
    assert result.levels == 1
    [node] = list_nodes(ws.db, run_id)
    assert node["conflicts"] == ["E2 contradicts the policy"]
    leaf_ids = {e.id for p in _leaves(run_id, specs) for e in p.edits}
    used = {i for e in result.root.edits for i in e.derived_from}
    dropped = {d["edit_id"]: d["reason"] for d in node["dropped"]}
    assert used | set(dropped) == leaf_ids and all(dropped.values())


def test_invalid_merge_falls_back_to_passing_inputs_up(ws, run_id):
    specs = [["BREAK this merge."], ["Keep me."]]
    client = ScriptedClient(merging_operator)
    result = build_tree(LocalSteps(ws), client, run_id, _leaves(run_id, specs), batch_size=2, skill_files={},
                        support_of=support_of, embeddings=False)
    assert result.merge_calls == 2  # the answer and one correction
    assert sorted(e.content for e in result.root.edits) == ["BREAK this merge.", "Keep me."]
    [node] = list_nodes(ws.db, run_id)
    assert "inputs passed up unchanged" in node["rationale"] and "E1 is neither used" in node["error"]
    assert "That merge is not valid" in client.calls[1][-1]["content"]


def test_resume_reuses_finished_nodes(ws, run_id):
    specs = [[f"Rule {k % 3}."] for k in range(6)]
    client = ScriptedClient(merging_operator)
    first = build_tree(LocalSteps(ws), client, run_id, _leaves(run_id, specs), batch_size=2, skill_files={},
                       support_of=support_of, embeddings=False)
    calls = len(client.calls)
    again = build_tree(LocalSteps(ws), client, run_id, _leaves(run_id, specs), batch_size=2, skill_files={},
                       support_of=support_of, embeddings=False)
    assert len(client.calls) == calls and again.root.id == first.root.id


def test_similar_patches_are_batched_together():
    from trace2skill.consolidate.tree import batch

    patches = [leaf(0, ["Refund the ticket to the original payment method."]), leaf(1, ["Check the baggage allowance."]),
               leaf(2, ["Refunds go back to the original form of payment."]), leaf(3, ["Count free checked bags."])]
    groups = sorted(sorted(g) for g in batch(patches, 2))
    assert groups == [[0, 2], [1, 3]]
