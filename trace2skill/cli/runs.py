"""Runs from the command line, whatever their kind: extract (with an estimate and a progress bar),
runs, resume, cancel, logs; and serving the embedded local model. Every run goes through the run
engine (`trace2skill.runs`); what a finished run reports is said by its kind."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from trace2skill import runs as engine
from trace2skill.cli.batch_options import batch_choice, with_batch_options
from trace2skill.cli.common import (
    cli_concurrency,
    cli_llm_config,
    clip,
    db_option,
    echo_workspace,
    json_option,
    main,
    open_workspace,
    print_json,
)
from trace2skill.costs import (
    budget_text,
    cache_hit_rate,
    cache_line,
    config_price,
    money,
    require_price,
    scale_price,
    short_spend,
    spend_line,
)
from trace2skill.errors import InvalidValueError
from trace2skill.models import Run
from trace2skill.runs import execute as execute_run
from trace2skill.runs.batch_mode import describe_batch, set_batch
from trace2skill.runs.budget import price_share
from trace2skill.store import Workspace
from trace2skill.store import batches as batch_store

llm_options = [
    click.option("--base-url", default=None,
                 help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, else the workspace's setting, else the "
                      "embedded local model). The key is read from $OPENAI_API_KEY."),
    click.option("--model", default=None,
                 help="Model name (default: $TRACE2SKILL_MODEL, else the workspace's setting, else the local "
                      "model's)."),
    click.option("--concurrency", default=None, type=click.IntRange(1, 512),
                 help="Calls at once (default: the workspace's setting, else 8)."),
]


def with_llm_options(func: Any) -> Any:
    for option in reversed(llm_options):
        func = option(func)
    return func


budget_options = [
    click.option("--budget-tokens", type=click.IntRange(1), default=None,
                 help="Stop the run (resumable) before its calls use more tokens than this (prompt + completion)."),
    click.option("--budget-usd", type=click.FloatRange(0, min_open=True), default=None,
                 help="Stop the run (resumable) before its calls cost more than this, priced from the workspace's "
                      "price table (trace2skill settings price)."),
]


def with_budget_options(func: Any) -> Any:
    for option in reversed(budget_options):
        func = option(func)
    return func


def apply_budget(ws: Workspace, run_id: str, tokens: int | None, usd: float | None) -> None:
    """Give a new run the budget of --budget-tokens / --budget-usd (check the price first, with
    `require_price`, before the run is created)."""
    if tokens is not None or usd is not None:
        engine.set_budget(ws, run_id, tokens=tokens, usd=usd)


def execute_with_progress(ws: Workspace, run_id: str, client: Any, *, as_json: bool, resume: bool = False,
                          retry_failed: bool = True, concurrency: int | None = None) -> Run:
    """Execute (or resume) a run with a progress bar on stderr; Ctrl-C cancels it (resumable)."""
    from trace2skill.store import runs as run_store

    if resume:
        engine.prepare_resume(ws, run_id, retry_failed=retry_failed)
    todo = run_store.run_progress(ws.db, run_id).queued
    lock = threading.Lock()
    run = run_store.get_run(ws.db, run_id)
    with click.progressbar(length=todo, label=f"run {run_id} · {short_spend(engine.spend(ws, run))}",
                           file=sys.stderr, show_pos=True, hidden=as_json) as bar:
        def on_item(_item: str, _status: str) -> None:
            with lock:
                bar.label = f"run {run_id} · {short_spend(engine.spend(ws, run))}"  # the live cost meter
                bar.update(1)
        try:
            return execute_run(ws, run_id, client, on_item=on_item, concurrency=concurrency)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: run {run_id} cancelled; resume it with: trace2skill resume {run_id}",
                       err=True)
            sys.exit(130)


def report(ws: Workspace, run: Run, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    """What a run did (its kind says the details); exit status 1 when it did not finish."""
    from trace2skill.store import runs as run_store

    lines, data = engine.get_kind(run.kind).report(ws, run)
    spent = engine.spend(ws, run)
    batches = batch_store.list_batches(ws.db, run_id=run.id)
    waiting = run.status == "stopped" and batches and batches[0].status == "written"
    if as_json:
        print_json({**(extra or {}), "batches": [b.__dict__ for b in batches], "run": run.id, "kind": run.kind,
                    "status": run.status,
                    "progress": run.progress.model_dump(), "counters": run.counters, "error": run.error,
                    "spend": spent.model_dump(), "cache_hit_rate": cache_hit_rate(spent), **data}, ws=ws)
    else:
        for line in lines:
            click.echo(line)
        for batch in batches[:5]:
            click.echo(describe_batch(batch))
        p = run.progress
        click.echo(f"run {run.id}: {run.status} - {p.done} done, {p.failed} failed, {p.cancelled} cancelled"
                   + (f", {p.queued} queued" if p.queued else ""))
        click.echo(f"spent: {spend_line(spent)}")
        if cache_line(spent):
            click.echo(f"prompt cache: {cache_line(spent)}")
        if run.error:
            click.echo(f"  error: {clip(run.error, 300)}", err=True)
        for item in run_store.list_items(ws.db, run.id, status="failed", limit=20):
            click.echo(f"  failed {item.item_id[:30]}: {clip(item.error, 150)}", err=True)
        if waiting:
            click.echo(f"when the answers are in: trace2skill batch ingest RESULTS.jsonl (run {run.id} then goes on)",
                       err=True)
        elif run.status == "stopped":
            click.echo(f"raise the budget and resume: trace2skill resume {run.id} --budget-tokens N "
                       "(or --budget-usd X)", err=True)
        elif p.failed or run.status in ("cancelled", "failed"):
            click.echo(f"resume with: trace2skill resume {run.id}", err=True)
        echo_workspace(ws)
    if run.status in ("failed", "cancelled", "stopped") and not waiting:
        sys.exit(1)  # (a run waiting for its batch file's answers did what was asked)


@main.command()
@click.option("--outcome", type=click.Choice(["failure", "success", "all"]), default="all", show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many trajectories.")
@click.option("--sample", type=click.IntRange(1), default=None, help="A random sample of this many trajectories.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--balance", is_flag=True, help="With --sample: as many failures as successes.")
@click.option("--max-lessons", type=click.IntRange(1, 5), default=3, show_default=True)
@click.option("--max-tokens", type=click.IntRange(16), default=1024, show_default=True, help="Per answer.")
@click.option("--estimate", "estimate_only", is_flag=True, help="Print the token/cost estimate and stop.")
@click.option("--verify", "then_verify", is_flag=True,
              help="Then verify the lessons by replay (as `trace2skill verify --run RUN`, 2 replays, 1 fix round).")
@with_llm_options
@with_budget_options
@with_batch_options
@json_option
@db_option
def extract(outcome: str, limit: int | None, sample: int | None, seed: int, balance: bool, max_lessons: int,
            max_tokens: int, estimate_only: bool, then_verify: bool, base_url: str | None, model: str | None,
            concurrency: int | None, budget_tokens: int | None, budget_usd: float | None, batch_api: bool,
            batch_file: str | None, batch_retry: str, batch_poll: float, batch_gather: float, as_json: bool) -> None:
    """Run the analysts over trajectories (failures -> error analyst, successes -> success analyst)."""
    from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, estimate, select_trajectories
    from trace2skill.llm import LLMClient

    ws = open_workspace()
    ids = select_trajectories(ws, outcome=outcome, limit=limit, sample=sample, seed=seed,  # type: ignore[arg-type]
                              balance=balance)
    llm = cli_llm_config(ws, base_url, model)
    batch = batch_choice(llm, batch_api, batch_file, batch_retry, batch_poll, batch_gather)
    config = ExtractionConfig(outcome=outcome, max_lessons=max_lessons,  # type: ignore[arg-type]
                              concurrency=cli_concurrency(ws, concurrency), max_tokens=max_tokens, model=llm.model,
                              base_url=llm.base_url)
    price = config_price(ws.db, llm)
    share = price_share(ws, batch)  # what the cost meter will count
    plan = estimate(ws, ids, config, scale_price(price, share) if price is not None and share != 1.0 else price)
    if estimate_only:
        print_json(plan) if as_json else click.echo(
            f"{plan['calls']} analyst calls over {plan['trajectories']} trajectories: about "
            f"{plan['prompt_tokens']} prompt tokens, at most {plan['max_completion_tokens']} completion tokens"
            + (f", about {money(plan['estimated_cost_usd'])}" if plan["priced"] else ", no price for this model"))
        return
    if budget_usd is not None:
        require_price(ws.db, llm)
    run_id = create_extraction_run(ws, ids, config)
    apply_budget(ws, run_id, budget_tokens, budget_usd)
    set_batch(ws, run_id, batch)
    if not as_json:
        click.echo(f"extraction run {run_id}: {len(ids)} trajectories, ~{plan['prompt_tokens']} prompt tokens; "
                   f"model {llm.describe()}", err=True)
    run = execute_with_progress(ws, run_id, LLMClient(ws, llm), as_json=as_json)
    report(ws, run, as_json, {"estimate": plan})  # exits 1 (verifying nothing) when the run did not finish
    if then_verify and run.status == "done":
        from trace2skill.cli.verify import run_verification, verify_config
        from trace2skill.verify.run import verify_extraction

        config = verify_config(ws, 2, 1, "qa", None, base_url, model, concurrency)
        run_verification(ws, verify_extraction(ws, run.id, config), base_url, model, as_json, batch=batch)


@main.command()
@click.argument("run_id")
@click.option("--keep-failed", is_flag=True, help="Only finish what never ran; leave failed items failed.")
@with_llm_options
@with_budget_options
@json_option
@db_option
def resume(run_id: str, keep_failed: bool, base_url: str | None, model: str | None, concurrency: int | None,
           budget_tokens: int | None, budget_usd: float | None, as_json: bool) -> None:
    """Finish an interrupted, cancelled, stopped (at its budget: raise it with --budget-tokens or
    --budget-usd) or partly failed run of any kind; finished work is kept. The run continues on the
    model it started with unless --base-url/--model say otherwise."""
    from trace2skill.llm import LLMClient
    from trace2skill.runs.clients import client_config
    from trace2skill.store import runs as run_store

    ws = open_workspace()
    run = run_store.get_run(ws.db, run_id)
    llm = client_config(run, base_url, model)
    client = LLMClient(ws, llm) if llm is not None else None
    if budget_usd is not None:
        require_price(ws.db, llm)
    apply_budget(ws, run.id, budget_tokens, budget_usd)
    if not as_json:
        click.echo(f"resuming {run.kind} run {run.id}" + (f" on {llm.describe()}" if llm else ""), err=True)
    done = execute_with_progress(ws, run.id, client, as_json=as_json, resume=True, retry_failed=not keep_failed,
                                 concurrency=concurrency)
    report(ws, done, as_json)


@main.command()
@click.argument("run_id")
@db_option
def cancel(run_id: str) -> None:
    """Stop a run of any kind, wherever it executes: nothing new starts, calls in flight are
    abandoned, unfinished items end "cancelled" (resume runs them)."""
    from trace2skill.llm.batch import left_open_words
    from trace2skill.runs.state import describe

    ws = open_workspace()
    run = engine.cancel(ws, run_id)
    click.echo(f"run {run.id} cancelled ({run.progress.done} of {run.progress.total} items done); "
               f"resume it with: trace2skill resume {run.id}")
    left = describe(ws, run.id).open_batches
    if left:  # nothing executes it, and the endpoint did not take the cancel
        click.echo(f"warning: {left_open_words(list(left))}", err=True)
    echo_workspace(ws)


@main.group("runs", invoke_without_command=True)
@click.option("--kind", type=click.Choice(engine.kind_names()), default=None)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@json_option
@db_option
@click.pass_context
def runs_cmd(ctx: click.Context, kind: str | None, limit: int, as_json: bool) -> None:
    """Recent runs with their state and progress (`runs budget RUN` sets a run's budget)."""
    from trace2skill.store import runs as run_store

    if ctx.invoked_subcommand is not None:
        return
    ws = open_workspace()
    states = [engine.describe(ws, r.id) for r in run_store.list_runs(ws.db, kind=kind, limit=limit)]
    if as_json:
        spends = [engine.spend(ws, s.run) for s in states]
        print_json([{**s.run.model_dump(), "state": s.headline, "alive": s.alive, "eta_s": s.eta_s,
                     "spend": spent.model_dump(), "cache_hit_rate": cache_hit_rate(spent)}
                    for s, spent in zip(states, spends)])
        return
    for s in states:
        p = s.run.progress
        click.echo(f"{s.run.id}  {s.run.kind:<13} {p.done}/{p.total} done, {p.failed} failed, {p.cancelled} "
                   f"cancelled  {short_spend(engine.spend(ws, s.run))}  {s.run.created}  {s.headline}")


@runs_cmd.command("budget")
@click.argument("run_id")
@click.option("--tokens", type=click.IntRange(1), default=None, help="At most this many tokens (prompt + completion).")
@click.option("--usd", type=click.FloatRange(0, min_open=True), default=None,
              help="At most this much money, priced from the workspace's price table.")
@click.option("--clear", is_flag=True, help="Remove the budget.")
@json_option
@db_option
def runs_budget(run_id: str, tokens: int | None, usd: float | None, clear: bool, as_json: bool) -> None:
    """Set or raise a run's budget (the limits given replace the stored ones); then `trace2skill
    resume RUN` goes on from where the budget stopped it."""
    from trace2skill.runs.clients import client_config
    from trace2skill.store import runs as run_store

    if tokens is None and usd is None and not clear:
        raise InvalidValueError("give the new budget: --tokens N and/or --usd X (or --clear to remove it)")
    ws = open_workspace()
    run = run_store.get_run(ws.db, run_id)
    if usd is not None:
        require_price(ws.db, client_config(run))
    run = engine.set_budget(ws, run.id, tokens=tokens, usd=usd, clear=clear)
    spent = engine.spend(ws, run)
    if as_json:
        print_json({"run": run.id, "status": run.status, "spend": spent.model_dump()}, ws=ws)
        return
    budget = engine.budget_of(run.config)
    click.echo(f"run {run.id}: budget {'none' if budget is None else budget_text(budget)}; spent {spend_line(spent)}")
    if run.status == "stopped":
        click.echo(f"resume it with: trace2skill resume {run.id}", err=True)
    echo_workspace(ws)


@main.command("serve-local-model")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
def serve_local_model(port: int | None) -> None:
    """Serve the embedded SmolLM2 model as an OpenAI-compatible endpoint until Ctrl-C."""
    from trace2skill.llm import serve_forever

    serve_forever(port)
