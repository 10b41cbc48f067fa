"""Commands over trajectories and the workspace: import, stats, trajectories, show, demo, ui."""

from __future__ import annotations

import json
import sys
from typing import Any

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
from trace2skill.humanize import plural
from trace2skill.ingest.reader import NOT_JSON
from trace2skill.models import StoredStep
from trace2skill.store.stats import workspace_stats
from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories, get_trajectory, list_trajectories

# --------------------------------------------------------------------------- import


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "format_name", default=None, help="Skip detection and read every file as this format.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Field mapping (JSON/YAML) for the generic importer.")
@click.option("--text-mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Text mapping (JSON/YAML) for plain-text logs: record separator, line markers, patterns.")
@click.option("--outcome-attribute", default=None, metavar="NAME[>=X]",
              help="Traces: where each run's outcome is (success/failure, true/false, 1/0): a span attribute "
                   "(OpenTelemetry), a trace metadata key (OpenAI Agents SDK), a score (Langfuse) or a feedback "
                   "key (LangSmith). A number reads as success at 1 or more; 'NAME>=X' reads X or more as "
                   "success (a score from 0 to 1: 'helpfulness>=0.7'). `import --dry-run` lists the names.")
@click.option("--dry-run", is_flag=True,
              help="Show what would be imported (counts, warnings, a sample); write nothing.")
@click.option("--split-sessions", is_flag=True,
              help="Split each imported session that holds several requests into single-task trajectories "
                   "(see `trajectories split`).")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes that parse each file (1: this one only). Default: one per core for files of "
                   "8 MiB or more made of many records (JSONL, arrays, trace files), else 1.")
@json_option
@db_option
def import_cmd(paths: tuple[str, ...], format_name: str | None, mapping: str | None, text_mapping: str | None,
               outcome_attribute: str | None, dry_run: bool, split_sessions: bool, workers: int | None,
               as_json: bool) -> None:
    """Import trajectory files (or folders of them); formats are detected."""
    from trace2skill.ingest.pipeline import import_paths

    if dry_run:
        from trace2skill.cli.dry_run import dry_run as preview

        sys.exit(preview(paths, format_name, mapping, as_json, text_mapping, outcome_attribute))
    ws = open_workspace()

    def on_file(report: Any) -> None:
        if not as_json:
            click.echo(
                f"{report.file}: {report.format or '?'}: {report.imported} imported, "
                f"{report.duplicates} already present, "
                + (f"{report.relabelled} relabelled, " if report.relabelled else "")
                + plural(len(report.errors), "error") + (f" (import {report.import_id})" if report.import_id else ""),
                err=True,
            )

    report = import_paths(ws, paths, format_name=format_name, mapping=mapping, on_file=on_file, actor=cli_reviewer(),
                          text_mapping=text_mapping, outcome_attribute=outcome_attribute, workers=workers)
    split = None
    if split_sessions:
        from trace2skill.cli.sessions import split_imported

        split = split_imported(ws, [i for f in report.files for i in f.trajectory_ids])
    if as_json:
        print_json({**report.as_dict(), **({"sessions": split.as_dict()} if split else {})}, ws=ws)
    else:
        for warning in report.warnings:
            click.echo(f"  warning: {warning}", err=True)
        for group in report.error_groups:  # the same problem in many records is one line
            click.echo(f"  error: {group}", err=True)
        if text_mapping is None:
            for name in _plain_text_files(report.files):
                click.echo(f"  hint: {name} is plain text: a log imports with --text-mapping FILE (line markers "
                           "and patterns; README, 'Text logs')", err=True)
        click.echo(f"{report.imported} trajectories imported, {report.duplicates} already present, "
                   + (f"{report.relabelled} relabelled, " if report.relabelled else "")
                   + plural(len(report.errors), "error"))
        if split is not None:
            click.echo(f"sessions: {split.words()}")
    echo_workspace(ws, as_json=as_json)
    if report.errors:
        sys.exit(1)


def _plain_text_files(files: list[Any]) -> list[str]:
    """The files no format read because they are text, not JSON (a text mapping can read them)."""
    return [f.file for f in files if f.format is None and any(e.problem.startswith(NOT_JSON) for e in f.errors)]


# --------------------------------------------------------------------------- reading


