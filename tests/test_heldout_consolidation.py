"""Held out means held out: consolidation leaves out lessons from held-out trajectories and lessons
quoting a held-out task, unless the user includes them explicitly — and that choice is recorded."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.helpers import seed_lessons
from trace2skill.cli import main
from trace2skill.consolidate.heldout import FROM_HELDOUT, QUOTES_HELDOUT
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
from trace2skill.demo import DEMO_SKILL
from trace2skill.errors import HeldOutError
from trace2skill.splits import set_split
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import LessonFilter, edit_lesson, list_lessons
from trace2skill.store.skills import latest_version
from trace2skill.store.trajectories import get_trajectory


@pytest.fixture
def seeded(tmp_path):
    ws = Workspace(tmp_path / "w.db")
    seed_lessons(ws, n=4)
    lessons = list_lessons(ws.db, LessonFilter(status="approved"))
    trajectories = sorted({lesson.trajectory_id for lesson in lessons})
    assert len(trajectories) == 4
    yield ws, lessons, trajectories
    ws.close()


def _config(ws: Workspace, **kw) -> ConsolidationConfig:
    return ConsolidationConfig(base_version=latest_version(ws.db, DEMO_SKILL).id, embeddings=False, **kw)


def test_lessons_from_heldout_trajectories_and_quoting_heldout_tasks_are_left_out(seeded):
    ws, lessons, trajectories = seeded
    held, other = trajectories[0], trajectories[1]
    set_split(ws.db, [held], "heldout", by_task=False)
    quoting = next(x for x in lessons if x.trajectory_id == other)
    task = get_trajectory(ws.db, held, with_steps=False).task
    edit_lesson(ws.db, quoting.id, {"content": f"Remember the case: {task}"}, expected_version=quoting.version)

    run = run_store.get_run(ws.db, create_consolidation_run(ws, _config(ws)))
    left_out = run.config["heldout_left_out"]
    from_held = {x.id for x in lessons if x.trajectory_id == held}
    assert left_out == {**dict.fromkeys(from_held, FROM_HELDOUT), quoting.id: QUOTES_HELDOUT}
    assert set(run.config["lesson_ids"]) == {x.id for x in lessons} - set(left_out)
    assert sorted(run_store.item_ids(ws.db, run.id, "queued")) == [t for t in trajectories if t != held]
    assert not list_decisions(ws.db, "run", run.id)


def test_including_heldout_lessons_is_explicit_and_recorded(seeded):
    ws, lessons, trajectories = seeded
    set_split(ws.db, trajectories[:1], "heldout", by_task=False)
    run = run_store.get_run(ws.db, create_consolidation_run(ws, _config(ws, include_heldout=True)))
    assert set(run.config["lesson_ids"]) == {x.id for x in lessons} and not run.config["heldout_left_out"]
    (decision,) = list_decisions(ws.db, "run", run.id)
    assert decision.action == "include_heldout"
    assert decision.detail["lessons"] == sorted(x.id for x in lessons if x.trajectory_id == trajectories[0])


def test_nothing_left_but_heldout_lessons_is_refused_with_the_way_out(seeded):
    ws, _lessons, trajectories = seeded
    set_split(ws.db, trajectories, "heldout", by_task=False)
    with pytest.raises(HeldOutError, match=r"all \d+ approved lessons touch held-out data .*--include-heldout"):
        create_consolidation_run(ws, _config(ws))


def test_the_cli_says_what_was_left_out(seeded, tmp_path):
    ws, lessons, trajectories = seeded
    set_split(ws.db, trajectories[:1], "heldout", by_task=False)
    n = sum(x.trajectory_id == trajectories[0] for x in lessons)
    result = CliRunner().invoke(main, ["consolidate", "--base-skill", DEMO_SKILL, "--base-url", "http://127.0.0.1:9",
                                       "--model", "nowhere", "--no-embeddings", "--db", str(ws.path)])
    word = "lesson was" if n == 1 else "lessons were"
    assert f"{n} approved {word} left out as held-out data ({n} {FROM_HELDOUT}); --include-heldout uses them" \
        in result.output
