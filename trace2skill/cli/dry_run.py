"""`trace2skill import --dry-run`: what the import would do, printed; the workspace is only read
(for what it already has), never created or written."""

from __future__ import annotations

from pathlib import Path

import click

from trace2skill.cli.common import print_json, selected_db
from trace2skill.ingest.preview import ImportPreview, outcome_counts, preview_paths, sample_lines, summary_line
from trace2skill.store import Workspace
from trace2skill.store.workspace import default_db_path


def _existing_workspace() -> Workspace | None:
    """The workspace of this command line when its file exists already (a dry run creates none)."""
    path = Path(selected_db() or default_db_path()).expanduser()
    return Workspace(path) if path.is_file() else None


def dry_run(paths: tuple[str, ...], format_name: str | None, mapping: str | None, as_json: bool,
            text_mapping: str | None = None, outcome_attribute: str | None = None) -> int:
    """Print the preview; the exit status is 1 when the import would report errors."""
    ws = _existing_workspace()
    preview = preview_paths(paths, format_name=format_name, mapping=mapping, db=ws.db if ws else None,
                            text_mapping=text_mapping, outcome_attribute=outcome_attribute)
    where = str((Path(selected_db() or default_db_path())).expanduser().resolve())
    if as_json:
        print_json({**preview.as_dict(), "workspace": where})
    else:
        _print(preview, hint=outcome_attribute is None)
        click.echo(f"workspace: {where} (unchanged)", err=True)
    if ws is not None:
        ws.close()
    return 1 if preview.errors else 0


def _print(preview: ImportPreview, *, hint: bool) -> None:
    click.echo("dry run: nothing is written")
    for f in preview.files:
        click.echo(summary_line(f))
        if f.sessions:
            them = "it" if f.sessions == 1 else "them"
            click.echo(f"  {f.sessions_words}: --split-sessions splits {them} into tasks as they are imported "
                       "(or `trajectories split` afterwards)")
        for warning in f.warnings:
            click.echo(f"  warning: {warning}")
        if hint and f.trace_names is not None and f.trace_names.offered:
            click.echo("  may say each trace's outcome (name one with --outcome-attribute NAME):")
            for described in f.trace_names.described():
                click.echo(f"    {described}")
            if any(o.graded for o in f.trace_names.offered):
                click.echo("    (for numbers other than 0 and 1, say where success starts: "
                           "--outcome-attribute 'NAME>=X')")
        for group in f.error_groups:
            click.echo(f"  error: {group}")
        if f.sample is not None:
            click.echo("  sample:")
            for line in sample_lines(f.sample):
                click.echo(f"    {line}")
    click.echo(f"would import {preview.total('new'):,} trajectories of {preview.total('trajectories'):,} "
               f"({outcome_counts(preview.outcomes)}), {preview.total('already_present'):,} already present, "
               f"{len(preview.errors):,} errors")
