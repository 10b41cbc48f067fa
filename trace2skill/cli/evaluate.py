"""`trace2skill evaluate` (held-out A/B and ablation of skill versions), `split` (evolve/held-out),
`leakage` and `eval-report`."""

from __future__ import annotations

from typing import Any

import click

from trace2skill.cli.common import (
    cli_llm_client,
    cli_llm_config,
    cli_reviewer,
    clip,
    db_option,
    echo_workspace,
    json_option,
    main,
    open_workspace,
    print_json,
)
from trace2skill.cli.eval_tasks import TASK_FILE_HELP, load_eval_tasks, parse_filter, preview_tasks
from trace2skill.cli.runs import apply_budget, execute_with_progress, report, with_budget_options, with_llm_options
from trace2skill.context_window import ANSWER_TOKENS
from trace2skill.errors import Trace2SkillError
from trace2skill.store import Workspace


def _client(ws: Workspace, evaluator: str, base_url: str | None, model: str | None,
            temperature: float | None) -> Any:
    if evaluator != "qa":
        return None
    extra = {"temperature": temperature} if temperature is not None else {}
    return cli_llm_client(ws, base_url, model, **extra)


@main.command(epilog=TASK_FILE_HELP)
@click.option("--tasks", "tasks_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Task file (JSONL, JSON, CSV or TSV) with gold answers (its keys: see below).")
@click.option("--mapping", default=None,
              help="Field mapping for --tasks: a preset (wtq, gsm8k) or a JSON/YAML file (keys: see below).")
@click.option("--answer-pattern", default=None, metavar="REGEX",
              help="Find the gold answer inside a worked solution (its first group), for --tasks (over the "
                   "mapping's) or --from-trajectories, e.g. '####\\s*(.+)$'.")
@click.option("--preview", is_flag=True,
              help="Only list the tasks and the gold answers they would be scored against (with warnings); "
                   "run nothing.")
@click.option("--from-trajectories", default=None, metavar="FILTER",
              help='Held-out trajectories as tasks: "all" or key=value,... (outcome, source_format, model, '
                   "task_id, task_contains, signal, search).")
@click.option("--set", "task_set", default=None, help="A stored evaluation set, by name.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N tasks.")
@click.option("--skill", "skill", default=None,
              help="The skill version to evaluate (skill name: its latest). Required unless --preview.")
