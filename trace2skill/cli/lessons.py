"""Lesson review from the command line: list, approve, reject."""

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

# --------------------------------------------------------------------------- lessons


@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(["proposed", "approved", "rejected"]), default=None)
@click.option("--kind", type=click.Choice(["failure_cause", "failure_lesson", "success_lesson"]), default=None)
@click.option("--run", "run_id", default=None, help="Only lessons from this extraction run.")
@click.option("--search", default=None, help="Full-text search over title, description and content.")
@click.option("--flagged/--unflagged", default=None, help="Only lessons with (or without) quality flags.")
@click.option("--verification", type=click.Choice(["verified", "not_verified", "not_verifiable", "unchecked"]),
              default=None, help="Only lessons with this replay-verification result.")
@click.option("--limit", default=50, show_default=True)
@json_option
@db_option
@click.pass_context
def lessons(ctx: click.Context, status: str | None, kind: str | None, run_id: str | None, search: str | None,
            flagged: bool | None, verification: str | None, limit: int, as_json: bool) -> None:
    """List lessons (or approve/reject them: `lessons approve ID...`)."""
    if ctx.invoked_subcommand:
        return
    from trace2skill.store.lessons import LessonFilter, count_lessons, list_lessons

    db = open_workspace().db
    flt = LessonFilter(status=status, kind=kind, run_id=run_id, search=search, flagged=flagged,
                       verification=verification)
    rows, total = list_lessons(db, flt, limit=limit), count_lessons(db, flt)
    if as_json:
        print_json({"total": total, "lessons": [r.model_dump() for r in rows]})
        return
    for r in rows:
        grounded = {True: "grounded", False: "UNGROUNDED", None: "unchecked"}[r.grounded]
        verdict = r.verdict or "-"
        click.echo(f"{r.id[:12]}  {r.status:<8}  {r.kind:<14}  {grounded:<10}  {verdict:<14}  {clip(r.title, 60)}")
        for flag in r.flags:
            click.echo(f"    flag {flag.code}: {clip(flag.reason, 100)}")
    click.echo(f"{len(rows)} of {total} shown", err=True)


def _review(status: str, ids: tuple[str, ...], all_: bool, only: str | None, as_json: bool,
            despite_flags: bool = False) -> None:
    from trace2skill.review import approve
    from trace2skill.store.lessons import LessonFilter, get_lesson, lesson_ids, set_status

    if bool(ids) == all_:
        raise click.UsageError("give lesson ids, or --all (not both)")
    if only and not all_:
        raise click.UsageError("--only goes with --all")
    ws = open_workspace()
    targets = lesson_ids(ws.db, LessonFilter(status=only)) if all_ else [get_lesson(ws.db, i).id for i in ids]
    held: list[str] = []
    if status == "approved":
        outcome = approve(ws.db, targets, actor=cli_reviewer(), despite_problems=despite_flags)
        changed, held = outcome.approved, [lesson.id for lesson in outcome.needs_confirmation]
    else:
        changed = set_status(ws.db, targets, status, actor=cli_reviewer())
    if as_json:
        print_json({"status": status, "changed": changed, "selected": len(targets), "held_back": held}, ws=ws)
    else:
        click.echo(f"{changed} lessons {status} ({len(targets) - changed - len(held)} already were)")
    if held and not as_json:
        click.echo(f"{len(held)} flagged or ungrounded lessons were not approved (e.g. {held[0][:12]}): see their "
                   "reasons with `trace2skill lessons --flagged`, then approve them with --despite-flags", err=True)
    echo_workspace(ws, as_json=as_json)


@lessons.command("approve")
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every lesson (with --only, every lesson of that status).")
@click.option("--only", type=click.Choice(["proposed", "approved", "rejected"]), default=None)
@click.option("--despite-flags", is_flag=True, help="Also approve flagged or ungrounded lessons (recorded).")
@json_option
@db_option
def lessons_approve(ids: tuple[str, ...], all_: bool, only: str | None, despite_flags: bool, as_json: bool) -> None:
    """Approve lessons for consolidation (recorded as decisions). Lessons flagged by code or whose
    quotes were not found are held back unless --despite-flags (the reasons are then recorded)."""
    _review("approved", ids, all_, only, as_json, despite_flags)


@lessons.command("reject")
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every lesson (with --only, every lesson of that status).")
@click.option("--only", type=click.Choice(["proposed", "approved", "rejected"]), default=None)
@json_option
@db_option
def lessons_reject(ids: tuple[str, ...], all_: bool, only: str | None, as_json: bool) -> None:
    """Reject lessons (recorded as decisions)."""
    _review("rejected", ids, all_, only, as_json)
