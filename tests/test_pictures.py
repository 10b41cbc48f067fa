"""The numbers behind the pictures: a run's items finished over time (counted in SQL, in buckets),
its pace in a short form, and how many trajectories stand behind each change of a proposal — and,
through AppTest, that the Extract and Review screens draw them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import seed_consolidation, seed_timed_run
from trace2skill.runs.state import format_pace
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.run_timeline import MAX_BUCKETS, TimelinePoint, finished_over_time
from trace2skill.ui.diff_view import HunkSupport, SupportSpread, spread_rows, spread_words, support_spread
from trace2skill.ui.run_timeline import time_unit, timeline_frame

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 5, 4, 13, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def _run_with_finishes(ws: Workspace, finishes: list[tuple[str, float | None]]) -> str:
    """A run whose items end as given: (status, seconds after T0 it finished, None: not yet)."""
    run_id = run_store.create_run(ws.db, "extraction", {}, [f"t{i}" for i in range(len(finishes))])
    with ws.db.conn:
        ws.db.execute("UPDATE runs SET status = 'done', started = ? WHERE id = ?", [_at(0), run_id])
        ws.db.conn.executemany("UPDATE run_items SET status = ?, finished = ? WHERE run_id = ? AND item_id = ?",
                               [(status, None if s is None else _at(s), run_id, f"t{i}")
                                for i, (status, s) in enumerate(finishes)])
    return run_id


# --------------------------------------------------------------------------- items finished over time


def test_a_small_run_gets_a_point_per_second_that_saw_an_item_finish(tmp_path):
    ws = Workspace(tmp_path / "w.db")
    run_id = _run_with_finishes(ws, [("done", 1), ("done", 2), ("failed", 2), ("cancelled", 3), ("queued", None),
                                     ("done", 5)])
    points = finished_over_time(ws.db, run_id, _at(0))
    assert points == [TimelinePoint(0, 0, 0), TimelinePoint(1, 1, 0), TimelinePoint(2, 2, 1),
                      TimelinePoint(5, 3, 1)]  # the cancelled and queued items never count
    assert points[-1].finished == 4


def test_nothing_to_draw_before_the_start_or_the_first_finish(tmp_path):
    ws = Workspace(tmp_path / "w.db")
    run_id = _run_with_finishes(ws, [("queued", None), ("running", None)])
    assert finished_over_time(ws.db, run_id, _at(0)) == []
    assert finished_over_time(ws.db, run_id, None) == []


def test_ten_thousand_items_come_back_as_at_most_a_bucket_count_of_points(tmp_path):
    ws = Workspace(tmp_path / "w.db")
    span = 5 * 3600  # five hours, an item finishing every 1.8 seconds
    finishes = [("failed" if i % 50 == 0 else "done", i * span / 10_000) for i in range(1, 10_001)]
    run_id = _run_with_finishes(ws, finishes)
    points = finished_over_time(ws.db, run_id, _at(0))
    assert 100 <= len(points) <= MAX_BUCKETS + 2
    assert (points[-1].done, points[-1].failed) == (9800, 200)
    assert points[-1].seconds == span
    assert all(a.seconds <= b.seconds and a.done <= b.done and a.failed <= b.failed
               for a, b in zip(points, points[1:]))


def test_the_chart_counts_time_in_a_unit_that_reads_well():
    assert time_unit(45) == ("seconds", 1.0)
    assert time_unit(40 * 60) == ("minutes", 60.0)
    assert time_unit(5 * 3600) == ("hours", 3600.0)
    frame, x_title = timeline_frame([TimelinePoint(0, 0, 0), TimelinePoint(1200, 10, 0)], end_s=1800)
    assert x_title == "minutes since the run started"
    assert set(frame["series"]) == {"done"}  # no failed series when nothing failed
    assert list(frame["items"]) == [0, 10, 10]  # carried on to the end of the run, and a little beyond
    assert list(frame["time"]) == [0, 20, 30.9]
    frame, _ = timeline_frame([TimelinePoint(0, 0, 0), TimelinePoint(30, 4, 1)])
    assert sorted(set(frame["series"])) == ["done", "failed"]
    assert frame[frame["series"] == "failed"]["items"].tolist() == [0, 1, 1]


# --------------------------------------------------------------------------- pace


@pytest.mark.parametrize(("per_minute", "shown"), [
    (180.3, "180/min"), (999.4, "999/min"), (10.2, "10/min"), (9.96, "10/min"), (9.94, "9.9/min"),
    (7.25, "7.2/min"), (0.5, "0.5/min"), (0.04, "2.4/h"), (1234.0, "1.2k/min"), (25_400.0, "25k/min"),
    (None, "-"), (0.0, "-"),
])
def test_the_pace_is_short(per_minute, shown):
    assert format_pace(per_minute) == shown
    assert len(shown) <= 8


# --------------------------------------------------------------------------- support of a proposal's changes


def _hunk(trajectories: int) -> HunkSupport:
    return HunkSupport(trajectories={f"t{i}" for i in range(trajectories)}, edits=["e"], lines=1)


def test_the_spread_counts_changes_by_their_support_and_sets_aside_untraced_ones():
    spread = support_spread([_hunk(1), _hunk(3), _hunk(1), HunkSupport(), _hunk(6)])
    assert spread == SupportSpread({1: 2, 3: 1, 6: 1}, untraced=1)
    assert spread.changes == 4
    assert spread_rows(spread) == [(1, 2), (2, 0), (3, 1), (4, 0), (5, 0), (6, 1)]  # gaps shown as gaps
    wide = SupportSpread({1: 1, 40: 2})
    assert spread_rows(wide) == [(1, 1), (40, 2)]  # too wide to fill: the counts there are
    assert spread_rows(SupportSpread({})) == []


@pytest.mark.parametrize(("spread", "words"), [
    (SupportSpread({3: 1, 6: 1}), "2 changes: 1 backed by 3 trajectories, 1 by 6 trajectories."),
    (SupportSpread({1: 3, 2: 1, 4: 1, 7: 1}), "6 changes: 3 backed by one trajectory, 1 by two trajectories, "
                                              "2 by three or more."),
    (SupportSpread({1: 4}), "4 changes, all backed by one trajectory."),
    (SupportSpread({5: 1}, untraced=1), "1 change, backed by 5 trajectories; 1 more change has no consolidation "
                                        "edit behind it."),
    (SupportSpread({1: 2, 3: 3}, untraced=2), "5 changes: 2 backed by one trajectory, 3 by 3 trajectories; 2 more "
                                              "changes have no consolidation edit behind them."),
    (SupportSpread({}, untraced=2), ""),
])
def test_the_spread_in_words(spread, words):
    assert spread_words(spread) == words


# --------------------------------------------------------------------------- on the screens (AppTest)


def _page(view: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page(view)
    return at.run()


def _charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def test_the_review_screen_puts_the_support_of_the_proposals_changes_in_words_and_a_chart():
    ws = Workspace()  # the workspace the app opens
    seed_consolidation(ws)
    at = _page("views/review.py")
    assert not at.exception
    assert "2 changes: 1 backed by 3 trajectories, 1 by 6 trajectories." in [c.value for c in at.caption]
    assert any("How many trajectories stand behind each change" in m.value for m in at.markdown)
    assert len(_charts(at)) == 1
    ws.close()


def test_the_extract_screen_draws_a_runs_progress_and_a_short_pace():
    ws = Workspace()
    seed_timed_run(ws)
    at = _page("views/extract.py")
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Pace"] == "180/min"
    assert "Trajectories finished over time" in [c.value for c in at.caption]
    assert len(_charts(at)) == 1
    ws.close()
