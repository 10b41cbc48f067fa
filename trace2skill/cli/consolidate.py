"""`trace2skill consolidate`: approved lessons -> a proposed skill version."""

from __future__ import annotations

import click

from trace2skill.cli.batch_options import batch_choice, with_batch_options
from trace2skill.cli.common import cli_concurrency, cli_llm_config, db_option, json_option, main, open_workspace
from trace2skill.cli.runs import apply_budget, execute_with_progress, report, with_budget_options, with_llm_options
from trace2skill.runs.batch_mode import set_batch
from trace2skill.skill.budget import DEFAULT_MAX_ADDED_LINES, DEFAULT_MAX_CHANGED_SHARE


@main.command()
@click.option("--base-skill", default=None, help="Deepen this skill (name: its latest version; or a version id).")
@click.option("--new-skill", default=None, help="Create a new skill with this name (needs --description).")
@click.option("--description", default="", help="Description of the new skill.")
@click.option("--batch-size", type=click.IntRange(2, 64), default=8, show_default=True)
@click.option("--min-support", type=click.IntRange(0), default=0, show_default=True,
              help="Drop edits supported by fewer distinct trajectories.")
@click.option("--move-low-support", is_flag=True, help="Move low-support edits to references/ instead of dropping.")
@click.option("--no-embeddings", is_flag=True, help="Batch patches in order instead of by similarity.")
@click.option("--verified-only", is_flag=True, help="Only approved lessons verified by replay (trace2skill verify).")
@click.option("--include-heldout", is_flag=True,
              help="Also use lessons from held-out trajectories or quoting held-out tasks (left out by default; "
                   "recorded as a decision).")
@click.option("--max-added-lines", type=click.IntRange(0), default=DEFAULT_MAX_ADDED_LINES, show_default=True,
              help="Edit budget: lines of text the proposal may add to SKILL.md.")
@click.option("--max-changed-share", type=click.FloatRange(0, 1), default=DEFAULT_MAX_CHANGED_SHARE, show_default=True,
              help="Edit budget: share of SKILL.md's lines the proposal may change (not for a new skill).")
@click.option("--over-budget", type=click.Choice(["move", "drop"]), default="move", show_default=True,
              help="Edits over the budget, least supported first: move them to references/ or drop them.")
@with_llm_options
@with_budget_options
@with_batch_options
@json_option
@db_option
def consolidate(base_skill: str | None, new_skill: str | None, description: str, batch_size: int, min_support: int,
                move_low_support: bool, no_embeddings: bool, verified_only: bool, include_heldout: bool,
                base_url: str | None,
                model: str | None,
                concurrency: int | None, budget_tokens: int | None, budget_usd: float | None, as_json: bool,
                max_added_lines: int, max_changed_share: float, over_budget: str, batch_api: bool,
                batch_file: str | None, batch_retry: str, batch_poll: float, batch_gather: float) -> None:
    """Merge the approved lessons into a proposed skill version (saved; review it with `diff`)."""
    if base_skill and new_skill:
        raise click.UsageError("--base-skill and --new-skill cannot be used together: deepen a skill or create one")
    if not (base_skill or new_skill):
        raise click.UsageError("give --base-skill NAME (deepen a skill) or --new-skill NAME (create one)")
    from trace2skill.consolidate.heldout import left_out_note
    from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
    from trace2skill.costs import require_price
    from trace2skill.llm import LLMClient
    from trace2skill.store.runs import get_run
    from trace2skill.store.skills import get_version, latest_version

    ws = open_workspace()
    llm = cli_llm_config(ws, base_url, model)
    batch = batch_choice(llm, batch_api, batch_file, batch_retry, batch_poll, batch_gather)
    base_version = None
    if base_skill:
        latest = latest_version(ws.db, base_skill)
        base_version = latest.id if latest else get_version(ws.db, base_skill).id
    config = ConsolidationConfig(base_version=base_version, new_skill=new_skill, description=description,
                                 batch_size=batch_size, min_support=min_support, move_low_support=move_low_support,
                                 concurrency=cli_concurrency(ws, concurrency), embeddings=not no_embeddings,
                                 base_url=llm.base_url, model=llm.model, verified_only=verified_only,
                                 max_added_lines=max_added_lines, max_changed_share=max_changed_share,
                                 over_budget=over_budget, include_heldout=include_heldout)
    if budget_usd is not None:
        require_price(ws.db, llm)
    run_id = create_consolidation_run(ws, config)
    apply_budget(ws, run_id, budget_tokens, budget_usd)
    set_batch(ws, run_id, batch)
    if not as_json:
        click.echo(f"consolidation run {run_id} on {llm.describe()}", err=True)
        if note := left_out_note(get_run(ws.db, run_id).config.get("heldout_left_out") or {}):
            click.echo(f"{note}; --include-heldout uses them (recorded)", err=True)
    run = execute_with_progress(ws, run_id, LLMClient(ws, llm), as_json=as_json)
    report(ws, run, as_json)
