"""`trace2skill batch`: the batches runs sent or wrote, and `batch ingest` for the answers of a batch
file an engine ran (`vllm run-batch`): stored, then each run waiting for them goes on."""

from __future__ import annotations

import click

from trace2skill.cli.common import db_option, echo_workspace, json_option, main, open_workspace, print_json
from trace2skill.humanize import plural
from trace2skill.store import Workspace


@main.group("batch")
def batch_group() -> None:
    """Batch mode: list batches, ingest a results file."""


@batch_group.command("list")
@click.option("--run", "run_id", default=None, help="Only this run's batches.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--ask", is_flag=True, help="Also ask the endpoint how far the open batches of runs nothing executes "
                                          "are (interrupted, or cancelled after their process stopped). Said, not "
                                          "stored: `trace2skill resume RUN` collects the answers.")
@json_option
@db_option
def batch_list(run_id: str | None, limit: int, ask: bool, as_json: bool) -> None:
    """Batches, newest first: their run, state and answers."""
    from trace2skill.runs.batch_mode import describe_batch
    from trace2skill.store import batches as batch_store

    ws = open_workspace()
    found = batch_store.list_batches(ws.db, run_id=run_id, limit=limit)
    said = _asked(ws, [b.run_id for b in found]) if ask else []
    if as_json:
        print_json({"batches": [b.__dict__ for b in found], "asked": said} if ask else [b.__dict__ for b in found],
                   ws=ws)
        return
    for b in found:
        click.echo(f"{b.created}  run {b.run_id}  {describe_batch(b)}")
    if not found:
        click.echo("no batches" + (f" for run {run_id}" if run_id else ""))
    if ask:
        click.echo("the endpoint says now (not stored):" if said else
                   "no open batch of a run that nothing executes: nothing to ask")
        for line in said:
            click.echo(f"  {line}")
    echo_workspace(ws)


def _asked(ws: Workspace, run_ids: list[str | None]) -> list[str]:
    """What the endpoint says of the open batches of each of these runs that nothing executes."""
    from trace2skill.llm.batch import ask_endpoint, at_endpoint
    from trace2skill.runs.batch_mode import remote_words
    from trace2skill.runs.state import is_alive
    from trace2skill.store import batches as batch_store
    from trace2skill.store.runs import get_run

    lines = []
    for run_id in dict.fromkeys(r for r in run_ids if r):
        run = get_run(ws.db, run_id)
        askable = [] if is_alive(run) else at_endpoint(batch_store.list_batches(ws.db, run_id=run_id, open_only=True))
        if askable:
            lines += [remote_words(s) for s in ask_endpoint(run, askable)]
    return lines


@batch_group.command("ingest")
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-resume", is_flag=True, help="Only store the answers; resume the runs later (trace2skill resume).")
@json_option
@db_option
def batch_ingest(results: str, no_resume: bool, as_json: bool) -> None:
    """Store the answers in RESULTS (the output of `vllm run-batch` or of the OpenAI Batch API), then
    resume each run that was waiting for them: it goes on from there, and writes its next batch
    file when it needs more answers."""
    from pathlib import Path

    from trace2skill import runs as engine
    from trace2skill.cli.runs import execute_with_progress, report
    from trace2skill.llm import LLMClient
    from trace2skill.runs.batch_mode import ingest_results
    from trace2skill.runs.clients import client_config
    from trace2skill.store import runs as run_store

    ws = open_workspace()
    got = ingest_results(ws, Path(results))
    summary = {"answers": got.answers, "failed": got.failed, "unknown": got.unknown, "runs": got.runs,
               "bad_lines": [{"line": b.line_no, "problem": b.problem} for b in got.bad]}
    if not as_json:
        click.echo(f"{results}: {plural(got.answers, 'answer')} stored"
                   + (f" ({got.failed} the engine could not run)" if got.failed else "")
                   + (f"; {got.unknown} no batch was waiting for (already stored, or not from this workspace)"
                      if got.unknown else ""), err=True)
        for bad in got.bad[:10]:
            click.echo(f"  line {bad.line_no}: not a batch result ({bad.problem})", err=True)
    waiting = [run_store.get_run(ws.db, r) for r in got.runs]
    waiting = [r for r in waiting if not r.is_active and r.status != "done" and not engine.is_alive(r)]
    if no_resume or not waiting:
        if as_json:
            print_json(summary, ws=ws)
        elif waiting:
            click.echo("resume with: " + "; ".join(f"trace2skill resume {r.id}" for r in waiting), err=True)
        return
    for run in waiting:
        llm = client_config(run)
        if not as_json:
            click.echo(f"resuming {run.kind} run {run.id}", err=True)
        done = execute_with_progress(ws, run.id, LLMClient(ws, llm) if llm else None, as_json=as_json, resume=True)
        report(ws, done, as_json, summary)
