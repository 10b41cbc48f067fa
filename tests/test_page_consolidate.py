"""Consolidate screen (AppTest): the plan (approved lessons, settings), a run started in the
background against a real HTTP fake endpoint and read back from the database (tree, counters,
review link), a new skill, the node inspector and "Re-run this subtree"; the DOT of the tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import (
    BOOK_LINE,
    CANCEL_LINE,
    http_responder,
    over_http,
    rerun_script,
    seed_consolidation,
    seed_lessons,
    table_with,
)
from trace2skill import runs
from trace2skill.demo import DEMO_SKILL
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import MergeNode
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import LessonFilter, lesson_ids, list_lessons, set_status
from trace2skill.store.patches import list_nodes, save_node
from trace2skill.store.skills import get_version, latest_version, list_proposals
from trace2skill.ui.merge_node_view import node_detail
from trace2skill.ui.merge_tree_view import Leaf, Node, TreeView, tree_rows

REPO = Path(__file__).resolve().parents[1]


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/consolidate.py")
    return at.run()


def _endpoint(ws: Workspace, responder) -> FakeLLMServer:
    """A running loopback endpoint, stored as the workspace's LLM settings (use it as a context)."""
    server = FakeLLMServer(responder, model="fake").start()
    set_setting(ws.db, "base_url", server.base_url)
    set_setting(ws.db, "model", "fake")
    return server


def _boxes(at: AppTest) -> dict[str, object]:
    """The merge tree's boxes (buttons) by key."""
    return {b.key: b for b in at.button if b.key and b.key.startswith(("con_tree_", "con_leaf_"))}


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_deepen_the_demo_skill_in_the_background_and_follow_it(ws_env):
    ws = ws_env
    seed_lessons(ws)
    with _endpoint(ws, http_responder):
        at = _page()
        assert not at.exception
        assert any("12 approved lessons from 6 trajectories" in c.value for c in at.caption)
        assert at.selectbox(key="con_skill").value == DEMO_SKILL
        assert at.selectbox(key="con_version").value == latest_version(ws.db, DEMO_SKILL).id
        assert at.number_input(key="con_batch").value == 8
        assert not any("SmolLM2" in w.value for w in at.warning)  # an endpoint is configured
        at.number_input(key="con_batch").set_value(2)
        at.checkbox(key="con_embeddings").uncheck()
        at.button(key="con_start").click().run()
        assert not at.exception
        run_id = at.session_state["con_run"]
        assert any(f"Consolidation run {run_id} started" in s.value for s in at.success)
        runs.wait(run_id, timeout=60)
        at.run()
    assert run_store.run_status(ws.db, run_id) == "done"
    config = run_store.get_run(ws.db, run_id).config
    assert (config["batch_size"], config["embeddings"], config["base_url"] is not None) == (2, False, True)
    boxes = _boxes(at)
    assert sum(k.startswith("con_leaf_") for k in boxes) == 6  # one leaf per trajectory
    assert "con_tree_3_0" in boxes and not any(k.startswith("con_tree_4") for k in boxes)  # B=2: three levels
    assert len(boxes) == 6 + len(list_nodes(ws.db, run_id))
    assert all(b.proto.icon == ":material/check_circle:" for b in boxes.values())  # all done
    m = _metrics(at)
    assert (m["Levels"], m["Done"], m["Edits applied"]) == ("3", "6", "2")
    proposal = list_proposals(ws.db, run_id=run_id)[0].id
    files = get_version(ws.db, proposal).files["SKILL.md"]
    assert CANCEL_LINE in files and BOOK_LINE in files
    # The node inspector opens on the root; the review link carries the proposal to the Review page.
    assert any(m.value.startswith("#### Level 3 · #0 (root)") for m in at.markdown)
    assert any(CANCEL_LINE in str(v) for v in table_with(at, "content")["content"])
    at.button(key="con_review").click().run()
    assert at.session_state["rev_version"] == proposal
    assert at.title[0].value == "Review & diff"


def test_a_new_skill_needs_a_name_and_description(ws_env):
    ws = ws_env
    seed_lessons(ws, n=2)
    with _endpoint(ws, http_responder):
        at = _page()
        at.segmented_control(key="con_mode").set_value("New skill").run()
        assert at.button(key="con_start").disabled
        at.text_input(key="con_new_name").input("airline-tips").run()
        assert at.button(key="con_start").disabled  # still no description
        at.text_area(key="con_new_description").input("Tips for airline support agents, learnt from runs.").run()
        assert not at.button(key="con_start").disabled
        at.button(key="con_start").click().run()
        run_id = at.session_state["con_run"]
        runs.wait(run_id, timeout=60)
        at.run()
        stub = latest_version(ws.db, "airline-tips")
        assert stub.source == "proposal" and get_version(ws.db, stub.parent).source == "manual"
        # A second run with the same name is refused with the library's message.
        at.segmented_control(key="con_mode").set_value("New skill").run()
        at.text_input(key="con_new_name").input("airline-tips").run()
        at.text_area(key="con_new_description").input("Again.").run()
        at.button(key="con_start").click().run()
    assert any("could not start" in e.value for e in at.error)
    assert any("a skill named 'airline-tips' exists already" in c.value for c in at.code)


