"""The import history from the command line (`imports`, `imports delete ID`) and outcomes set by
hand (`trajectories relabel ID... --outcome LABEL`)."""

from __future__ import annotations

import click

from trace2skill.cli.common import (
    cli_reviewer,
    clip,
    db_option,
    echo_workspace,
    json_option,
    main,
    open_workspace,
    print_json,
)
from trace2skill.cli.data import trajectories
from trace2skill.imports import deletion_done, deletion_question, import_row

# --------------------------------------------------------------------------- imports


@main.group(invoke_without_command=True)
@click.option("--limit", default=50, show_default=True)
@json_option
@db_option
@click.pass_context
def imports(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List imports, newest first (or undo one: `imports delete ID`)."""
    if ctx.invoked_subcommand:
        return
    from trace2skill.store.imports import count_imports, list_imports

    db = open_workspace().db
    records, total = list_imports(db, limit=limit), count_imports(db)
    if as_json:
        print_json({"total": total, "imports": [r.model_dump() for r in records]})
        return
    if records:
        click.echo(f"{'id':>4}  {'when':<16}  {'by':<16}  {'format':<11}  {'added':>7}  {'present':>7}  "
                   f"{'relab.':>6}  {'errors':>6}  {'here':>6}  file")
    for r in records:
        row = import_row(r)
        click.echo(f"{r.id:>4}  {row['when']:<16}  {clip(row['by'], 16):<16}  {clip(row['format'], 11):<11}  "
                   f"{r.imported:>7}  {r.duplicates:>7}  {r.relabelled:>6}  {r.errors:>6}  {r.trajectories:>6}  "
                   f"{r.file}" + ("" if r.status == "done" else f"  ({row['status']})"))
    click.echo(f"{len(records)} of {total} imports shown", err=True)


@imports.command("delete")
@click.argument("import_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@db_option
def imports_delete(import_id: int, yes: bool, as_json: bool) -> None:
    """Delete what an import added (and no other import also brought): its trajectories with their
    steps and signals, and the lessons drawn from them. Asks first, naming the counts."""
    from trace2skill.store.imports import delete_import, deletion_plan

    ws = open_workspace()
    plan = deletion_plan(ws.db, import_id)
    if not yes:
        if as_json:
            raise click.UsageError("--json needs --yes (there is no one to answer the question)")
        if not click.confirm(deletion_question(plan), default=False, err=True):
            click.echo("Nothing deleted.", err=True)
            return
    plan = delete_import(ws.db, import_id, actor=cli_reviewer())
    if as_json:
        print_json({"deleted": plan.as_dict()}, ws=ws)
    else:
        click.echo(deletion_done(plan))
    echo_workspace(ws, as_json=as_json)


# --------------------------------------------------------------------------- trajectories relabel


@trajectories.command("relabel")
@click.argument("ids", nargs=-1, required=True)
@click.option("--outcome", required=True, type=click.Choice(["success", "failure", "unknown"]),
              help="The outcome to set.")
@json_option
@db_option
def trajectories_relabel(ids: tuple[str, ...], outcome: str, as_json: bool) -> None:
    """Set the outcome of trajectories by hand (ids may be abbreviated); each change is recorded as a
    decision, and a later re-import of their file leaves it as set."""
    from trace2skill.relabel import relabel

    ws = open_workspace()
    done = relabel(ws.db, ids, outcome, actor=cli_reviewer())
    if as_json:
        print_json(done.as_dict(), ws=ws)
    else:
        click.echo(f"{len(done.changed)} trajectories set to {outcome} ({done.unchanged} already were)")
    echo_workspace(ws, as_json=as_json)
