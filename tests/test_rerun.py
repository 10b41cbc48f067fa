"""Re-run a subtree of a finished consolidation (a run of its own, kind "rerun"): the node is merged
again with a re-run note (cache bypassed on purpose), its ancestors up to the root follow, a new
proposal version is saved with the base as parent, and the earlier proposal's provenance stays
intact. A failed or cancelled re-run leaves the consolidation as it was."""

from __future__ import annotations

import threading

import pytest

from tests.fakes import ScriptedClient
from tests.helpers import BOOK_LINE, CANCEL_LINE, Seeded, rerun_script, seed_consolidation
from trace2skill import runs
from trace2skill.consolidate.rerun import create_rerun, path_to_root
from trace2skill.consolidate.run import ConsolidationResult
from trace2skill.demo import DEMO_SKILL
from trace2skill.errors import NotFoundError, RunStateError
from trace2skill.provenance import blame
from trace2skill.store import runs as run_store
from trace2skill.store.patches import get_patch, list_nodes
from trace2skill.store.skills import get_version, latest_version


def rerun(seeded: Seeded, level: int, idx: int, client) -> ConsolidationResult:
    run = runs.execute(seeded.ws, create_rerun(seeded.ws, seeded.run_id, level, idx), client)
    assert run.status == "done", run.error
    return ConsolidationResult.from_counters(seeded.run_id, run.counters)


@pytest.fixture
def seeded(ws) -> Seeded:
    return seed_consolidation(ws)


def _top(nodes):
    return max(n["level"] for n in nodes)


def test_seeded_proposal_has_two_hunks_of_different_support(seeded):
    files = get_version(seeded.ws.db, seeded.result.version).files["SKILL.md"]
    assert files.count(CANCEL_LINE) == 1 and files.count(BOOK_LINE) == 1
    assert seeded.result.levels == 3  # 6 patches, B=2: 6 -> 3 -> 2 -> 1


def test_rerun_the_root_saves_a_new_proposal_and_keeps_old_provenance(seeded):
    db = seeded.ws.db
    old_version = seeded.result.version
    nodes = list_nodes(db, seeded.run_id)
    top = _top(nodes)
    old_root = next(n for n in nodes if n["level"] == top)
    client = ScriptedClient(rerun_script)

    result = rerun(seeded, top, 0, client)

    assert len(client.calls) == 1 and "Re-run 1 of this merge" in client.calls[0][1]["content"]
    assert result.version != old_version and result.merge_calls == 1 and result.levels == top
    new = get_version(db, result.version)
    assert (new.parent, new.source, new.run_id) == (seeded.base, "proposal", seeded.run_id)
    assert CANCEL_LINE in new.files["SKILL.md"] and BOOK_LINE not in new.files["SKILL.md"]
    root = next(n for n in list_nodes(db, seeded.run_id) if n["level"] == top)
    assert root["output"] != old_root["output"] and root["status"] == "done" and root["rationale"] == "asked again"
    assert root["inputs"] == old_root["inputs"]
    assert {d["reason"] for d in root["dropped"]} == {"re-run: too specific"}
    run = run_store.get_run(db, seeded.run_id)
    assert run.status == "done" and run.counters["version"] == result.version
    assert [(r["n"], r["level"], r["idx"]) for r in run.counters["reruns"]] == [(1, top, 0)]
    [rerun_run] = run_store.list_runs(db, "rerun", parent=seeded.run_id)
    assert rerun_run.counters["version"] == result.version
    assert run_store.get_run(db, seeded.run_id).counters["reruns"][0]["run"] == rerun_run.id

    # The earlier proposal still blames its booking line on the edits it was built from.
    old_lines = get_version(db, old_version).files["SKILL.md"].splitlines()
    found = blame(db, old_version, "SKILL.md", old_lines.index(BOOK_LINE) + 1)
    assert found["origin"]["kind"] == "edit" and found["merge_path"][0]["content"] == BOOK_LINE
    assert found["merge_path"][-1]["level"] == 0 and found["lessons"]
    # ...and the new one traces its kept line through the re-run root down to the proposers.
    new_lines = new.files["SKILL.md"].splitlines()
    kept = blame(db, result.version, "SKILL.md", new_lines.index(CANCEL_LINE) + 1)
    assert kept["merge_path"][0]["edit_id"] in {e.id for e in get_patch(db, root["output"]).edits}
    assert {s["trajectory_id"] for s in kept["steps"]} == set(kept["trajectories"]) and len(kept["trajectories"]) == 6