def test_no_approved_lessons_disables_start(ws_env):
    from trace2skill.demo import load_demo

    load_demo(ws_env)
    at = _page()
    assert any("0 approved lessons from 0 trajectories" in c.value for c in at.caption)
    assert at.button(key="con_start").disabled
    assert any("No consolidation runs yet" in c.value for c in at.caption)


def test_node_inspector_and_rerun_of_a_subtree(ws_env):
    ws = ws_env
    seeded = seed_consolidation(ws)
    first = seeded.result.version
    nodes = list_nodes(ws.db, seeded.run_id)
    at = _page()
    assert at.session_state["con_run"] == seeded.run_id
    assert len([k for k in _boxes(at) if k.startswith("con_tree_")]) == len(nodes)
    target = next(n for n in nodes if n["level"] == 1 and len(n["inputs"]) == 2)
    at.button(key=f"con_tree_1_{target['idx']}").click().run()
    assert _boxes(at)[f"con_tree_1_{target['idx']}"].proto.type == "primary"
    inputs = [t.value for t in at.text if t.value.startswith("Input ")]
    assert len(inputs) == 2 and all("the proposal from trajectory" in c for c in inputs)
    detail = node_detail(ws.db, seeded.run_id, 1, target["idx"])
    out_table = table_with(at, "lessons")  # the output edits
    assert list(out_table["content"]) == [e["content"] for e in detail.output]
    assert list(out_table["support"]) == [e["support"] for e in detail.output]
    at.button(key="con_tree_3_0").click().run()  # re-run the root: its fresh answer drops BOOK_LINE
    with _endpoint(ws, over_http(rerun_script)):
        at.button(key="con_rerun").click().run()
        [rerun] = run_store.list_runs(ws.db, "rerun", parent=seeded.run_id)
        runs.wait(rerun.id, timeout=60)
        at.run()
    assert run_store.get_run(ws.db, rerun.id).status == "done"
    assert not at.exception
    proposals = list_proposals(ws.db, run_id=seeded.run_id)
    assert len(proposals) == 2 and proposals[1].id == first
    assert any("2 proposals from this run" in c.value for c in at.caption)
    assert BOOK_LINE not in get_version(ws.db, proposals[0].id).files["SKILL.md"]
    after = {(n["level"], n["idx"]): n for n in list_nodes(ws.db, seeded.run_id)}
    assert after[(1, target["idx"])]["output"] == target["output"]  # below the re-run node: untouched
    assert after[(3, 0)]["dropped"] and run_store.get_run(ws.db, seeded.run_id).counters["reruns"][0]["level"] == 3
    assert at.button(key="con_review").click().run().session_state["rev_version"] == proposals[0].id


def test_tree_rows_of_a_tree_in_progress_and_of_many_leaves():
    view = TreeView(
        leaves=[Leaf("t1", "p1", "done", 2, "Cancel a flight"), Leaf("t2", "p2", "running", None, "Book"),
                Leaf("t3", "p3", "failed", None, "")],
        nodes=[Node(1, 0, "fallback", ["p1"], "o1", 2, 2, 0, 1), Node(1, 1, "queued", ["p2"], None, 0, None, 0, 0)])
    rows = tree_rows(view)
    assert [[(c.key, c.label, c.status) for c in row] for row in rows] == [
        [((1, 0), "Level 1 · 2 edits → 2 · 1 conflict", "fallback"), ((1, 1), "Level 1 · 0 edits → …", "queued")],
        [("t1", "Cancel a flight · 2 edits", "done"), ("t2", "Book · …", "running"), ("t3", "t3 · …", "failed")]]
    many = TreeView(leaves=[Leaf(f"t{k}", f"p{k}", "done", 1) for k in range(45)],
                    nodes=[Node(1, 0, "running", [f"p{k}" for k in range(8)], None, 8, None, 0, 0)])
    rows = tree_rows(many)
    assert len(rows) == 1 and rows[0][0].width == 8  # 45 leaves are not drawn; the node spans its eight


