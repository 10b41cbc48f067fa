"""`trace2skill evaluate` (held-out A/B and ablation of skill versions), `split` (evolve/held-out),
`leakage` and `eval-report`."""

from __future__ import annotations

from typing import Any

import click

from trace2skill.cli.common import clip, db_option, json_option, main, open_workspace, print_json
from trace2skill.cli.runs import _run_with_progress, with_llm_options
from trace2skill.errors import Trace2SkillError
from trace2skill.store import Workspace
from trace2skill.store.trajectories import TrajectoryFilter

FILTER_KEYS = ("outcome", "source_format", "model", "task_id", "task_contains", "signal", "search")


def parse_filter(text: str) -> TrajectoryFilter:
    """"all", or comma-separated key=value pairs over FILTER_KEYS (e.g. "outcome=success,model=gpt-4o")."""
    if text.strip() in ("", "all"):
        return TrajectoryFilter()
    values: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in FILTER_KEYS:
            raise Trace2SkillError(f"bad trajectory filter {part!r}: use key=value with keys {', '.join(FILTER_KEYS)}")
        values[key] = value.strip()
    return TrajectoryFilter(**values)


def _task_ids(ws: Workspace, tasks_file: str | None, mapping: str | None, limit: int | None,
              from_trajectories: str | None, task_set: str | None) -> tuple[list[str], str]:
    from trace2skill.evaluate import heldout_ids, load_mapping, load_tasks, tasks_from_trajectories
    from trace2skill.store import evaluation as eval_store
    from trace2skill.store.trajectories import trajectory_ids

    if sum(x is not None for x in (tasks_file, from_trajectories, task_set)) != 1:
        raise Trace2SkillError("give exactly one of --tasks FILE, --from-trajectories FILTER or --set NAME")
    if task_set:
        ids = eval_store.set_task_ids(ws.db, task_set)
        return ids[:limit] if limit else ids, task_set
    if tasks_file:
        from pathlib import Path

        tasks = load_tasks(tasks_file, load_mapping(mapping), limit=limit)
        name = Path(tasks_file).name + (f" (first {limit})" if limit else "")
        return eval_store.save_tasks(ws.db, tasks, name), name
    held = heldout_ids(ws.db)
    ids = [i for i in trajectory_ids(ws.db, parse_filter(from_trajectories or "")) if i in held]
    if not ids:
        raise Trace2SkillError(f"no held-out trajectory matches {from_trajectories!r}; hold some out first "
                               "(trace2skill split random --heldout 0.2)")
    tasks = tasks_from_trajectories(ws.db, ids)[:limit] if limit else tasks_from_trajectories(ws.db, ids)
    name = f"held-out trajectories: {from_trajectories}"
    return eval_store.save_tasks(ws.db, tasks, name), name


def _client(ws: Workspace, evaluator: str, base_url: str | None, model: str | None,
            temperature: float | None) -> Any:
    if evaluator != "qa":
        return None
    from trace2skill.llm import LLMClient, LLMConfig

    extra = {"temperature": temperature} if temperature is not None else {}
    return LLMClient(ws, LLMConfig.from_env(base_url=base_url, model=model, **extra))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def echo_result(result: Any) -> None:
    for side in (result.candidate, result.baseline):
        click.echo(f"{side.arm:<5} {side.label:<28} {_pct(side.mean)} ± {_pct(side.std)}  "
                   f"(repeats: {', '.join(_pct(r) for r in side.per_repeat) or '-'})")
    click.echo(f"delta {100 * result.delta:+.1f} points over {result.tasks} tasks x {result.repeats} repeats; "
               f"run {result.run_id} {result.status}{'' if result.complete else ' (incomplete)'}")
    for flip in result.flips[:30]:
        click.echo(f"  {flip.direction}  {flip.baseline_rate:.2f} -> {flip.candidate_rate:.2f}  "
                   f"{clip(flip.prompt, 70)}  gold: {clip(' | '.join(flip.answers), 30)}  "
                   f"answers: {clip(' / '.join(flip.candidate_answers), 40)}")
    if len(result.flips) > 30:
        click.echo(f"  ... and {len(result.flips) - 30} more flips (see --json)")


