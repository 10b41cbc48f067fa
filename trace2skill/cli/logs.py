"""`trace2skill logs`: the LLM call log — every request sent (prompt, answer, tokens, latency,
error) and every answer a run took from the cache — by run and by trajectory, newest first."""

from __future__ import annotations

import click

from trace2skill.cli.common import clip, db_option, json_option, main, open_workspace, print_json
from trace2skill.models import LLMCall


def _line(call: LLMCall) -> str:
    tokens = f"{call.usage.get('prompt_tokens', 0)}+{call.usage.get('completion_tokens', 0)} tokens"
    if call.usage.get("cached_tokens"):  # the part of the prompt the endpoint served from its prompt cache
        tokens += f" ({call.usage['cached_tokens']} cached)"
    how = "cache hit" if call.cached else (f"{call.latency_s:.2f} s" if call.latency_s is not None else "-")
    outcome = f"ERROR {clip(call.error, 80)}" if call.error else "ok"
    return f"{call.created}  {call.run_id or '-'}  {call.item_id or '-'}  {call.model}  {tokens}  {how}  {outcome}"


def _body(call: LLMCall, full: bool, width: int) -> list[str]:
    prompt, answer = call.prompt, call.error or call.answer
    if not full:
        prompt, answer = clip(prompt, width), clip(answer, width)
    return [f"  prompt: {prompt}", f"  answer: {answer}"]


@main.command()
@click.option("--run", "run_id", default=None, help="Only this run's calls (an id or an unambiguous prefix).")
@click.option("--trajectory", "item_id", default=None,
              help="Only calls made for this trajectory (or other run item, e.g. an evaluation task).")
@click.option("--errors", "errors_only", is_flag=True, help="Only requests that failed.")
@click.option("--limit", "-n", type=click.IntRange(1), default=20, show_default=True)
@click.option("--full", is_flag=True, help="Print whole prompts and answers (default: one line each).")
@click.option("--width", type=click.IntRange(20), default=160, show_default=True, help="Characters per shown text.")
@json_option
@db_option
def logs(run_id: str | None, item_id: str | None, errors_only: bool, limit: int, full: bool, width: int,
         as_json: bool) -> None:
    """The LLM call log, newest first: prompt, answer, tokens, latency, cache hit, error."""
    from trace2skill.store.calls import list_calls
    from trace2skill.store.runs import resolve_run_id

    ws = open_workspace()
    if run_id is not None:
        run_id = resolve_run_id(ws.db, run_id)
    calls = list_calls(ws.db, run_id=run_id, item_id=item_id, errors_only=errors_only, limit=limit)
    if as_json:
        print_json([{**c.model_dump(), "prompt": c.prompt, "answer": c.answer} for c in calls])
        return
    if not calls:
        click.echo("no calls logged" + (f" for run {run_id}" if run_id else "") + (
            f" for {item_id}" if item_id else ""), err=True)
        return
    for call in calls:
        click.echo(_line(call))
        for line in _body(call, full, width):
            click.echo(line)
