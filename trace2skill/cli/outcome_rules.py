"""`trajectories label-by-rule`: set outcomes by rule (see trace2skill.outcome_rules); a preview
unless --apply."""

from __future__ import annotations

import click

from trace2skill.cli.common import cli_reviewer, db_option, echo_workspace, json_option, open_workspace, print_json
from trace2skill.cli.data import trajectories
from trace2skill.outcome_rules import RULE_KINDS, RULE_WORDS, OutcomeRule, apply_rule, plan_rule
from trace2skill.store.trajectories import TrajectoryFilter

LABELS = click.Choice(["success", "failure", "unknown"])


@trajectories.command("label-by-rule")
@click.option("--rule", "kind", required=True, type=click.Choice(RULE_KINDS),
              help="; ".join(f"{k}: {w}" for k, w in RULE_WORDS.items()))
@click.option("--pattern", default=None, help="answer_matches: a regular expression searched in the final answer.")
@click.option("--at-least", "threshold", type=float, default=None, help="reward_at_least: the threshold.")
@click.option("--then", "then", type=LABELS, default="success", show_default=True,
              help="The outcome when the rule holds.")
@click.option("--else", "otherwise", type=LABELS, default=None,
              help="The outcome when it does not (default: leave those as they are).")
@click.option("--where-outcome", type=LABELS, default=None, help="Only trajectories with this outcome now.")
@click.option("--format", "source_format", default=None, help="Only trajectories of this format.")
@click.option("--model", default=None)
@click.option("--signal", default=None, help="Only trajectories with this signal.")
@click.option("--search", default=None, help="Only trajectories the full-text search finds.")
@click.option("--apply", "apply", is_flag=True, help="Set the outcomes (without it: only say what would change).")
@json_option
@db_option
def label_by_rule(kind: str, pattern: str | None, threshold: float | None, then: str, otherwise: str | None,
                  where_outcome: str | None, source_format: str | None, model: str | None, signal: str | None,
                  search: str | None, apply: bool, as_json: bool) -> None:
    """Set outcomes by rule, e.g. `--rule answer_is_gold --else failure`: first a preview of how many
    trajectories each outcome gets; with --apply each change is recorded as a decision naming the rule."""
    rule = OutcomeRule(kind, then, otherwise, pattern=pattern, threshold=threshold)  # type: ignore[arg-type]
    ws = open_workspace()
    flt = TrajectoryFilter(outcome=where_outcome, source_format=source_format, model=model, signal=signal,
                           search=search)
    plan = plan_rule(ws.db, rule, flt)
    if apply:
        apply_rule(ws.db, plan, actor=cli_reviewer())
    if as_json:
        print_json({**plan.as_dict(), "applied": apply}, ws=ws)
    else:
        click.echo(f"rule: {rule.describe()}")
        click.echo(("done: " if apply else "would set: ") + plan.summary())
        if not apply and plan.changed:
            click.echo("nothing changed yet: add --apply to set these outcomes", err=True)
    echo_workspace(ws, as_json=as_json)