def report_run(ws: Workspace, run_id: str, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from trace2skill.evaluate import ab_result, ablation_report
    from trace2skill.store import runs as run_store

    run = run_store.get_run(ws.db, run_id)
    result = ab_result(ws.db, run_id)
    ablation = ablation_report(ws.db, run_id) if run["config"].get("purpose") == "ablation" else None
    if as_json:
        print_json({**(extra or {}), "run": run_id, "status": run["status"], "progress": run["progress"],
                    "result": result.as_dict(), **({"ablation": ablation} if ablation else {})})
        return
    echo_result(result)
    for group in (ablation or {}).get("groups", []):
        click.echo(f"  group {clip(group['group'], 50):<50} {group['edits']} edits: without it {_pct(group['mean'])}, "
                   f"effect {100 * group['effect']:+.1f} points")
    for item in run_store.list_items(ws.db, run_id, status="failed", limit=10):
        click.echo(f"  failed {item['item_id'][:30]}: {clip(item['error'], 150)}", err=True)
    if run["progress"]["failed"] or run["status"] == "cancelled":
        click.echo(f"resume with: trace2skill resume {run_id}", err=True)


@main.command()
@click.option("--tasks", "tasks_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Task file (JSONL, JSON, CSV or TSV) with gold answers.")
@click.option("--mapping", default=None, help="Field mapping for --tasks: a preset (wtq) or a JSON/YAML file.")
@click.option("--from-trajectories", default=None, metavar="FILTER",
              help='Held-out trajectories as tasks: "all" or key=value,... (outcome, source_format, model, '
                   "task_id, task_contains, signal, search).")
@click.option("--set", "task_set", default=None, help="A stored evaluation set, by name.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N tasks.")
@click.option("--skill", "skill", required=True, help="The skill version to evaluate (skill name: its latest).")
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
@with_llm_options
@json_option
@db_option
def evaluate(tasks_file: str | None, mapping: str | None, from_trajectories: str | None, task_set: str | None,
             limit: int | None, skill: str, vs: str | None, ablate: bool, repeats: int, evaluator: str,
             command: str | None, timeout: float, tolerance: float, temperature: float | None,
             base_url: str | None, model: str | None, concurrency: int | None, as_json: bool,
             db_path: str | None) -> None:
    """A/B a skill version against another (or no skill) on held-out tasks, k repeats each."""
    from trace2skill.evaluate import (NO_SKILL, EvalConfig, execute_evaluation, resolve_version, start_ab_run,
                                      start_ablation)
    from trace2skill.llm import LLMConfig
    from trace2skill.store import runs as run_store
    from trace2skill.store.skills import get_version

    ws = open_workspace(db_path)
    candidate = resolve_version(ws.db, skill)
    task_ids, set_name = _task_ids(ws, tasks_file, mapping, limit, from_trajectories, task_set)
    llm = LLMConfig.from_env(base_url=base_url, model=model)
    config = EvalConfig(evaluator=evaluator, repeats=repeats, command=command,  # type: ignore[arg-type]
                        timeout_s=timeout,
                        tolerance=tolerance, concurrency=concurrency or 4, base_url=llm.base_url, model=llm.model,
                        temperature=temperature, task_set=set_name)
    if ablate:
        run_id = start_ablation(ws, candidate, task_ids, config)
    else:
        if vs is None:
            baseline = get_version(ws.db, candidate)["parent"]
        else:
            baseline = None if vs == NO_SKILL else resolve_version(ws.db, vs)
        run_id = start_ab_run(ws, candidate, baseline, task_ids, config)
    client = _client(ws, evaluator, base_url, model, temperature)
    total = run_store.run_progress(ws.db, run_id)["total"]
    if not as_json:
        click.echo(f"evaluation run {run_id}: {len(task_ids)} tasks from {set_name}", err=True)
    _run_with_progress(ws, run_id, total, as_json, lambda on_item: execute_evaluation(ws, run_id, client,
                                                                                      on_item=on_item))
    report_run(ws, run_id, as_json, {"tasks": len(task_ids), "task_set": set_name})


def resume_evaluation_run(ws: Workspace, run: dict[str, Any], keep_failed: bool, base_url: str | None,
                          model: str | None, concurrency: int | None, as_json: bool) -> None:
    """`trace2skill resume` for an evaluation run."""
    from trace2skill.evaluate import resume_evaluation

    config = run["config"]
    client = _client(ws, config["evaluator"], base_url or config.get("base_url"), model or config.get("model"),
                     config.get("temperature"))
    remaining = run["progress"]["total"] - run["progress"]["done"]
    _run_with_progress(ws, run["id"], remaining, as_json, lambda on_item: resume_evaluation(
        ws, run["id"], client, retry_failed=not keep_failed, on_item=on_item, concurrency=concurrency))
    report_run(ws, run["id"], as_json)


@main.command("eval-report")
@click.argument("run_id")
@json_option
@db_option
def eval_report(run_id: str, as_json: bool, db_path: str | None) -> None:
    """Scores and flipped tasks of an evaluation run."""
    report_run(open_workspace(db_path), run_id, as_json)


@main.command()
@click.option("--skill", default=None, help="Also check this skill version's files.")
@click.option("--ngram", type=click.IntRange(3, 50), default=8, show_default=True,
              help="Shared word run that counts as a leak.")
@json_option
@db_option
def leakage(skill: str | None, ngram: int, as_json: bool, db_path: str | None) -> None:
    """Held-out task text found in lessons (and in a skill version)."""
    from trace2skill.evaluate import check_leakage, resolve_version

    ws = open_workspace(db_path)
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
def split() -> None:
    """The evolve/held-out split of trajectories (held-out ones are never given to extraction)."""


@split.command("random")
@click.option("--heldout", "fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), required=True,
              help="Share of the tasks to hold out (every run of a task goes to the same side).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--filter", "flt", default="all", show_default=True, help="Only these trajectories (key=value,...).")
@json_option
@db_option
def split_random(fraction: float, seed: int, flt: str, as_json: bool, db_path: str | None) -> None:
    """Hold out a random share of the tasks; mark the rest evolve."""
    from trace2skill.evaluate import random_split

    counts = random_split(open_workspace(db_path).db, fraction, seed=seed, flt=parse_filter(flt))
    print_json(counts) if as_json else click.echo(
        f"{counts['heldout']} trajectories ({counts['heldout_tasks']} tasks) held out, "
        f"{counts['evolve']} ({counts['evolve_tasks']} tasks) evolve")


def _mark(ids: tuple[str, ...], which: str, db_path: str | None) -> None:
    from trace2skill.evaluate import set_split
    from trace2skill.store.trajectories import get_trajectory

    db = open_workspace(db_path).db
    full = [get_trajectory(db, i, with_steps=False)["id"] for i in ids]
    n = set_split(db, full, which)  # type: ignore[arg-type]
    click.echo(f"{n} trajectories (every run of their tasks) marked {which}")


@split.command("heldout")
@click.argument("ids", nargs=-1, required=True)
@db_option
def split_heldout(ids: tuple[str, ...], db_path: str | None) -> None:
    """Hold out these trajectories (ids or prefixes) and every other run of their tasks."""
    _mark(ids, "heldout", db_path)


@split.command("evolve")
@click.argument("ids", nargs=-1, required=True)
@db_option
def split_evolve(ids: tuple[str, ...], db_path: str | None) -> None:
    """Put these trajectories (and every other run of their tasks) on the evolve side."""
    _mark(ids, "evolve", db_path)


@split.command("show")
@json_option
@db_option
def split_show(as_json: bool, db_path: str | None) -> None:
    """How many trajectories are on each side, and the evaluation sets."""
    from trace2skill.store import evaluation as eval_store

    db = open_workspace(db_path).db
    data = {"trajectories": eval_store.split_counts(db), "sets": eval_store.list_sets(db)}
    if as_json:
        print_json(data)
        return
    click.echo(f"held out: {data['trajectories']['heldout']} trajectories; "
               f"evolve (marked): {data['trajectories']['evolve']}")
    for s in data["sets"]:
        click.echo(f"  set {s['name']}: {s['tasks']} tasks")