@click.option("--vs", "vs", default=None, help='Compare against this version, or "none" (default: its parent).')
@click.option("--ablate", is_flag=True, help="Ablation: evaluate the proposal without each group of its edits.")
@click.option("--repeats", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--evaluator", type=click.Choice(["qa", "command"]), default="qa", show_default=True)
@click.option("--command", "command", default=None,
              help="Evaluator command (run without a shell): {skill} {tasks} {output} {repeat} are replaced; "
                   "without them the skill folder, tasks JSONL and results JSON paths are appended.")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds per command run.")
@click.option("--tolerance", type=float, default=0.0, show_default=True, help="Relative numeric tolerance (QA).")
@click.option("--temperature", type=click.FloatRange(0, 2), default=None, help="Sampling temperature (QA).")
@click.option("--answer-tokens", type=click.IntRange(16, 65536), default=ANSWER_TOKENS, show_default=True,
              help="Tokens per QA answer, the model's working included (multi-step problems need room).")
@with_llm_options
@with_budget_options
@json_option
@db_option
def evaluate(tasks_file: str | None, mapping: str | None, answer_pattern: str | None, preview: bool,
             from_trajectories: str | None, task_set: str | None,
             limit: int | None, skill: str | None, vs: str | None, ablate: bool, repeats: int, evaluator: str,
             command: str | None, timeout: float, tolerance: float, temperature: float | None, answer_tokens: int,
             base_url: str | None, model: str | None, concurrency: int | None, budget_tokens: int | None,
             budget_usd: float | None, as_json: bool) -> None:
    """A/B a skill version against another (or no skill) on held-out tasks, k repeats each.

    The built-in QA evaluator lets the model work the problem out, then scores its final answer
    against the gold answer (numbers compare as numbers: 18 = 18.0 = $18 = "18 dollars")."""
    from trace2skill.costs import require_price
    from trace2skill.evaluate import NO_SKILL, EvalConfig, resolve_version, start_ab_run, start_ablation
    from trace2skill.evaluate.answers import gold_warnings
    from trace2skill.store import evaluation as eval_store
    from trace2skill.store.skills import get_version

    ws = open_workspace()
    tasks, set_name, stored = load_eval_tasks(ws, tasks_file, mapping, limit, from_trajectories, task_set,
                                              answer_pattern)
    warnings = gold_warnings(tasks) if evaluator == "qa" or preview else []
    if preview:
        preview_tasks(tasks, set_name, warnings, as_json)
        return
    if not skill:
        raise Trace2SkillError("evaluate needs --skill NAME|VERSION (or --preview, to only look at the tasks)")
    candidate = resolve_version(ws.db, skill)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    task_ids = [t.id for t in tasks] if stored else eval_store.save_tasks(ws.db, tasks, set_name)
    llm = cli_llm_config(ws, base_url, model)
    config = EvalConfig(evaluator=evaluator, repeats=repeats, command=command,  # type: ignore[arg-type]
                        timeout_s=timeout, max_tokens=answer_tokens,
                        tolerance=tolerance, concurrency=concurrency or 4, base_url=llm.base_url, model=llm.model,
                        temperature=temperature, task_set=set_name)
    if budget_usd is not None and evaluator == "qa":
        require_price(ws.db, llm)
    if ablate:
        run_id = start_ablation(ws, candidate, task_ids, config)
    else:
        if vs is None:
            baseline = get_version(ws.db, candidate).parent
        else:
            baseline = None if vs == NO_SKILL else resolve_version(ws.db, vs)
        run_id = start_ab_run(ws, candidate, baseline, task_ids, config)
    apply_budget(ws, run_id, budget_tokens, budget_usd)
    client = _client(ws, evaluator, base_url, model, temperature)
    if not as_json:
        click.echo(f"evaluation run {run_id}: {len(task_ids)} tasks from {set_name}", err=True)
    run = execute_with_progress(ws, run_id, client, as_json=as_json)
    report(ws, run, as_json, {"tasks": len(task_ids), "task_set": set_name, "warnings": warnings})


@main.command("eval-report")
@click.argument("run_id")
@json_option
@db_option
def eval_report(run_id: str, as_json: bool) -> None:
    """Scores and flipped tasks of an evaluation run."""
    from trace2skill import runs
    from trace2skill.store.runs import get_run

    ws = open_workspace()
    run = get_run(ws.db, run_id)
    if run.kind != "evaluation":
        raise Trace2SkillError(f"run {run.id} is a {run.kind} run, not an evaluation")
    lines, data = runs.get_kind(run.kind).report(ws, run)
    if as_json:
        print_json({"run": run.id, "status": run.status, "progress": run.progress.model_dump(), **data})
        return
    for line in lines:
        click.echo(line)


@main.command()
@click.option("--skill", default=None, help="Also check this skill version's files.")
@click.option("--ngram", type=click.IntRange(3, 50), default=8, show_default=True,
              help="Shared word run that counts as a leak.")
@json_option
@db_option
def leakage(skill: str | None, ngram: int, as_json: bool) -> None:
    """Held-out task text found in lessons (and in a skill version)."""
    from trace2skill.evaluate import check_leakage, resolve_version

    ws = open_workspace()
    report = check_leakage(ws.db, version_id=resolve_version(ws.db, skill) if skill else None, ngram=ngram)
    if as_json:
        print_json(report.as_dict())
        return
    click.echo(f"{report.heldout_tasks} held-out tasks; checked {', '.join(report.checked)}: "
               f"{len(report.findings)} findings")
    for f in report.findings[:50]:
        click.echo(f"  {f.kind:<14} {f.where}: {clip(f.match, 80)}  <- {f.task}")
    if report.findings:
        raise SystemExit(1)


@main.group()
@db_option
def split() -> None:
    """The evolve/held-out split of trajectories (held-out ones are never given to extraction)."""


@split.command("random")
@click.option("--heldout", "fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), required=True,
              help="Share of the tasks to hold out (every run of a task goes to the same side).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--filter", "flt", default="all", show_default=True, help="Only these trajectories (key=value,...).")
@json_option
@db_option
def split_random(fraction: float, seed: int, flt: str, as_json: bool) -> None:
    """Hold out a random share of the tasks; mark the rest evolve."""
    from trace2skill.evaluate import random_split

    ws = open_workspace()
    counts = random_split(ws.db, fraction, seed=seed, flt=parse_filter(flt), actor=cli_reviewer())
    print_json(counts, ws=ws) if as_json else click.echo(
        f"{counts['heldout']} trajectories ({counts['heldout_tasks']} tasks) held out, "
        f"{counts['evolve']} ({counts['evolve_tasks']} tasks) evolve")
    echo_workspace(ws, as_json=as_json)


def _mark(ids: tuple[str, ...], which: str) -> None:
    from trace2skill.evaluate import set_split
    from trace2skill.store.trajectories import get_trajectory

    ws = open_workspace()
    full = [get_trajectory(ws.db, i, with_steps=False).id for i in ids]
    n = set_split(ws.db, full, which, actor=cli_reviewer())  # type: ignore[arg-type]
    click.echo(f"{n} trajectories (every run of their tasks) marked {which}")
    echo_workspace(ws)


@split.command("heldout")
@click.argument("ids", nargs=-1, required=True)
@db_option
def split_heldout(ids: tuple[str, ...]) -> None:
    """Hold out these trajectories (ids or prefixes) and every other run of their tasks."""
    _mark(ids, "heldout")


@split.command("evolve")
@click.argument("ids", nargs=-1, required=True)
@db_option
def split_evolve(ids: tuple[str, ...]) -> None:
    """Put these trajectories (and every other run of their tasks) on the evolve side."""
    _mark(ids, "evolve")


@split.command("show")
@json_option
@db_option
def split_show(as_json: bool) -> None:
    """How many trajectories are on each side, and the evaluation sets."""
    from trace2skill.store import evaluation as eval_store

    db = open_workspace().db
    data: dict[str, Any] = {"trajectories": eval_store.split_counts(db), "sets": eval_store.list_sets(db)}
    if as_json:
        print_json(data)
        return
    click.echo(f"held out: {data['trajectories']['heldout']} trajectories; "
               f"evolve (marked): {data['trajectories']['evolve']}")
    for s in data["sets"]:
        click.echo(f"  set {s['name']}: {s['tasks']} tasks")