def test_rerun_a_leaf_level_node_re_merges_every_ancestor(seeded):
    db = seeded.ws.db
    nodes = list_nodes(db, seeded.run_id)
    target = next(n for n in nodes if n["level"] == 1 and len(n["inputs"]) == 2)
    chain = path_to_root(nodes, 1, target["idx"])
    assert [n["level"] for n in chain] == [1, 2, 3]
    client = ScriptedClient(rerun_script)

    result = rerun(seeded, 1, target["idx"], client)

    merging = [n for n in chain if len(n["inputs"]) > 1]
    assert len(client.calls) == result.merge_calls == len(merging)
    assert "Re-run 1" in client.calls[0][1]["content"]
    assert all("Re-run" not in c[1]["content"] for c in client.calls[1:])  # ancestors: ordinary requests
    after = {(n["level"], n["idx"]): n for n in list_nodes(db, seeded.run_id)}
    for old in chain:
        assert after[(old["level"], old["idx"])]["output"] != old["output"]
    untouched = [n for n in nodes if (n["level"], n["idx"]) not in {(c["level"], c["idx"]) for c in chain}]
    assert all(after[(n["level"], n["idx"])]["output"] == n["output"] for n in untouched)
    parent = after[(2, chain[1]["idx"])]
    assert after[(1, target["idx"])]["output"] in parent["inputs"]  # the new output replaced the old input
    assert get_version(db, result.version).parent == seeded.base

    again = rerun(seeded, 1, target["idx"], ScriptedClient(rerun_script))
    assert again.merge_calls == len(merging)
    assert [r["n"] for r in run_store.get_run(db, seeded.run_id).counters["reruns"]] == [1, 2]


def test_a_failed_rerun_leaves_the_consolidation_as_it_was_and_reports(seeded):
    ws, db = seeded.ws, seeded.ws.db
    before = list_nodes(db, seeded.run_id)
    top = max(n["level"] for n in before)

    def broken(messages, output):
        raise RuntimeError("endpoint down")  # (an LLM error is not raised: the merge falls back instead)

    run = runs.execute(ws, create_rerun(ws, seeded.run_id, top, 0), ScriptedClient(broken))
    assert run.status == "failed" and "endpoint down" in (run.error or "")
    assert list_nodes(db, seeded.run_id) == before
    parent = run_store.get_run(db, seeded.run_id)
    assert parent.status == "done" and not parent.counters.get("reruns")
    assert latest_version(db, DEMO_SKILL).id == seeded.result.version
    # the failed re-run can be resumed once the endpoint is back
    again = runs.resume(ws, run.id, ScriptedClient(rerun_script))
    assert again.status == "done" and run_store.get_run(db, seeded.run_id).counters["reruns"][0]["run"] == run.id


def test_a_cancelled_rerun_stops_between_nodes_and_changes_nothing(seeded):
    ws, db = seeded.ws, seeded.ws.db
    before = list_nodes(db, seeded.run_id)
    target = next(n for n in before if n["level"] == 1 and len(n["inputs"]) == 2)
    gate, asked = threading.Event(), threading.Event()

    def slow(messages, output):
        asked.set()
        gate.wait(10)
        return rerun_script(messages, output)

    rerun_id = create_rerun(ws, seeded.run_id, 1, target["idx"])
    with pytest.raises(RunStateError, match="already under way"):
        create_rerun(ws, seeded.run_id, 1, target["idx"])
    runs.start_background(ws, rerun_id, ScriptedClient(slow))
    assert asked.wait(10)
    runs.cancel(ws, rerun_id)
    runs.wait(rerun_id, 5)
    gate.set()
    assert run_store.get_run(db, rerun_id).status == "cancelled"
    assert list_nodes(db, seeded.run_id) == before  # the late answer changed nothing
    assert latest_version(db, DEMO_SKILL).id == seeded.result.version


def test_rerun_refuses_unknown_nodes_and_unfinished_runs(seeded):
    ws, db = seeded.ws, seeded.ws.db
    with pytest.raises(NotFoundError, match="no merge node at level 9"):
        create_rerun(ws, seeded.run_id, 9, 0)
    db.execute("UPDATE runs SET status = 'running' WHERE id = ?", [seeded.run_id])
    with pytest.raises(RunStateError, match="once the run is done"):
        create_rerun(ws, seeded.run_id, 1, 0)
