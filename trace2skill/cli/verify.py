"""`trace2skill verify`: check lessons by replaying their trajectories' tasks (a run like any other:
progress, cancel, resume, call log)."""

from __future__ import annotations

from typing import Any

import click

from trace2skill.cli.batch_options import batch_choice, with_batch_options
from trace2skill.cli.common import cli_concurrency, cli_llm_config, db_option, json_option, main, open_workspace
from trace2skill.cli.runs import execute_with_progress, report, with_llm_options
from trace2skill.llm.batch import BatchOptions
from trace2skill.runs.batch_mode import set_batch

verify_options = [
    click.option("--repeats", type=click.IntRange(1, 20), default=2, show_default=True,
                 help="Replays per lesson (and for the baseline without it)."),
    click.option("--rounds", type=click.IntRange(0, 5), default=1, show_default=True,
                 help="Fix-loop rounds when no lesson fixes a failure (0: none)."),
    click.option("--evaluator", type=click.Choice(["qa", "command"]), default="qa", show_default=True),
    click.option("--command", "command", default=None,
                 help="Evaluator command (see `trace2skill evaluate --help`): scores each replay."),
]


def with_verify_options(func: Any) -> Any:
    for option in reversed(verify_options):
        func = option(func)
    return func


def verify_config(ws: Any, repeats: int, rounds: int, evaluator: str, command: str | None, base_url: str | None,
                  model: str | None, concurrency: int | None) -> Any:
    from trace2skill.verify.run import VerifyConfig

    llm = cli_llm_config(ws, base_url, model)
    return VerifyConfig(evaluator=evaluator, command=command, repeats=repeats, rounds=rounds,  # type: ignore[arg-type]
                        base_url=llm.base_url, model=llm.model, concurrency=cli_concurrency(ws, concurrency, 4))


def run_verification(ws: Any, run_id: str, base_url: str | None, model: str | None, as_json: bool, *,
                     batch: BatchOptions | None = None) -> None:
    from trace2skill.llm import LLMClient

    set_batch(ws, run_id, batch)
    client = LLMClient(ws, cli_llm_config(ws, base_url, model))
    if not as_json:
        click.echo(f"verification run {run_id}", err=True)
    report(ws, execute_with_progress(ws, run_id, client, as_json=as_json), as_json)


@main.command()
@click.argument("lesson_ids", nargs=-1)
@click.option("--run", "source_run", default=None, help="Verify the lessons of this extraction run.")
@click.option("--status", type=click.Choice(["proposed", "approved"]), default=None,
              help="Verify every lesson with this status (instead of ids or --run).")
@with_verify_options
@with_llm_options
@with_batch_options
@json_option
@db_option
def verify(lesson_ids: tuple[str, ...], source_run: str | None, status: str | None, repeats: int, rounds: int,
           evaluator: str, command: str | None, base_url: str | None, model: str | None, concurrency: int | None,
           batch_api: bool, batch_file: str | None, batch_retry: str, batch_poll: float, batch_gather: float,
           as_json: bool) -> None:
    """Replay each lesson's task with the lesson in the skill: verified when it fixes the failure
    (or keeps the success). A failure no lesson fixes is revised by the analyst (--rounds)."""
    from trace2skill.store.lessons import LessonFilter, get_lesson
    from trace2skill.store.lessons import lesson_ids as ids_of
    from trace2skill.verify.run import create_verification_run, verify_extraction

    if sum(bool(x) for x in (lesson_ids, source_run, status)) != 1:
        raise click.UsageError("give lesson ids, --run RUN or --status STATUS (one of them)")
    ws = open_workspace()
    config = verify_config(ws, repeats, rounds, evaluator, command, base_url, model, concurrency)
    batch = batch_choice(cli_llm_config(ws, base_url, model), batch_api, batch_file, batch_retry, batch_poll,
                         batch_gather)
    if source_run:
        run_id = verify_extraction(ws, source_run, config)
    else:
        ids = ids_of(ws.db, LessonFilter(status=status)) if status else [get_lesson(ws.db, i).id for i in lesson_ids]
        run_id = create_verification_run(ws, ids, config)
    run_verification(ws, run_id, base_url, model, as_json, batch=batch)


@main.command()
@click.option("--tasks", "tasks_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="Task file with gold answers (JSONL, JSON, CSV or TSV; see `trace2skill evaluate --help`).")
@click.option("--mapping", default=None, help="Field mapping for --tasks: a preset (wtq, gsm8k) or a JSON/YAML file.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N tasks.")
@click.option("--skill", "skill", default=None, help="The skill the agent follows (name or version; default: none).")
@with_llm_options
@json_option
@db_option
def collect(tasks_file: str, mapping: str | None, limit: int | None, skill: str | None, base_url: str | None,
            model: str | None, concurrency: int | None, as_json: bool) -> None:
    """Run the built-in QA agent over tasks with gold answers and keep each attempt as a trajectory
    (success or failure against the gold answer), ready for extraction and replay verification."""
    from pathlib import Path

    from trace2skill.evaluate import load_mapping, load_tasks, resolve_version
    from trace2skill.evaluate.answers import gold_warnings
    from trace2skill.evaluate.collect import CollectConfig, create_collection_run
    from trace2skill.llm import LLMClient

    ws = open_workspace()
    llm = cli_llm_config(ws, base_url, model)
    tasks = load_tasks(tasks_file, load_mapping(mapping), limit=limit)
    for warning in gold_warnings(tasks):
        click.echo(f"warning: {warning}", err=True)
    config = CollectConfig(skill_version=resolve_version(ws.db, skill) if skill else None, base_url=llm.base_url,
                           model=llm.model, concurrency=cli_concurrency(ws, concurrency, 4),
                           source_name=Path(tasks_file).name)
    run_id = create_collection_run(ws, tasks, config)
    if not as_json:
        click.echo(f"collection run {run_id}: {len(tasks)} tasks on {llm.describe()}", err=True)
    report(ws, execute_with_progress(ws, run_id, LLMClient(ws, llm), as_json=as_json), as_json)
