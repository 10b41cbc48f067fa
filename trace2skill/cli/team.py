"""Team review from the command line: comment threads (`comment add|reply|resolve|list`), review
queues (`lessons assign`, `lessons unassign`, `lessons queue`) and approvals (`skills approve`,
`skills save`). Every one is recorded as the decision of --reviewer."""

from __future__ import annotations

from dataclasses import asdict

import click
from sqlite_utils import Database

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
from trace2skill.cli.lessons import lessons
from trace2skill.cli.skills import skills
from trace2skill.humanize import plural
from trace2skill.store.comments import Comment

SUBJECTS = click.Choice(["lesson", "hunk", "proposal"])

# --------------------------------------------------------------------------- comments


@main.group("comment")
@db_option
def comment_group() -> None:
    """Comment threads on a lesson, a hunk (OLD_VERSION:NEW_VERSION:FILE:NUMBER, hunks counted from 0)
    or a proposal (its version id): add, reply, resolve, list."""


def _show(c: Comment, as_json: bool) -> None:
    if as_json:
        print_json(asdict(c))
    else:
        state = f"resolved by {c.resolved_by}" if c.resolved else "open"
        click.echo(f"comment {c.id} on {c.subject_type} {c.subject_id} by {c.author} ({state})")


@comment_group.command("add")
@click.argument("subject_type", type=SUBJECTS)
@click.argument("subject_id")
@click.argument("text")
@json_option
@db_option
def comment_add(subject_type: str, subject_id: str, text: str, as_json: bool) -> None:
    """Start a thread on SUBJECT_TYPE SUBJECT_ID with TEXT."""
    from trace2skill.comments import add_comment

    ws = open_workspace()
    _show(add_comment(ws.db, subject_type, subject_id, text, author=cli_reviewer()), as_json)
    echo_workspace(ws, as_json=as_json)


@comment_group.command("reply")
@click.argument("comment_id", type=int)
@click.argument("text")
@json_option
@db_option
def comment_reply(comment_id: int, text: str, as_json: bool) -> None:
    """Reply to the thread of COMMENT_ID."""
    from trace2skill.comments import reply

    ws = open_workspace()
    _show(reply(ws.db, comment_id, text, author=cli_reviewer()), as_json)
    echo_workspace(ws, as_json=as_json)


@comment_group.command("resolve")
@click.argument("comment_id", type=int)
@click.option("--reopen", is_flag=True, help="Open the thread again instead.")
@json_option
@db_option
def comment_resolve(comment_id: int, reopen: bool, as_json: bool) -> None:
    """Resolve the thread of COMMENT_ID (or --reopen it)."""
    from trace2skill.comments import resolve

    ws = open_workspace()
    _show(resolve(ws.db, comment_id, actor=cli_reviewer(), resolved=not reopen), as_json)
    echo_workspace(ws, as_json=as_json)


