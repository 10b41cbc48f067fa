"""Re-run a subtree of a finished consolidation: the node is merged again with a re-run note (cache
bypassed on purpose), its ancestors up to the root follow, a new proposal version is saved with the
base as parent, and the earlier proposal's provenance stays intact.

Also home of the seeding helpers the page tests share (`seed_consolidation`, `http_responder`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.fakes import ScriptedClient, analyst_answer
from tests.test_merge_tree import merging_operator
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, execute_run, select_trajectories
from trace2skill.consolidate.rerun import path_to_root, rerun_subtree
from trace2skill.consolidate.run import ConsolidationConfig, ConsolidationResult, execute_consolidation, start_consolidation
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.errors import NotFoundError, Trace2SkillError
from trace2skill.provenance import blame
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import lesson_ids, set_status
from trace2skill.store.patches import get_patch, list_nodes
from trace2skill.store.skills import get_version, latest_version

_LESSON = re.compile(r"^L(\d+) \((\w+)\) (.+)$", re.MULTILINE)
CANCEL_LINE = "- Lesson learnt: Confirm details first."
BOOK_LINE = "- Before booking, read the details back to the user and wait for a clear yes."
OUTPUTS = {"error_analysis": "ErrorAnalysis", "success_analysis": "SuccessAnalysis", "patch_proposal": "ProposalOut",
           "merge": "MergeOut"}


def proposer(messages, output):
    """Per trajectory: one edit at the end of "Cancel flight" (every trajectory: support = all) and,
    for failed runs, one at the end of "Book flight" (support = the failures) — two hunks. A skill
    without those sections (a new skill) gets both at the end of its first section."""
    if output.__name__ == "MergeOut":
        return merging_operator(messages, output)
    if output.__name__ != "ProposalOut":
        return analyst_answer(messages, output)
    text = messages[1]["content"]
    lessons = _LESSON.findall(text)
    n, kind, title = next((x for x in lessons if x[2].strip() == "Confirm details first"), lessons[0])
    titles = re.findall(r"^#+ (.+)$", text.split('<file path="SKILL.md">', 1)[1].split("</file>", 1)[0], re.MULTILINE)
    cancel, book = ("Cancel flight", "Book flight") if "Cancel flight" in titles else (titles[0], titles[0])
    edits = [{"op": "append_to_section", "file": "SKILL.md", "section": cancel, "anchor": "",
              "content": f"- Lesson learnt: {title.strip()}.", "rationale": "from the run's lessons",
              "lessons": [int(n)]}]
    if kind.startswith("failure"):
        edits.append({"op": "append_to_section", "file": "SKILL.md", "section": book, "anchor": "",
                      "content": BOOK_LINE, "rationale": "failed runs acted before confirming", "lessons": [int(n)]})
    return {"edits": edits}


def http_responder(request):
    """The same script over HTTP (for trace2skill.llm.fake_server.FakeLLMServer)."""
    output = type(OUTPUTS[request["response_format"]["json_schema"]["name"]], (), {})
    return proposer(request["messages"], output)


@dataclass
class Seeded:
    ws: Workspace
    client: ScriptedClient
    base: str
    run_id: str
    result: ConsolidationResult


def seed_lessons(ws: Workspace, n: int = 6, seed: int = 3) -> ScriptedClient:
    """The demo workspace with the lessons of `n` trajectories (half failures) approved."""
    load_demo(ws)
    client = ScriptedClient(proposer)
    ids = select_trajectories(ws, outcome="all", sample=n, seed=seed, balance=True)
    execute_run(ws, create_extraction_run(ws, ids, ExtractionConfig(max_lessons=2)), client)
    set_status(ws.db, lesson_ids(ws.db), "approved")
    return client


def seed_consolidation(ws: Workspace, n: int = 6, batch_size: int = 2) -> Seeded:
    """`seed_lessons` plus a finished consolidation deepening the airline policy."""
    client = seed_lessons(ws, n)
    base = latest_version(ws.db, DEMO_SKILL)["id"]
    run_id = start_consolidation(ws, ConsolidationConfig(base_version=base, batch_size=batch_size, embeddings=False,
                                                         skill_chars=20000))
    return Seeded(ws, client, base, run_id, execute_consolidation(ws, run_id, client))


def rerun_script(messages, output):
    """Like `proposer`, but a merge asked again drops the booking advice (with a reason)."""
    if output.__name__ == "MergeOut" and "Re-run" in messages[1]["content"]:
        answer = merging_operator(messages, output)
        keep = [e for e in answer["edits"] if "Before booking" not in e["content"]]
        for e in answer["edits"]:
            if e not in keep:
                answer["dropped"] += [{"edit": label, "reason": "re-run: too specific"} for label in e["derived_from"]]
        return {**answer, "edits": keep, "rationale": "asked again"}
    return proposer(messages, output)


@pytest.fixture
def seeded(ws) -> Seeded:
    return seed_consolidation(ws)


def _top(nodes):
    return max(n["level"] for n in nodes)


def test_seeded_proposal_has_two_hunks_of_different_support(seeded):
    files = get_version(seeded.ws.db, seeded.result.version)["files"]["SKILL.md"]
    assert files.count(CANCEL_LINE) == 1 and files.count(BOOK_LINE) == 1
    assert seeded.result.levels == 3  # 6 patches, B=2: 6 -> 3 -> 2 -> 1


def test_rerun_the_root_saves_a_new_proposal_and_keeps_old_provenance(seeded):
    ws, db = seeded.ws, seeded.ws.db
    old_version = seeded.result.version
    nodes = list_nodes(db, seeded.run_id)
    top = _top(nodes)
    old_root = next(n for n in nodes if n["level"] == top)
    client = ScriptedClient(rerun_script)

    result = rerun_subtree(ws, seeded.run_id, top, 0, client)

    assert len(client.calls) == 1 and "Re-run 1 of this merge" in client.calls[0][1]["content"]
    assert result.version != old_version and result.merge_calls == 1 and result.levels == top
    new = get_version(db, result.version)
    assert (new["parent"], new["source"], new["run_id"]) == (seeded.base, "proposal", seeded.run_id)
    assert CANCEL_LINE in new["files"]["SKILL.md"] and BOOK_LINE not in new["files"]["SKILL.md"]
    root = next(n for n in list_nodes(db, seeded.run_id) if n["level"] == top)
    assert root["output"] != old_root["output"] and root["status"] == "done" and root["rationale"] == "asked again"
    assert root["inputs"] == old_root["inputs"]
    assert {d["reason"] for d in root["dropped"]} == {"re-run: too specific"}
    run = run_store.get_run(db, seeded.run_id)
    assert run["status"] == "done" and run["counters"]["version"] == result.version
    assert [(r["n"], r["level"], r["idx"]) for r in run["counters"]["reruns"]] == [(1, top, 0)]

    # The earlier proposal still blames its booking line on the edits it was built from.
    old_lines = get_version(db, old_version)["files"]["SKILL.md"].splitlines()
    found = blame(db, old_version, "SKILL.md", old_lines.index(BOOK_LINE) + 1)
    assert found["origin"]["kind"] == "edit" and found["merge_path"][0]["content"] == BOOK_LINE
    assert found["merge_path"][-1]["level"] == 0 and found["lessons"]
    # ...and the new one traces its kept line through the re-run root down to the proposers.
    new_lines = new["files"]["SKILL.md"].splitlines()
    kept = blame(db, result.version, "SKILL.md", new_lines.index(CANCEL_LINE) + 1)
    assert kept["merge_path"][0]["edit_id"] in {e.id for e in get_patch(db, root["output"]).edits}
    assert {s["trajectory_id"] for s in kept["steps"]} == set(kept["trajectories"]) and len(kept["trajectories"]) == 6


def test_rerun_a_leaf_level_node_re_merges_every_ancestor(seeded):
    ws, db = seeded.ws, seeded.ws.db
    nodes = list_nodes(db, seeded.run_id)
    target = next(n for n in nodes if n["level"] == 1 and len(n["inputs"]) == 2)
    chain = path_to_root(nodes, 1, target["idx"])
    assert [n["level"] for n in chain] == [1, 2, 3]
    client = ScriptedClient(rerun_script)

    result = rerun_subtree(ws, seeded.run_id, 1, target["idx"], client)

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
    assert get_version(db, result.version)["parent"] == seeded.base

    again = rerun_subtree(ws, seeded.run_id, 1, target["idx"], ScriptedClient(rerun_script))
    assert again.merge_calls == len(merging)
    assert [r["n"] for r in run_store.get_run(db, seeded.run_id)["counters"]["reruns"]] == [1, 2]


def test_a_failed_rerun_restores_the_tree_and_reports(seeded):
    ws, db = seeded.ws, seeded.ws.db
    before = list_nodes(db, seeded.run_id)
    top = _top(before)

    def broken(messages, output):
        raise RuntimeError("endpoint down")  # (an LLM error is not raised: the merge falls back instead)

    with pytest.raises(RuntimeError, match="endpoint down"):
        rerun_subtree(ws, seeded.run_id, top, 0, ScriptedClient(broken))
    assert list_nodes(db, seeded.run_id) == before
    run = run_store.get_run(db, seeded.run_id)
    assert run["status"] == "done" and "re-run of node" in run["error"] and "endpoint down" in run["error"]
    assert latest_version(db, DEMO_SKILL)["id"] == seeded.result.version


def test_rerun_refuses_unknown_nodes_and_unfinished_runs(seeded):
    ws, db = seeded.ws, seeded.ws.db
    with pytest.raises(NotFoundError, match="no merge node at level 9"):
        rerun_subtree(ws, seeded.run_id, 9, 0, seeded.client)
    run_store.set_run_status(db, seeded.run_id, "running")
    with pytest.raises(Trace2SkillError, match="once the run is done"):
        rerun_subtree(ws, seeded.run_id, 1, 0, seeded.client)
