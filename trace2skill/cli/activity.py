"""`trace2skill activity`: every decision, who made it and when; filters, JSON and CSV."""

from __future__ import annotations

from pathlib import Path

import click

from trace2skill.cli.common import clip, db_option, echo_workspace, json_option, main, open_workspace, print_json
from trace2skill.humanize import plural


@main.command("activity")
@click.option("--by", "by", multiple=True, help="Only decisions by this reviewer (repeatable).")
@click.option("--kind", "kinds", multiple=True,
              help="Only decisions about this kind of object: lesson, trajectory, skill_version, skill, import, run "
                   "(repeatable).")
@click.option("--object", "subject", default=None, help="Only decisions about this object (an id or its start).")
@click.option("--since", default=None, type=click.DateTime(["%Y-%m-%d"]), help="From this day (YYYY-MM-DD).")
@click.option("--until", default=None, type=click.DateTime(["%Y-%m-%d"]), help="Up to this day, included.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None,
              help="Write every matching decision to this CSV file (no limit).")
@json_option
@db_option
def activity_cmd(by: tuple[str, ...], kinds: tuple[str, ...], subject: str | None, since: object, until: object,
                 limit: int, csv_out: str | None, as_json: bool) -> None:
    """The activity log: every decision (lesson approved, outcome set, version saved, sections locked,
    import deleted, …) with who made it and when, newest first."""
    from trace2skill.activity import rows, to_csv
    from trace2skill.store.decisions import ActivityFilter, activity, activity_count

    ws = open_workspace()
    day = "%Y-%m-%d"
    flt = ActivityFilter(reviewers=by, kinds=kinds, subject=subject,
                         since=since.strftime(day) if since else None,  # type: ignore[attr-defined]
                         until=until.strftime(day) if until else None)  # type: ignore[attr-defined]
    total = activity_count(ws.db, flt)
    if csv_out:
        Path(csv_out).write_text(to_csv(activity(ws.db, flt, limit=None)), encoding="utf-8")
        click.echo(f"{plural(total, 'decision')} written to {csv_out}")
        return
    found = rows(activity(ws.db, flt, limit=limit))
    if as_json:
        print_json({"total": total, "decisions": found}, ws=ws)
        return
    for r in found:
        click.echo(f"{r['when']}  {clip(r['reviewer'], 24):<24}  {r['what']}  {r['kind']} {clip(r['object'], 40)}")
    click.echo(f"{plural(total, 'decision')}" + (f" (newest {len(found)} shown)" if total > len(found) else ""))
    echo_workspace(ws)
