"""Extraction runs from the command line: extract (with an estimate and a progress bar), runs,
resume, cancel; and serving the embedded local model."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from trace2skill.cli.common import clip, db_option, json_option, main, open_workspace, print_json
from trace2skill.store import Workspace

llm_options = [
    click.option("--base-url", default=None, help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, "
                                                  "else the embedded local model). The key is read from $OPENAI_API_KEY."),
    click.option("--model", default=None, help="Model name (default: $TRACE2SKILL_MODEL, or the local model's)."),
    click.option("--concurrency", default=None, type=click.IntRange(1, 512), help="Analysts at once."),
]


def with_llm_options(func: Any) -> Any:
    for option in reversed(llm_options):
        func = option(func)
    return func


def llm_client(ws: Workspace, base_url: str | None, model: str | None) -> Any:
    from trace2skill.llm import LLMClient, LLMConfig

    return LLMClient(ws, LLMConfig.from_env(base_url=base_url, model=model))


def _run_with_progress(ws: Workspace, run_id: str, total: int, as_json: bool, work: Any) -> dict[str, Any]:
    lock = threading.Lock()
    with click.progressbar(length=total, label=f"run {run_id}", file=sys.stderr,
                           show_pos=True, hidden=as_json) as bar:
        def on_item(_item: str, _status: str) -> None:
            with lock:
                bar.update(1)

        return work(on_item)


def _report(ws: Workspace, run_id: str, progress: dict[str, Any], as_json: bool, extra: dict | None = None) -> None:
    from trace2skill.store import runs as run_store

    run = run_store.get_run(ws.db, run_id)
    if as_json:
        print_json({"run": run_id, "status": run["status"], "progress": progress, **(extra or {})})
        return
    click.echo(f"run {run_id}: {run['status']} - {progress['done']} done, {progress['failed']} failed, "
               f"{progress['cancelled']} cancelled; {progress['prompt_tokens']} prompt + "
               f"{progress['completion_tokens']} completion tokens")
    for item in run_store.list_items(ws.db, run_id, status="failed", limit=20):
        click.echo(f"  failed {item['item_id'][:12]}: {clip(item['error'], 150)}", err=True)
    if progress["failed"]:
        click.echo(f"resume with: trace2skill resume {run_id}", err=True)


@main.command()
@click.option("--outcome", type=click.Choice(["failure", "success", "all"]), default="all", show_default=True)
@click.option("--limit", type=int, default=None, help="At most this many trajectories.")
@click.option("--sample", type=int, default=None, help="A random sample of this many trajectories.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--balance", is_flag=True, help="With --sample: as many failures as successes.")
@click.option("--max-lessons", type=click.IntRange(1, 5), default=3, show_default=True)
@click.option("--max-tokens", type=int, default=1024, show_default=True, help="Per answer.")
@click.option("--estimate", "estimate_only", is_flag=True, help="Print the token/cost estimate and stop.")
@with_llm_options
@json_option
@db_option
def extract(outcome: str, limit: int | None, sample: int | None, seed: int, balance: bool, max_lessons: int,
            max_tokens: int, estimate_only: bool, base_url: str | None, model: str | None,
            concurrency: int | None, as_json: bool, db_path: str | None) -> None:
    """Run the analysts over trajectories (failures -> error analyst, successes -> success analyst)."""
    from trace2skill.analysis.fleet import (ExtractionConfig, create_extraction_run, estimate, execute_run,
                                            select_trajectories)
    from trace2skill.llm import LLMConfig

    ws = open_workspace(db_path)
    ids = select_trajectories(ws, outcome=outcome, limit=limit, sample=sample, seed=seed, balance=balance)
    llm = LLMConfig.from_env(base_url=base_url, model=model)
    config = ExtractionConfig(outcome=outcome, max_lessons=max_lessons, concurrency=concurrency or 8,
                              max_tokens=max_tokens, model=llm.model, base_url=llm.base_url)
    prices = (llm.price_prompt_per_1k or 0.0, llm.price_completion_per_1k or 0.0)
    plan = estimate(ws, ids, config, price_per_1k=prices)
    if estimate_only:
        print_json(plan) if as_json else click.echo(
            f"{plan['calls']} analyst calls over {plan['trajectories']} trajectories: about "
            f"{plan['prompt_tokens']} prompt tokens, at most {plan['max_completion_tokens']} completion tokens"
            + (f", about ${plan['estimated_cost_usd']}" if any(prices) else ""))
        return
    if not as_json:
        click.echo(f"{len(ids)} trajectories, ~{plan['prompt_tokens']} prompt tokens; model {llm.describe()}",
                   err=True)
    run_id = create_extraction_run(ws, ids, config)
    client = llm_client(ws, base_url, model)
    progress = _run_with_progress(ws, run_id, len(ids), as_json,
                                  lambda on_item: execute_run(ws, run_id, client, on_item=on_item))
    _report(ws, run_id, progress, as_json, {"estimate": plan})


@main.command()
@click.argument("run_id")
@click.option("--keep-failed", is_flag=True, help="Only finish what never ran; leave failed items failed.")
@with_llm_options
@json_option
@db_option
def resume(run_id: str, keep_failed: bool, base_url: str | None, model: str | None, concurrency: int | None,
           as_json: bool, db_path: str | None) -> None:
    """Finish an interrupted or partly failed run (extraction, consolidation or evaluation); finished
    work is kept."""
    from trace2skill.analysis.fleet import resume_run
    from trace2skill.store import runs as run_store

    ws = open_workspace(db_path)
    run = run_store.get_run(ws.db, run_id)
    if run["kind"] == "evaluation":
        from trace2skill.cli.evaluate import resume_evaluation_run

        resume_evaluation_run(ws, run, keep_failed, base_url, model, concurrency, as_json)
        return
    client = llm_client(ws, base_url or run["config"].get("base_url"), model or run["config"].get("model"))
    if run["kind"] == "consolidation":
        from trace2skill.consolidate.run import execute_consolidation

        run_store.requeue(ws.db, run_id, failed=not keep_failed)
        result = execute_consolidation(ws, run_id, client)
        print_json(result.as_dict()) if as_json else click.echo(
            f"run {run_id}: proposal {result.version} ({result.levels} levels, {result.merge_calls} merge calls)")
        return
    remaining = run["progress"]["total"] - run["progress"]["done"]
    progress = _run_with_progress(ws, run_id, remaining, as_json, lambda on_item: resume_run(
        ws, run_id, client, retry_failed=not keep_failed, on_item=on_item, concurrency=concurrency))
    _report(ws, run_id, progress, as_json)


@main.command()
@click.argument("run_id")
@db_option
def cancel(run_id: str, db_path: str | None) -> None:
    """Ask a run to stop (items already running finish; the rest are marked cancelled)."""
    from trace2skill.analysis.fleet import cancel_run

    cancel_run(open_workspace(db_path), run_id)
    click.echo(f"run {run_id} cancelled; resume it with: trace2skill resume {run_id}")


@main.command()
@click.option("--kind", type=click.Choice(["extraction", "consolidation", "evaluation"]), default=None)
@click.option("--limit", default=20, show_default=True)
@json_option
@db_option
def runs(kind: str | None, limit: int, as_json: bool, db_path: str | None) -> None:
    """Recent runs with their progress."""
    from trace2skill.store import runs as run_store

    rows = run_store.list_runs(open_workspace(db_path).db, kind=kind, limit=limit)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        p = r["progress"]
        click.echo(f"{r['id']}  {r['kind']:<13} {r['status']:<9} {p['done']}/{p['total']} done, "
                   f"{p['failed']} failed  {r['created']}")


@main.command("serve-local-model")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
def serve_local_model(port: int | None) -> None:
    """Serve the embedded SmolLM2 model as an OpenAI-compatible endpoint until Ctrl-C."""
    from trace2skill.llm import serve_forever

    serve_forever(port)