@comment_group.command("list")
@click.argument("subject_type", type=SUBJECTS, required=False)
@click.argument("subject_id", required=False)
@click.option("--open", "open_only", is_flag=True, help="Only threads still open.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@json_option
@db_option
def comment_list(subject_type: str | None, subject_id: str | None, open_only: bool, limit: int,
                 as_json: bool) -> None:
    """Comments, oldest first: all, on a kind of subject, or on one subject; replies indented."""
    from trace2skill.comments import check_subject
    from trace2skill.store.comments import list_comments

    ws = open_workspace()
    if subject_id is not None and subject_type is not None:
        subject_id = check_subject(ws.db, subject_type, subject_id)
    found = list_comments(ws.db, subject_type, subject_id, open_only=open_only, limit=limit)
    if as_json:
        print_json({"comments": [asdict(c) for c in found]}, ws=ws)
        return
    for c in found:
        if c.parent_id is None:
            state = f"resolved by {c.resolved_by}" if c.resolved else "open"
            click.echo(f"#{c.id}  {c.subject_type} {clip(c.subject_id, 60)}  ({state})")
        click.echo(f"{'    ' if c.parent_id else '  '}{c.author}: {clip(c.text, 100)}")
    click.echo(plural(len(found), "comment"), err=True)


# --------------------------------------------------------------------------- review queues


@lessons.command("assign")
@click.argument("ids", nargs=-1)
@click.option("--to", "reviewers", multiple=True, required=True,
              help="A reviewer (repeatable: the lessons are shared out among them).")
@click.option("--all", "all_", is_flag=True, help="Every lesson matching the filters (with no filter: every lesson).")
@click.option("--status", type=click.Choice(["proposed", "approved", "rejected"]), default=None)
@click.option("--kind", type=click.Choice(["failure_cause", "failure_lesson", "success_lesson"]), default=None)
@click.option("--run", "run_id", default=None, help="The lessons of this extraction run.")
@click.option("--search", default=None, help="Lessons whose text matches these words.")
@click.option("--flagged/--unflagged", default=None, help="Only lessons with (or without) quality flags.")
@click.option("--keep-duplicates-together", is_flag=True,
              help="Give each group of near-duplicate lessons to one reviewer (compares their text).")
@json_option
@db_option
def lessons_assign(ids: tuple[str, ...], reviewers: tuple[str, ...], all_: bool, status: str | None,
                   kind: str | None, run_id: str | None, search: str | None, flagged: bool | None,
                   keep_duplicates_together: bool, as_json: bool) -> None:
    """Put lessons in reviewers' queues: the IDS given, or those matching the filters (--run, --status,
    …, or --all); with several --to they are shared out evenly."""
    from trace2skill.assignments import assign_lessons, near_duplicate_units
    from trace2skill.store.lessons import LessonFilter, get_lesson, lesson_ids, lessons_by_ids

    filters = {"status": status, "kind": kind, "run_id": run_id, "search": search, "flagged": flagged}
    chosen = {k: v for k, v in filters.items() if v is not None}
    if ids and (chosen or all_):
        raise click.UsageError("give lesson ids, or filters / --all (not both)")
    if not ids and not chosen and not all_:
        raise click.UsageError("give lesson ids, filters (--run, --status, --kind, --search, --flagged) or --all")
    ws = open_workspace()
    flt = LessonFilter(status=status, kind=kind, run_id=run_id, search=search, flagged=flagged)
    targets = [get_lesson(ws.db, i).id for i in ids] if ids else lesson_ids(ws.db, flt)
    how = (f"{len(ids)} chosen" if ids else
           "filter: " + (", ".join(f"{k.replace('_id', '')}={v}" for k, v in chosen.items()) or "all lessons"))
    groups = near_duplicate_units(lessons_by_ids(ws.db, targets)) if keep_duplicates_together and targets else []
    done = assign_lessons(ws.db, targets, reviewers, actor=cli_reviewer(), groups=groups, how=how)
    if as_json:
        print_json({"assigned": [{"reviewer": a.reviewer, "lessons": a.lessons, "new": a.new} for a in done],
                    "groups_kept_together": len(groups)}, ws=ws)
    else:
        for a in done:
            click.echo(f"{a.reviewer}: {plural(a.lessons, 'lesson')} ({a.new} new in the queue)")
        if keep_duplicates_together:
            click.echo(f"{plural(len(groups), 'group')} of near-duplicates kept together")
    echo_workspace(ws, as_json=as_json)


@lessons.command("unassign")
@click.argument("ids", nargs=-1, required=True)
@click.option("--from", "owner", required=True, help="The reviewer whose queue to take them out of.")
@db_option
def lessons_unassign(ids: tuple[str, ...], owner: str) -> None:
    """Take lessons out of a reviewer's queue."""
    from trace2skill.assignments import unassign_lessons
    from trace2skill.store.lessons import get_lesson

    ws = open_workspace()
    removed = unassign_lessons(ws.db, [get_lesson(ws.db, i).id for i in ids], owner, actor=cli_reviewer())
    click.echo(f"{plural(removed, 'lesson')} taken out of {owner}'s queue")
    echo_workspace(ws)


@lessons.command("queue")
@click.argument("name", required=False)
@json_option
@db_option
def lessons_queue(name: str | None, as_json: bool) -> None:
    """Progress per reviewer (assigned, decided, left); with NAME, the lessons in that reviewer's queue."""
    from trace2skill.assignments import progress
    from trace2skill.store.lessons import LessonFilter, list_lessons

    ws = open_workspace()
    if name:
        rows = list_lessons(ws.db, LessonFilter(assigned_to=name), limit=10_000)
        if as_json:
            print_json({"reviewer": name, "lessons": [{"id": r.id, "status": r.status, "title": r.title}
                                                      for r in rows]}, ws=ws)
            return
        for r in rows:
            click.echo(f"{r.id[:12]}  {r.status:<8}  {clip(r.title, 70)}")
        click.echo(f"{plural(len(rows), 'lesson')} in {name}'s queue, "
                   f"{sum(r.status == 'proposed' for r in rows)} to review", err=True)
        return
    found = progress(ws.db)
    if as_json:
        print_json({"reviewers": [{**asdict(p), "left": p.left} for p in found]}, ws=ws)
        return
    for p in found:
        click.echo(f"{clip(p.reviewer, 30):<30}  {p.assigned:>6} assigned  {p.decided:>6} decided "
                   f"({p.decided_by_them} by them)  {p.left:>6} left")
    if not found:
        click.echo("no lessons are assigned yet: trace2skill lessons assign --to NAME …")


# --------------------------------------------------------------------------- approvals


def _policy_line(db: Database, version_id: str) -> str:
    from trace2skill.approvals import approved_by, can_save
    from trace2skill.settings import required_approvals
    from trace2skill.store.skills import get_version

    version = get_version(db, version_id)
    names = approved_by(db, version)
    needed = required_approvals(db)
    refused = can_save(db, version.id, cli_reviewer())
    who = ", ".join(names) or "nobody yet"
    return (f"approved by {who}; the workspace asks for {plural(needed, 'approval')}: "
            + (f"not ready to save: {refused}" if refused else "it may be saved"))


@skills.command("approve")
@click.argument("version")
@db_option
def approve_cmd(version: str) -> None:
    """Approve VERSION as it is (two-person approval: see `trace2skill settings set required_approvals 2`)."""
    from trace2skill.approvals import approve_version
    from trace2skill.store.skills import get_version

    ws = open_workspace()
    found = get_version(ws.db, version)
    new = approve_version(ws.db, found.id, cli_reviewer())
    click.echo(f"{'approved' if new else 'already approved'} {found.id[:12]} ({found.skill}) as {cli_reviewer()}")
    click.echo(_policy_line(ws.db, found.id))
    echo_workspace(ws)


@skills.command("save")
@click.argument("version")
@click.option("--message", default="", help="Recorded with the save.")
@db_option
def save_cmd(version: str, message: str) -> None:
    """Save VERSION as it is as its skill's current version (refused when the workspace's approval
    policy is not met)."""
    from trace2skill.skill_review import save_review
    from trace2skill.store.skills import get_version

    ws = open_workspace()
    found = get_version(ws.db, version)
    base = get_version(ws.db, found.parent) if found.parent else None
    outcome = save_review(ws.db, found, base, found.files, found.files, actor=cli_reviewer(),
                          message=message or f"saved {found.id[:12]} as it is")
    words = {"already_current": "is already the current version", "saved_as_is": "saved as it is"}
    click.echo(f"{found.id[:12]} ({found.skill}) {words.get(outcome.kind, outcome.kind)}")
    echo_workspace(ws)
