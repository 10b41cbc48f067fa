"""Long sessions split into single-task units from the command line: `trajectories split ID...`
or `trajectories split --all-sessions` (see `trace2skill.sessions`), and the report of the split
that `import --split-sessions` asks for."""

from __future__ import annotations

import click

from trace2skill.cli.common import (
    cli_reviewer,
    clip,
    db_option,
    echo_workspace,
    json_option,
    open_workspace,
    print_json,
)
from trace2skill.cli.data import trajectories
from trace2skill.ingest.registry import ONE_TASK_FORMATS
from trace2skill.sessions import MIN_STEPS, SessionPlan, SplitReport, plan_split, split_session, split_sessions
from trace2skill.store import Workspace
from trace2skill.store.sessions import candidate_ids

MIN_STEPS_HELP = "Each task holds at least this many steps; a shorter exchange stays with the task before it."


def split_imported(ws: Workspace, ids: list[str], *, min_steps: int = MIN_STEPS) -> SplitReport:
    """After `import --split-sessions`: split the imported trajectories that hold several requests."""
    return split_sessions(ws.db, ids, cli_reviewer(), min_steps=min_steps)


def _plan_lines(plan: SessionPlan) -> list[str]:
    if plan.one_task:
        return [f"{plan.session_id[:12]}: one task by how its format records it (its later user turns are a "
                "simulated user's, the environment's or history), nothing to split"]
    if not plan.units:
        return [f"{plan.session_id[:12]}: one request, nothing to split"]
    said = "split before into" if plan.already_split else "would split into"
    lines = [f"{plan.session_id[:12]}: {said} {len(plan.units)} tasks"]
    for unit, task in plan.units:
        lines.append(f"  part {unit.part}: steps {unit.first_step}-{unit.last_step}  {clip(task, 70)}")
    return lines


@trajectories.command("split")
@click.argument("ids", nargs=-1)
@click.option("--all-sessions", is_flag=True, help="Every trajectory that holds several requests.")
@click.option("--min-steps", type=click.IntRange(1), default=MIN_STEPS, show_default=True, help=MIN_STEPS_HELP)
@click.option("--dry-run", is_flag=True, help="Show where each session would be cut; store nothing.")
@json_option
@db_option
def trajectories_split(ids: tuple[str, ...], all_sessions: bool, min_steps: int, dry_run: bool,
                       as_json: bool) -> None:
    """Split long sessions into single-task units, at each user turn that starts a new request: each
    unit becomes a trajectory of its own, linked to its session (ids may be abbreviated). Extraction
    then analyses the units instead of the session. Splitting again adds nothing."""
    if bool(ids) == all_sessions:
        raise click.UsageError("give trajectory ids or --all-sessions (not both)")
    ws = open_workspace()
    wanted = candidate_ids(ws.db, skip_formats=ONE_TASK_FORMATS) if all_sessions else list(ids)
    if dry_run:
        plans = [plan_split(ws.db, i, min_steps=min_steps) for i in wanted]
        if as_json:
            print_json({"sessions": [p.as_dict() for p in plans]})
        else:
            for plan in plans:
                click.echo("\n".join(_plan_lines(plan)))
            click.echo(f"{sum(1 for p in plans if p.units)} of {len(plans)} trajectories hold several requests; "
                       "nothing stored (--dry-run)", err=True)
        return
    if all_sessions:
        report = split_sessions(ws.db, None, cli_reviewer(), min_steps=min_steps)
    else:
        report = SplitReport()
        for trajectory_id in wanted:
            plan = plan_split(ws.db, trajectory_id, min_steps=min_steps)
            if plan.already_split:
                report.already.append(plan.session_id)
            elif plan.units:
                report.split[plan.session_id] = split_session(ws.db, plan.session_id, cli_reviewer(),
                                                              min_steps=min_steps)
            else:
                report.single += 1
    if as_json:
        print_json(report.as_dict(), ws=ws)
    else:
        for session, units in report.split.items():
            click.echo(f"{session[:12]}: {len(units)} tasks: " + " ".join(u[:12] for u in units))
        click.echo(report.words())
    echo_workspace(ws, as_json=as_json)

