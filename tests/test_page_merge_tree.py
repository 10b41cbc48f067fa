"""The clickable merge tree of the Consolidate screen (AppTest, seeded workspaces): boxes in words,
each above what it merges; a click opens a node or a leaf; every input edit of a node accounted for
(and a loud warning when one is not); one definition of a conflict, so a node's count, the run
summary, the stored counters and the command's report agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import BOOK_LINE, RUSH_LINE, seed_conflicts, seed_consolidation
from trace2skill.consolidate.accounting import account
from trace2skill.consolidate.conflicts import edit_labels, merge_conflicts, run_conflicts
from trace2skill.consolidate.run import ConsolidationResult, report_lines
from trace2skill.models import Edit, Patch
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.patches import get_patch, list_nodes, save_patch
from trace2skill.store.trajectories import get_trajectory
from trace2skill.textcut import task_words
from trace2skill.ui.merge_tree_view import tree_rows, tree_view

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws_env() -> Workspace:
    """The workspace the app opens (TRACE2SKILL_DB of this test)."""
    ws = Workspace()
    yield ws
    ws.close()


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/consolidate.py")
    return at.run()


def _tree_buttons(at: AppTest) -> dict[str, object]:
    return {b.key: b for b in at.button if b.key and b.key.startswith(("con_tree_", "con_leaf_"))}


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text] + [m.value for m in at.markdown] + [c.value for c in at.caption]


def test_rows_put_each_node_above_what_it_merges_and_name_leaves_by_task(ws):
    seeded = seed_consolidation(ws)
    view = tree_view(ws.db, seeded.run_id)
    rows = tree_rows(view)
    assert [len(r) for r in rows] == [1, 2, 3, 6]  # root, level 2, level 1, the six trajectories
    assert all(sum(c.width for c in row) == 6 for row in rows)
    producer = {n.output: n.key for n in view.nodes}
    leaf_of = {leaf.patch_id: leaf.trajectory_id for leaf in view.leaves}
    nodes = {n.key: n for n in view.nodes}
    for upper, lower in zip(rows, rows[1:]):  # the children of a row's boxes, in order, make the next row
        children = [producer.get(p) or leaf_of[p] for cell in upper for p in nodes[cell.key].inputs]
        assert children == [c.key for c in lower]
    for cell in rows[0] + rows[1] + rows[2]:
        assert re.fullmatch(r"Level [123] · \d+ edits? → \d+", cell.label), cell.label
    for cell in rows[3]:
        task = get_trajectory(ws.db, cell.key, with_steps=False).task
        assert cell.label.startswith(task_words(task)) and cell.key[:10] not in cell.label
        assert re.search(r" · [12] edits?$", cell.label)


def test_click_a_node_then_a_leaf_to_open_them(ws_env):
    seeded = seed_consolidation(ws_env)
    at = _page()
    assert not at.exception
    buttons = _tree_buttons(at)
    assert len(buttons) == 12 and not [s for s in at.get("selectbox") if s.key == "con_node"]  # no dropdown
    assert buttons["con_tree_3_0"].label == "Level 3 · 3 edits → 2"
    assert buttons["con_tree_3_0"].proto.type == "primary"  # the root opens first
    assert any(m.startswith("#### Level 3 · #0 (root) — done") for m in _texts(at))

    node = next(n for n in list_nodes(ws_env.db, seeded.run_id) if n["level"] == 1 and len(n["inputs"]) == 2)
    at.button(key=f"con_tree_1_{node['idx']}").click().run()
    assert not at.exception
    assert _tree_buttons(at)[f"con_tree_1_{node['idx']}"].proto.type == "primary"
    assert _tree_buttons(at)["con_tree_3_0"].proto.type == "secondary"
    texts = _texts(at)
    assert any(t.startswith(f"#### Level 1 · #{node['idx']} — done") for t in texts)
    assert sum(t.startswith("Input ") and "the proposal from trajectory" in t for t in texts) == 2
    accounting = next(d.value for d in at.dataframe if "what happened" in d.value.columns)
    edits_in = sum(len(get_patch(ws_env.db, p).edits) for p in node["inputs"])
    assert len(accounting) == edits_in
    assert all(re.match(r"(kept as|merged into) output edit", w) for w in accounting["what happened"])
    assert "Every input edit is accounted for" in " ".join(texts)
    assert not at.button(key="con_rerun").disabled

    leaf = next(k for k in _tree_buttons(at) if k.startswith("con_leaf_"))
    at.button(key=leaf).click().run()
    trajectory_id = leaf.removeprefix("con_leaf_")
    texts = _texts(at)
    assert any(t.startswith("#### Proposal from one trajectory") for t in texts)
    assert get_trajectory(ws_env.db, trajectory_id, with_steps=False).task[:100] in " ".join(texts)
    assert not [b for b in at.button if b.key == "con_rerun"]  # a leaf is not a merge to re-run


def test_conflicts_are_counted_once_by_nodes_summary_counters_and_report(ws_env):
    seeded = seed_conflicts(ws_env)
    counters = run_store.get_run(ws_env.db, seeded.run_id).counters
    every = run_conflicts(ws_env.db, seeded.run_id, counters["conflicts"])
    assert len(every) == 2 and all(c.where == "merge" for c in every)
    assert len(counters["conflicts"]) == 2  # the stored summary counts the merges' conflicts too
    result = ConsolidationResult.from_counters(seeded.run_id, counters)
    assert "2 conflicts" in report_lines(result, seeded.base)[0]

    at = _page()
    assert {m.label: m.value for m in at.metric}["Conflicts"] == "2"
    labelled = [b.label for b in _tree_buttons(at).values() if "conflict" in b.label]
    assert sum(int(re.search(r"(\d+) conflicts?", label).group(1)) for label in labelled) == 2

    level, idx = every[-1].node
    at.button(key=f"con_tree_{level}_{idx}").click().run()
    texts = _texts(at)
    assert "4 edits in = 1 kept + 2 merged + 1 dropped (2 of them named in conflicts)" in texts
    said = next(t for t in texts if t.startswith("Conflict 1. The merger said: "))
    assert "E4 vs E2" in said
    start = texts.index(said)  # each edit involved: its support and fate, then its whole text
    assert texts[start + 1:start + 5] == [
        "E4 · supported by 2 runs · dropped: contradicts E2, which more runs support", RUSH_LINE,
        f"E2 · supported by 3 runs · {texts[start + 3].split(' · ', 2)[2]}", BOOK_LINE]
    assert texts[start + 3].split(" · ", 2)[2].startswith("kept as output edit")
    settled = next(t for t in texts if t.startswith("How it was settled: "))
    assert "E4 (2 runs) dropped" in settled and "E2 (3 runs) kept" in settled


def test_an_input_edit_the_merge_lost_is_flagged(ws_env):
    seeded = seed_consolidation(ws_env)
    root = next(n for n in list_nodes(ws_env.db, seeded.run_id) if n["level"] == 3)
    output = get_patch(ws_env.db, root["output"])
    lost = output.edits[0].derived_from  # a stored answer whose first output edit went missing
    save_patch(ws_env.db, output.model_copy(update={"edits": output.edits[1:]}))
    at = _page()
    (error,) = [e.value for e in at.error if "unaccounted for" in e.value]
    labels = {e.id: k for k, e in edit_labels([get_patch(ws_env.db, p) for p in root["inputs"]]).items()}
    assert error.startswith(f"{len(lost)} input edit(s) unaccounted for ({', '.join(labels[i] for i in lost)})")
    texts = _texts(at)
    assert f"3 edits in = 1 kept + {len(lost)} unaccounted" in texts


def test_accounting_adds_up_over_every_fate():
    edits = [Edit(id=f"e{k}", op="append_to_section", section="S", content=f"c{k}") for k in range(1, 7)]
    inputs = [Patch(id="p1", edits=edits[:3]), Patch(id="p2", edits=edits[3:])]
    output = Patch(id="o", edits=[Edit(id="o1", op="append_to_section", content="c1", derived_from=["e1"]),
                                  Edit(id="o2", op="append_to_section", content="c2", derived_from=["e2", "e4"])])
    conflicts = merge_conflicts(1, 0, ["E5 contradicts E1"], edit_labels(inputs))
    acc = account(inputs, output, [{"edit_id": "e3", "reason": "too specific"}], conflicts, settled=True)
    assert [r.fate for r in acc.rows] == ["kept", "merged", "dropped", "merged", "in a conflict", "unaccounted"]
    assert sum(acc.counts().values()) == 6 and [r.label for r in acc.unaccounted] == ["E6"]
    assert acc.sentence() == ("6 edits in = 1 kept + 2 merged + 1 dropped + 1 in a conflict + 1 unaccounted "
                              "(2 of them named in conflicts)")
    assert acc.rows[1].detail == "merged into output edit 2 with E4"
    assert acc.rows[0].what_happened == "kept as output edit 1 · in conflict 1"
    waiting = account(inputs, None, [], [], settled=False)
    assert waiting.adds_up and waiting.sentence() == "6 edits in: not merged yet"


def test_one_conflict_per_set_of_edits_named():
    labels = {f"E{k}": Edit(id=f"e{k}", op="append_to_section") for k in range(1, 4)}
    found = merge_conflicts(2, 1, ["E1", "E2", "E3", "  ", "E2 contradicts E1", "E1 contradicts E2 (again)",
                                   "E9 and the policy disagree", "E9 and the policy disagree"], labels)
    assert [c.labels for c in found] == [("E1",), ("E2",), ("E3",), ("E2", "E1"), ()]
    assert found[3].edit_ids == ("e2", "e1") and found[4].edit_ids == ()
    assert {c.node for c in found} == {(2, 1)}


def test_task_words():
    assert task_words("You are mia_li_3668. You want to fly from New York to Seattle on May 20 (one way). "
                      "You do not want to fly before 11am.") == "Fly from New York to Seattle on May…"
    assert task_words("You are omar_davis_3817, you just faced some money issue and want to downgrade all "
                      "business flights to economy.") == "Downgrade all business flights to economy"
    assert task_words("What's the weather in Paris?") == "What's the weather in Paris?"
    assert task_words("   ") == "(no task text)"