@main.command()
@json_option
@db_option
def stats(as_json: bool) -> None:
    """Counts of everything in the workspace."""
    data = workspace_stats(open_workspace().db)
    if as_json:
        print_json(data)
        return
    click.echo(f"trajectories: {data['trajectories']}  "
               + "  ".join(f"{k}={v}" for k, v in data["outcomes"].items()))
    click.echo("formats: " + (", ".join(f"{k}={v}" for k, v in data["formats"].items()) or "-"))
    click.echo("signals: " + (", ".join(f"{k}={v}" for k, v in data["signals"].items()) or "-"))
    click.echo("lessons: " + ", ".join(f"{k}={v}" for k, v in data["lessons"].items()))
    click.echo(f"runs: {data['runs']}  llm calls: {data['llm_calls']}  skills: {data['skills']}  "
               f"skill versions: {data['skill_versions']}")


@main.group(invoke_without_command=True)
@click.option("--outcome", type=click.Choice(["success", "failure", "unknown"]))
@click.option("--format", "source_format", default=None)
@click.option("--model", default=None)
@click.option("--task-id", default=None)
@click.option("--signal", default=None, help="Only trajectories with this signal (e.g. tool_error, loop).")
@click.option("--search", default=None, help="Full-text search over task and step text.")
@click.option("--limit", default=50, show_default=True)
@click.option("--offset", default=0)
@json_option
@db_option
@click.pass_context
def trajectories(ctx: click.Context, outcome: str | None, source_format: str | None, model: str | None,
                 task_id: str | None, signal: str | None, search: str | None, limit: int, offset: int,
                 as_json: bool) -> None:
    """List trajectories, newest first, with filters (or set outcomes: `trajectories relabel ID...`)."""
    if ctx.invoked_subcommand:
        return
    db = open_workspace().db
    flt = TrajectoryFilter(outcome=outcome, source_format=source_format, model=model, task_id=task_id,
                           signal=signal, search=search)
    rows = list_trajectories(db, flt, limit=limit, offset=offset)
    total = count_trajectories(db, flt)
    if as_json:
        print_json({"total": total, "offset": offset, "trajectories": [r.model_dump() for r in rows]})
        return
    wide = max((len(r.source_format) for r in rows), default=6)
    for r in rows:
        click.echo(f"{r.id[:12]}  {r.outcome:<7}  {r.source_format:<{wide}}  {r.n_steps:>4} steps  "
                   f"{r.n_errors:>2} err  {clip(r.signals, 28):<28}  {clip(r.task, 60)}")
    click.echo(f"{len(rows)} of {total} shown", err=True)


def _format_step(step: StoredStep, width: int) -> list[str]:
    lines = [f"[{step.idx}] {step.role}" + (" (error)" if step.is_error else "")]
    if step.reasoning:
        lines.append(f"    thought: {clip(step.reasoning, width)}")
    if step.text:
        lines.append(f"    {clip(step.text, width)}")
    for call in step.tool_calls:
        args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        lines.append(f"    -> {call.name}({clip(args, width - 10)})")
    for result in step.tool_results:
        lines.append(f"    <- {clip(result.content, width)}")
    return lines


@main.command()
@click.argument("trajectory_id")
@click.option("--width", default=160, show_default=True, help="Clip long text to this many characters.")
@json_option
@db_option
def show(trajectory_id: str, width: int, as_json: bool) -> None:
    """Show one trajectory: task, outcome, signals and every step (ids may be abbreviated)."""
    t = get_trajectory(open_workspace().db, trajectory_id)
    if as_json:
        print_json(t.model_dump())
        return
    click.echo(f"trajectory {t.id}  ({t.source_format}, {t.source_name})")
    click.echo(f"outcome: {t.outcome}" + (f"  reward={t.reward}" if t.reward is not None else "")
               + (f"  ({t.outcome_detail})" if t.outcome_detail else ""))
    click.echo(f"model: {t.model or '-'}   task id: {t.task_id or '-'}")
    click.echo(f"task: {clip(t.task, width * 2)}")
    if t.ground_truth:
        click.echo(f"ground truth: {clip(json.dumps(t.ground_truth), width * 2)}")
    for s in t.signals:
        click.echo(f"signal: {s.kind} at step {s.step_idx}: {s.detail}")
    click.echo("")
    for step in t.steps:
        for line in _format_step(step, width):
            click.echo(line)


@main.command()
@json_option
@db_option
def demo(as_json: bool) -> None:
    """Load the bundled demo data (tau-bench airline runs) into the workspace."""
    from trace2skill.demo import load_demo

    ws = open_workspace()
    report = load_demo(ws)
    if as_json:
        print_json(report.as_dict(), ws=ws)
    else:
        click.echo(f"demo data: {report.imported} trajectories imported, {report.duplicates} already present")
    echo_workspace(ws, as_json=as_json)
