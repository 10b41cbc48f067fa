"""`trace2skill consolidate`: approved lessons -> a proposed skill version."""

from __future__ import annotations

import click

from trace2skill.cli.common import cli_concurrency, cli_llm_config, db_option, json_option, main, open_workspace
from trace2skill.cli.runs import execute_with_progress, report, with_llm_options


@main.command()
@click.option("--base-skill", default=None, help="Deepen this skill (name: its latest version; or a version id).")
@click.option("--new-skill", default=None, help="Create a new skill with this name (needs --description).")
@click.option("--description", default="", help="Description of the new skill.")
@click.option("--batch-size", type=click.IntRange(2, 64), default=8, show_default=True)
@click.option("--min-support", type=click.IntRange(0), default=0, show_default=True,
              help="Drop edits supported by fewer distinct trajectories.")
@click.option("--move-low-support", is_flag=True, help="Move low-support edits to references/ instead of dropping.")
@click.option("--no-embeddings", is_flag=True, help="Batch patches in order instead of by similarity.")
@with_llm_options
@json_option
@db_option
def consolidate(base_skill: str | None, new_skill: str | None, description: str, batch_size: int, min_support: int,
                move_low_support: bool, no_embeddings: bool, base_url: str | None, model: str | None,
                concurrency: int | None, as_json: bool) -> None:
    """Merge the approved lessons into a proposed skill version (saved; review it with `diff`)."""
    if base_skill and new_skill:
        raise click.UsageError("--base-skill and --new-skill cannot be used together: deepen a skill or create one")
    if not (base_skill or new_skill):
        raise click.UsageError("give --base-skill NAME (deepen a skill) or --new-skill NAME (create one)")
    from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
    from trace2skill.llm import LLMClient
    from trace2skill.store.skills import get_version, latest_version

    ws = open_workspace()
    llm = cli_llm_config(ws, base_url, model)
    base_version = None
    if base_skill:
        latest = latest_version(ws.db, base_skill)
        base_version = latest.id if latest else get_version(ws.db, base_skill).id
    config = ConsolidationConfig(base_version=base_version, new_skill=new_skill, description=description,
                                 batch_size=batch_size, min_support=min_support, move_low_support=move_low_support,
                                 concurrency=cli_concurrency(ws, concurrency), embeddings=not no_embeddings,
                                 base_url=llm.base_url, model=llm.model)
    run_id = create_consolidation_run(ws, config)
    if not as_json:
        click.echo(f"consolidation run {run_id} on {llm.describe()}", err=True)
    run = execute_with_progress(ws, run_id, LLMClient(ws, llm), as_json=as_json)
    report(ws, run, as_json)
