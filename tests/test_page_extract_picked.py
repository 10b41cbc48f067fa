"""Trajectories picked on the Trajectories screen and sent to Extract (AppTest, the demo workspace):
ticked rows or every match of the filter; Extract lists exactly what a run will process (task in a
few words, outcome, steps, analyst) with the estimate before Start, leaves out held-out runs and
runs without a known outcome, clears the selection on request, and runs exactly the picked ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fakes import http_analyst_responder
from trace2skill import runs
from trace2skill.demo import load_demo
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import set_setting
from trace2skill.splits import set_split
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.outcomes import set_outcome
from trace2skill.store.trajectories import TrajectoryFilter, list_trajectories
from trace2skill.textcut import task_words

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo() -> Workspace:
    ws = Workspace()
    load_demo(ws)
    yield ws
    ws.close()


def _trajectories() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/trajectories.py")
    return at.run()


def _tick(at: AppTest, rows: list[int]) -> AppTest:
    at.session_state["traj_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def _to_extract(at: AppTest) -> AppTest:
    """Click "Extract lessons from these N"; later runs stay on Extract (AppTest would rerun the page
    it was started on)."""
    at.button(key="traj_to_extract").click().run()
    at.switch_page("views/extract.py")
    return at


def _plan(at: AppTest):
    return next(d.value for d in at.dataframe if "analyst" in d.value.columns)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_ticked_rows_go_to_extract_which_lists_exactly_them(demo):
    at = _trajectories()
    assert at.button(key="traj_to_extract").disabled  # nothing ticked yet
    page = list_trajectories(demo.db, limit=50)
    at = _tick(at, [0, 2, 5])
    button = at.button(key="traj_to_extract")
    assert button.label == "Extract lessons from these 3" and not button.disabled
    _to_extract(at)
    assert not at.exception and at.title[0].value == "Extract lessons"
    picked = [page[0].id, page[2].id, page[5].id]
    assert at.session_state["ext_picked"] == picked
    assert any("3 trajectories picked on the Trajectories screen" in i.value for i in at.info)
    assert not [s for s in at.segmented_control if s.key == "ext_outcome"]  # the filters give way to the pick
    plan = _plan(at)
    assert list(plan["id"]) == picked
    assert list(plan["task"]) == [task_words(page[i].task, 12) for i in (0, 2, 5)]
    assert list(plan["outcome"]) == [page[i].outcome for i in (0, 2, 5)]
    assert list(plan["steps"]) == [page[i].n_steps for i in (0, 2, 5)]
    assert any(m.value.startswith("**This run will process 3 trajectories**") for m in at.markdown)
    assert (_metrics(at)["Trajectories"], _metrics(at)["Analyst calls"]) == ("3", "3")

    at.segmented_control(key="ext_analysts").set_value("error").run()  # the list says who reads what
    failures = [page[i].outcome == "failure" for i in (0, 2, 5)]
    assert [a == "error analyst" for a in _plan(at)["analyst"]] == failures
    assert _metrics(at)["Analyst calls"] == str(sum(failures))

    at.button(key="ext_clear_picked").click().run()
    assert "ext_picked" not in at.session_state
    assert at.segmented_control(key="ext_outcome").value == "failure"
    assert _metrics(at)["Trajectories"] == "4" and len(_plan(at)) == 4  # back to the filters (the embedded model: 4)


def test_all_matching_the_filter(demo):
    at = _trajectories()
    at.selectbox(key="traj_outcome").select("success").run()
    at.checkbox(key="traj_pick_all").check().run()
    assert at.button(key="traj_to_extract").label == "Extract lessons from these 84"
    _to_extract(at)
    assert len(at.session_state["ext_picked"]) == 84
    assert _metrics(at)["Trajectories"] == "84" and set(_plan(at)["outcome"]) == {"success"}


def test_held_out_and_unlabelled_picks_are_left_out_with_a_note(demo):
    page = list_trajectories(demo.db, TrajectoryFilter(outcome="failure"), limit=3)
    set_split(demo.db, [page[0].id], "heldout", by_task=False)
    set_outcome(demo.db, page[1].id, "unknown")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.session_state["ext_picked"] = [r.id for r in page]
    at.switch_page("views/extract.py")
    at.run()
    assert any("left out: 1 held out for evaluation, 1 with no known outcome" in i.value for i in at.info)
    assert list(_plan(at)["id"]) == [page[2].id] and _metrics(at)["Trajectories"] == "1"


def test_start_runs_exactly_the_picked_trajectories(demo):
    with FakeLLMServer(http_analyst_responder, model="fake") as server:
        set_setting(demo.db, "base_url", server.base_url)
        set_setting(demo.db, "model", "fake")
        page = list_trajectories(demo.db, limit=50)
        at = _to_extract(_tick(_trajectories(), [1, 3, 4]))
        at.button(key="ext_start").click().run()
        run_id = at.session_state["ext_run"]
        runs.wait(run_id, timeout=60)
    items = [i.item_id for i in run_store.list_items(demo.db, run_id, limit=100)]
    assert sorted(items) == sorted(page[i].id for i in (1, 3, 4))
    assert "ext_picked" not in at.session_state  # the form starts afresh after the run started