def test_node_status_shows_fallbacks(ws):
    from trace2skill.store.runs import create_run
    from trace2skill.ui.merge_tree_view import tree_view

    run_id = create_run(ws.db, "consolidation", {"lesson_ids": []}, ["t1"])
    save_node(ws.db, MergeNode(run_id=run_id, level=1, idx=0, inputs=[], output=None, status="fallback",
                               rationale="merge answer invalid after a retry; inputs passed up unchanged (x)"),
              error="x")
    save_node(ws.db, MergeNode(run_id=run_id, level=1, idx=1, status="failed"))
    assert [n.status for n in tree_view(ws.db, run_id).nodes] == ["fallback", "failed"]
    assert [leaf.status for leaf in tree_view(ws.db, run_id).leaves] == ["queued"]


@pytest.fixture
def ws_env() -> Workspace:
    """The workspace the app opens (TRACE2SKILL_DB of this test)."""
    ws = Workspace()
    yield ws
    ws.close()


def _off_target(request):
    """Every proposed edit names a section the skill does not have: nothing can apply."""
    answer = http_responder(request)
    for edit in answer.get("edits", []):
        if "section" in edit:
            edit["section"] = "Lost luggage"
    return answer


def _start_and_wait(ws: Workspace, responder) -> tuple[AppTest, str, list]:
    """Start a consolidation from the form (no embeddings) on a loopback endpoint and wait for it:
    the page after the run, its id, and the requests the endpoint got."""
    with _endpoint(ws, responder) as server:
        at = _page()
        at.checkbox(key="con_embeddings").uncheck()
        at.button(key="con_start").click().run()
        run_id = at.session_state["con_run"]
        runs.wait(run_id, timeout=60)
        at.run()
    return at, run_id, server.requests


def test_a_run_that_applies_nothing_says_so_and_lists_the_reasons(ws_env):
    ws = ws_env
    seed_lessons(ws, n=2)
    at, run_id, _ = _start_and_wait(ws, _off_target)
    assert run_store.run_status(ws.db, run_id) == "done" and not list_proposals(ws.db, run_id=run_id)
    assert not [b for b in at.button if b.key == "con_review"]
    assert any("No proposal: none of the final edits could be applied" in w.value for w in at.warning)
    (rejected,) = [d.value for d in at.dataframe if list(d.value.columns) == ["edit_id", "reason"]]
    reasons = rejected["reason"].tolist()
    assert reasons and all("Lost luggage" in r for r in reasons)


def test_the_edit_budget_is_set_in_the_form_and_shown_with_what_went_over_it(ws_env):
    ws = ws_env
    seed_lessons(ws)
    with _endpoint(ws, http_responder):
        at = _page()
        assert at.number_input(key="con_edit_budget_added").value == 60
        assert at.number_input(key="con_edit_budget_share").value == 30
        at.number_input(key="con_batch").set_value(2)
        at.checkbox(key="con_embeddings").uncheck()
        at.number_input(key="con_edit_budget_added").set_value(1)
        at.segmented_control(key="con_edit_budget_over").set_value("drop")
        at.button(key="con_start").click().run()
        run_id = at.session_state["con_run"]
        runs.wait(run_id, timeout=60)
        at.run()
    config = run_store.get_run(ws.db, run_id).config
    assert (config["max_added_lines"], config["max_changed_share"], config["over_budget"]) == (1, 0.3, "drop")
    assert any("Edit budget: 1 of 1 lines added" in c.value and "1 dropped" in c.value for c in at.caption)
    over = table_with(at, "moved")
    assert list(over["support"]) == [3] and over["reason"][0].startswith("over budget")
    text = get_version(ws.db, list_proposals(ws.db, run_id=run_id)[0].id).files["SKILL.md"]
    assert CANCEL_LINE in text and BOOK_LINE not in text


def test_a_run_over_diagnoses_only_says_why_nothing_was_proposed(ws_env):
    """The embedded model often writes only failure causes: the proposer is not even asked, and the
    screen says so instead of blaming rejected edits."""
    ws = ws_env
    seed_lessons(ws, n=2)
    diagnoses = lesson_ids(ws.db, LessonFilter(kind="failure_cause"))
    set_status(ws.db, [i for i in lesson_ids(ws.db) if i not in diagnoses], "rejected")
    at, run_id, requests = _start_and_wait(ws, http_responder)
    assert requests == []  # no proposer call for diagnoses
    counters = run_store.get_run(ws.db, run_id).counters
    assert counters["diagnoses_only"] == counters["proposals"] == len({x.trajectory_id for x in list_lessons(
        ws.db, LessonFilter(status="approved"))})
    (warning,) = [w.value for w in at.warning if "No proposal" in w.value]
    assert "had only diagnoses (failure causes)" in warning
