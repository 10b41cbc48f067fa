"""`trace2skill consolidate`: approved lessons -> a proposed skill version."""

from __future__ import annotations

import click

from trace2skill.cli.common import db_option, json_option, main, open_workspace, print_json
from trace2skill.cli.runs import llm_client, with_llm_options


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
                concurrency: int | None, as_json: bool, db_path: str | None) -> None:
    """Merge the approved lessons into a proposed skill version (saved; review it with `diff`)."""
    from trace2skill.consolidate.run import ConsolidationConfig, execute_consolidation, start_consolidation
    from trace2skill.store.skills import get_version, latest_version

    from trace2skill.llm import LLMConfig

    ws = open_workspace(db_path)
    base_version = None
    if base_skill:
        latest = latest_version(ws.db, base_skill)
        base_version = latest["id"] if latest else get_version(ws.db, base_skill)["id"]
    config = ConsolidationConfig(base_version=base_version, new_skill=new_skill, description=description,
                                 batch_size=batch_size, min_support=min_support, move_low_support=move_low_support,
                                 concurrency=concurrency or 8, embeddings=not no_embeddings,
                                 base_url=LLMConfig.from_env(base_url=base_url, model=model).base_url)
    run_id = start_consolidation(ws, config)
    if not as_json:
        click.echo(f"consolidation run {run_id}", err=True)

    def on_node(node) -> None:
        if not as_json:
            click.echo(f"  merged level {node.level} node {node.idx}: {node.rationale[:100]}", err=True)

    result = execute_consolidation(ws, run_id, llm_client(ws, base_url, model), on_node=on_node)
    if as_json:
        print_json(result.as_dict())
        return
    click.echo(f"proposal {result.version}: {result.levels} levels, {result.merge_calls} merge calls, "
               f"{result.applied} edits applied, {len(result.rejected)} rejected, {len(result.conflicts)} conflicts")
    for finding in result.findings:
        click.echo(f"  {finding['severity']}: {finding['file']}:{finding['line'] or ''} {finding['message']}", err=True)
    click.echo(f"review it: trace2skill diff {config.base_version} {result.version}", err=True)
