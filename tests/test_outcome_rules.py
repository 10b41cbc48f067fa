"""Outcomes set by rule for unlabelled data: previewed first (counts per outcome, kept, cannot be
judged), applied only when asked, every change a decision naming the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import unlabelled_react
from trace2skill.cli import main
from trace2skill.errors import InvalidValueError
from trace2skill.outcome_rules import OutcomeRule, apply_rule, plan_rule
from trace2skill.store import Workspace
from trace2skill.store.trajectories import TrajectoryFilter, get_trajectory, list_trajectories


def test_the_final_answer_against_the_gold_answer(ws: Workspace, tmp_path: Path) -> None:
    ids = unlabelled_react(ws, tmp_path)
    rule = OutcomeRule("answer_is_gold", then="success", otherwise="failure")
    plan = plan_rule(ws.db, rule)
    assert {k: sorted(v) for k, v in plan.changes.items()} == {
        "success": sorted([ids["wtq-17"], ids["wtq-19"]]), "failure": [ids["wtq-18"]]}
    assert plan.summary() == "2 trajectories → success; 1 trajectory → failure; 0 trajectories keep their outcome"
    assert get_trajectory(ws.db, ids["wtq-17"]).outcome == "unknown"  # a plan changes nothing
    apply_rule(ws.db, plan, actor="cli")
    assert get_trajectory(ws.db, ids["wtq-18"]).outcome == "failure"
    decisions = ws.db.execute("SELECT actor, detail FROM decisions WHERE action = 'set_outcome'").fetchall()
    assert len(decisions) == 3 and all(actor == "cli" for actor, _ in decisions)
    assert json.loads(decisions[0][1])["rule"] == "the final answer states the gold answer → success, else failure"
    again = plan_rule(ws.db, rule)  # applied once, nothing left to change
    assert (again.changed, again.unchanged) == (0, 3)


def test_patterns_rewards_and_failed_last_calls_on_the_demo(ws: Workspace, tmp_path: Path) -> None:
    ids = unlabelled_react(ws, tmp_path)
    plan = plan_rule(ws.db, OutcomeRule("answer_matches", then="success", pattern=r"^\d+$"))
    assert plan.changes == {"success": [ids["wtq-19"]]} and plan.unchanged == 2  # "else": left as they are
    failed = plan_rule(ws.db, OutcomeRule("last_call_failed", then="failure"))
    assert failed.changes == {"failure": [ids["wtq-18"]]}  # its only observation is "Error: …"
    assert failed.undecided == 1 and "cannot be judged (no tool call)" in failed.summary()  # wtq-19 calls nothing

    from trace2skill.demo import load_demo
    load_demo(ws)
    tau = TrajectoryFilter(source_format="tau_bench")
    rewards = plan_rule(ws.db, OutcomeRule("reward_at_least", then="success", otherwise="failure", threshold=1.0), tau)
    assert rewards.changed == 0 and rewards.unchanged == 200  # the data's own labels agree with its rewards


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"kind": "answer_matches"}, "needs a pattern"),
    ({"kind": "answer_matches", "pattern": "(x"}, "is not a regular expression"),
    ({"kind": "reward_at_least"}, "needs a threshold"),
    ({"kind": "vibes"}, "unknown rule 'vibes'"),
    ({"kind": "answer_is_gold", "then": "great"}, "unknown outcome 'great'"),
])
def test_a_rule_that_cannot_work_is_refused_in_words(kwargs: dict, words: str) -> None:
    with pytest.raises(InvalidValueError, match=words):
        OutcomeRule(**kwargs)


def test_the_cli_previews_then_applies(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    unlabelled_react(Workspace(db), tmp_path)
    runner = CliRunner()
    args = ["trajectories", "label-by-rule", "--rule", "answer_is_gold", "--else", "failure", "--db", str(db)]
    preview = runner.invoke(main, args)
    assert preview.exit_code == 0, preview.output
    assert "would set: 2 trajectories → success; 1 trajectory → failure" in preview.output
    assert "add --apply" in preview.output
    assert {r.outcome for r in list_trajectories(Workspace(db).db, TrajectoryFilter(), limit=10)} == {"unknown"}
    done = runner.invoke(main, [*args, "--apply", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output[done.output.index("{"):])
    assert data["applied"] and data["changes"] == {"success": 2, "failure": 1}
    bad = runner.invoke(main, ["trajectories", "label-by-rule", "--rule", "answer_matches", "--db", str(db)])
    assert bad.exit_code != 0 and "needs a pattern" in bad.output and "Traceback" not in bad.output
