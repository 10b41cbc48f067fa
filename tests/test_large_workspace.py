"""What keeps a workspace of 100,000 trajectories and 500,000 lessons fast, checked on small real
SQLite files: the lesson maps a consolidation is chosen and resumed from (both ways of reading
them), the indexes the planner must use (migration m017), counts of lessons without flags, the
Lessons screen's breakdown, run items in order, the merge tree of a run too large to draw, and the
benchmark's own workspace builder. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run, load_plan
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.models import Lesson, LessonFlag, MergeNode
from trace2skill.store import Workspace, lesson_maps
from trace2skill.store.lesson_maps import approved_trajectories, trajectories_and_kinds
from trace2skill.store.lessons import LessonFilter, count_lessons, insert_lessons, set_flags, set_status
from trace2skill.store.patches import save_node
from trace2skill.store.runs import create_run, get_run, item_statuses
from trace2skill.store.skills import latest_version
from trace2skill.store.stats import lesson_breakdown
from trace2skill.store.trajectories import trajectory_ids
from trace2skill.ui.merge_tree_view import LEAF_LIMIT, tree_rows, tree_view

REPO = Path(__file__).resolve().parents[1]
KINDS = ("failure_cause", "failure_lesson", "success_lesson")


@pytest.fixture
def lessons_ws(ws: Workspace) -> tuple[Workspace, list[str]]:
    """The demo trajectories with 12 lessons spread over the first four: L00..L11, kinds in turn,
    every third one (L02, L05, L08, L11) proposed, the others approved."""
    load_demo(ws)
    trajectories = trajectory_ids(ws.db)[:4]
    insert_lessons(ws.db, [
        Lesson(id=f"L{k:02d}", trajectory_id=trajectories[k % 4], kind=KINDS[k % 3], title=f"Lesson {k}",
               content="Check the booking before changing it.", status="proposed" if k % 3 == 2 else "approved")
        for k in range(12)])
    return ws, trajectories


def test_approved_trajectories_maps_only_approved_lessons(lessons_ws):
    ws, trajectories = lessons_ws
    approved = approved_trajectories(ws.db)
    assert sorted(approved) == [f"L{k:02d}" for k in range(12) if k % 3 != 2]
    assert all(approved[f"L{k:02d}"] == trajectories[k % 4] for k in range(12) if k % 3 != 2)
    assert approved_trajectories(ws.db, ["L00", "L02", "nope"]) == {"L00": trajectories[0]}
    assert approved_trajectories(ws.db, []) == {}


@pytest.mark.parametrize("scan_above", [1_000_000, 2])  # looked up by id / read from the approved lessons
def test_trajectories_and_kinds_find_lessons_whatever_their_status(lessons_ws, monkeypatch, scan_above):
    ws, trajectories = lessons_ws
    monkeypatch.setattr(lesson_maps, "SCAN_ABOVE", scan_above)
    set_status(ws.db, ["L03"], "rejected")  # chosen while approved, rejected since: still the run's
    trajectory_of, kind_of = trajectories_and_kinds(ws.db, ["L00", "L03", "L04", "L05", "gone"])
    assert trajectory_of == {"L00": trajectories[0], "L03": trajectories[3], "L04": trajectories[0],
                             "L05": trajectories[1]}
    assert kind_of == {"L00": "failure_cause", "L03": "failure_cause", "L04": "failure_lesson",
                       "L05": "success_lesson"}


def test_the_planner_reads_lessons_from_the_new_indexes(lessons_ws):
    ws, _ = lessons_ws
    names = {name for (name,) in ws.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_lessons_status_kind", "idx_lessons_status_updated", "idx_lessons_flagged",
            "idx_trajectories_outcome_id"} <= names
    assert not {"idx_lessons_status", "idx_trajectories_outcome"} & names  # replaced

    def plan(sql: str) -> str:
        return " | ".join(row[3] for row in ws.db.execute(f"EXPLAIN QUERY PLAN {sql}"))

    assert "COVERING INDEX idx_lessons_status_kind" in plan(
        "SELECT json_group_object(id, trajectory_id) FROM lessons WHERE status = 'approved'")
    assert "idx_lessons_flagged" in plan("SELECT count(*) FROM lessons l WHERE l.flags != '[]'")
    assert "idx_lessons_status_updated" in plan(
        "SELECT id FROM lessons WHERE status = 'rejected' ORDER BY updated DESC LIMIT 20")
    assert "COVERING INDEX idx_trajectories_outcome_id" in plan(
        "SELECT t.outcome, count(*) FROM trajectories t CROSS JOIN lessons l ON l.trajectory_id = t.id "
        "GROUP BY t.outcome")


def test_lessons_without_flags_are_counted_as_all_but_the_flagged(lessons_ws):
    ws, _ = lessons_ws
    set_flags(ws.db, {"L01": [LessonFlag(code="platitude", reason="says nothing")],
                      "L02": [LessonFlag(code="ungrounded", reason="quote not found")]})

    def direct(where: str) -> int:
        return ws.db.execute(f"SELECT count(*) FROM lessons WHERE {where}").fetchone()[0]

    assert count_lessons(ws.db, LessonFilter(flagged=False)) == direct("flags = '[]'") == 10
    assert count_lessons(ws.db, LessonFilter(flagged=True)) == 2
    assert count_lessons(ws.db, LessonFilter(flagged=False, status="approved")) == direct(
        "flags = '[]' AND status = 'approved'") == 7
    assert count_lessons(ws.db, LessonFilter(flagged=False, kind="success_lesson", status="proposed")) == 3


def test_breakdown_counts_by_kind_and_status_and_by_outcome(lessons_ws):
    ws, trajectories = lessons_ws
    breakdown = lesson_breakdown(ws.db)
    assert breakdown.by_kind == [("failure_cause", "approved", 4), ("failure_lesson", "approved", 4),
                                 ("success_lesson", "proposed", 4)]
    outcomes = dict(ws.db.execute("SELECT id, outcome FROM trajectories").fetchall())
    expected: dict[str, int] = {}
    for k in range(12):
        outcome = outcomes[trajectories[k % 4]]
        expected[outcome] = expected.get(outcome, 0) + 1
    assert dict(breakdown.by_outcome) == expected and sum(n for _o, n in breakdown.by_outcome) == 12


def test_run_items_keep_their_order_once_each(ws):
    run_id = create_run(ws.db, "consolidation", {"lesson_ids": []}, ["t2", "t1", "t2", "t3"])
    assert item_statuses(ws.db, run_id) == [("t2", "queued"), ("t1", "queued"), ("t3", "queued")]
    assert get_run(ws.db, run_id).progress.total == 3


def test_a_consolidation_plan_is_the_lessons_chosen_when_the_run_was_created(lessons_ws):
    ws, trajectories = lessons_ws
    base = latest_version(ws.db, DEMO_SKILL).id
    run_id = create_consolidation_run(ws, ConsolidationConfig(base_version=base, base_url="http://127.0.0.1:9/v1"))
    config = get_run(ws.db, run_id).config
    assert config["lesson_ids"] == sorted(f"L{k:02d}" for k in range(12) if k % 3 != 2)
    assert [item for item, _s in item_statuses(ws.db, run_id)] == sorted(set(trajectories))
    set_status(ws.db, ["L00"], "rejected")  # changed after the run was created
    set_status(ws.db, ["L02"], "approved")
    plan = load_plan(ws, config)
    assert sorted(plan.trajectory_of) == config["lesson_ids"] and plan.kind_of["L00"] == "failure_cause"
    first = plan.lessons_of(ws, trajectories[0])  # L00, L04, L08 are its lessons; L08 was never approved
    assert [lesson.id for lesson in first] == ["L00", "L04"] and first[0].content.startswith("Check")
    assert [lesson.id for lesson in plan.lessons_of(ws, trajectories[2])] == ["L06", "L10"]  # L02 came later
    # each trajectory has a diagnosis and a guidance lesson among the run's: none has diagnoses only
    assert plan.diagnoses_only(trajectories) == 0
    plan.kind_of = dict.fromkeys(plan.kind_of, "failure_cause")
    assert plan.diagnoses_only(trajectories) == 4


def test_a_tree_too_large_to_draw_counts_its_leaves_and_sizes_its_merges(ws):
    items = [f"t{k:03d}" for k in range(LEAF_LIMIT + 5)]
    run_id = create_run(ws.db, "consolidation", {"lesson_ids": []}, items)
    save_node(ws.db, MergeNode(run_id=run_id, level=1, idx=0, inputs=["p0", "p1", "p2"], output="m0", status="done"))
    save_node(ws.db, MergeNode(run_id=run_id, level=2, idx=0, inputs=["m0", "p3"], status="running"))
    view = tree_view(ws.db, run_id)
    assert view.leaves == [] and view.leaf_count == len(items) == view.leaves_left_out
    rows = tree_rows(view)
    assert [[(cell.key, cell.width) for cell in row] for row in rows] == [[((2, 0), 4)], [((1, 0), 3)]]
    small = create_run(ws.db, "consolidation", {"lesson_ids": []}, items[:3])
    view = tree_view(ws.db, small)
    assert [leaf.trajectory_id for leaf in view.leaves] == items[:3] and view.leaves_left_out == 0
    assert [leaf.patch_id for leaf in view.leaves] == ["", "", ""]  # no proposal finished yet
    assert [cell.key for cell in tree_rows(view)[-1]] == items[:3]


def test_the_benchmark_builds_the_workspace_it_measures(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    sys.modules.pop("bench_pages", None)
    import bench_pages

    db = tmp_path / "bench.db"
    bench_pages.seed(db, 30, 90)
    ws = Workspace(db)
    try:
        demo = len(trajectory_ids(ws.db)) - 30
        assert demo > 0 and count_lessons(ws.db) == 90
        assert count_lessons(ws.db, LessonFilter(status="approved")) == 30
        selection = bench_pages.time_selection(db)
        assert set(selection) == {"create run", "load plan"}
        runs = ws.db.execute("SELECT id FROM runs WHERE kind = 'consolidation'").fetchall()
        assert len(runs) == 1 and len(get_run(ws.db, runs[0][0]).config["lesson_ids"]) == 30
    finally:
        ws.close()
