"""The evaluation tasks of `trace2skill evaluate`: from a task file (with a mapping and an answer
pattern), from held-out trajectories or a stored set; the preview of their gold answers; and the
documentation of the task-file keys its --help shows."""

from __future__ import annotations

from typing import Any

import click

from trace2skill.cli.common import clip, print_json
from trace2skill.errors import Trace2SkillError
from trace2skill.models import EvalTask
from trace2skill.store import Workspace
from trace2skill.store.trajectories import TrajectoryFilter

FILTER_KEYS = ("outcome", "source_format", "model", "task_id", "task_contains", "signal", "search")


def parse_filter(text: str) -> TrajectoryFilter:
    """"all", or comma-separated key=value pairs over FILTER_KEYS (e.g. "outcome=success,model=gpt-4o")."""
    if text.strip() in ("", "all"):
        return TrajectoryFilter()
    values: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in FILTER_KEYS:
            raise Trace2SkillError(f"bad trajectory filter {part!r}: use key=value with keys {', '.join(FILTER_KEYS)}")
        values[key] = value.strip()
    return TrajectoryFilter(**values)


PREVIEW_TASKS = 10
TASK_FILE_HELP = """\b
Task files (--tasks): JSONL, a JSON array, CSV or TSV, one task a record. A mapping (--mapping: a
preset, or a YAML/JSON file) names where each record keeps its parts, as dotted paths (JSON) or
column names (CSV/TSV):
  prompt            the question (default: question)
  answer            the gold answer: a text or a list of texts (default: answer)
  id                the task's id in the file (default: id; null for none)
  context           data shown with the question, e.g. a table
  context_file      a file holding that data, relative to context_root
  context_root      where context files are (default: the task file's folder)
  answer_separator  splits one text into several gold values, e.g. "|"
  gold              a field kept whole as ground truth (for a command evaluator)
  answer_pattern    a regular expression that finds the gold answer inside a
                    worked solution (its first group; the last match counts)
Presets: wtq (the bundled WikiTableQuestions sample), gsm8k (question/answer
records whose answer is a worked solution ending in "#### <answer>").

\b
Example, math word problems whose gold answer ends a worked solution:
  {"question": "Tom has 3 boxes of 6 eggs. How many eggs?",
   "answer": "3 boxes x 6 eggs = 18 eggs.\\n#### 18"}
with the mapping file
  prompt: question
  answer: answer
  id: null
  answer_pattern: '####\\s*(.+)$'
(or --mapping gsm8k). Check what will be scored with --preview: it lists the
tasks and their gold answers, warns about gold answers that look like whole
solutions, and runs nothing."""


def load_eval_tasks(ws: Workspace, tasks_file: str | None, mapping: str | None, limit: int | None,
                    from_trajectories: str | None, task_set: str | None,
                    answer_pattern: str | None) -> tuple[list[EvalTask], str, bool]:
    """The evaluation tasks, the name of their set, and whether they are stored already (--set)."""
    from trace2skill.evaluate import heldout_ids, load_mapping, load_tasks, tasks_from_trajectories
    from trace2skill.evaluate.answers import check_pattern
    from trace2skill.store import evaluation as eval_store
    from trace2skill.store.trajectories import trajectory_ids

    if sum(x is not None for x in (tasks_file, from_trajectories, task_set)) != 1:
        raise Trace2SkillError("give exactly one of --tasks FILE, --from-trajectories FILTER or --set NAME")
    check_pattern(answer_pattern)
    if task_set:
        if answer_pattern:
            raise Trace2SkillError("--answer-pattern reads gold answers from --tasks or --from-trajectories; "
                                   f"the stored set {task_set!r} has its answers already")
        ids = eval_store.set_task_ids(ws.db, task_set)
        return eval_store.get_tasks(ws.db, ids[:limit] if limit else ids), task_set, True
    if tasks_file:
        from pathlib import Path

        m = load_mapping(mapping)
        m = m.model_copy(update={"answer_pattern": answer_pattern}) if answer_pattern else m
        name = Path(tasks_file).name + (f" (first {limit})" if limit else "")
        return load_tasks(tasks_file, m, limit=limit), name, False
    held = heldout_ids(ws.db)
    ids = [i for i in trajectory_ids(ws.db, parse_filter(from_trajectories or "")) if i in held]
    if not ids:
        raise Trace2SkillError(f"no held-out trajectory matches {from_trajectories!r}; hold some out first "
                               "(trace2skill split random --heldout 0.2)")
    tasks = tasks_from_trajectories(ws.db, ids, answer_pattern)
    return tasks[:limit] if limit else tasks, f"held-out trajectories: {from_trajectories}", False


def preview_tasks(tasks: list[EvalTask], name: str, warnings: list[str], as_json: bool) -> None:
    """The tasks and the gold answers they will be scored against; nothing is stored or run."""
    if as_json:
        shown = [{"id": t.id, "source_id": t.source_id, "prompt": t.prompt, "answers": t.answers}
                 for t in tasks[:PREVIEW_TASKS]]
        print_json({"task_set": name, "tasks": len(tasks), "preview": shown, "warnings": warnings})
        return
    click.echo(f"{len(tasks)} tasks from {name}; the gold answers they are scored against:")
    for n, task in enumerate(tasks[:PREVIEW_TASKS], start=1):
        gold = " | ".join(" ".join(a.split()) for a in task.answers) or "(none)"
        click.echo(f"  {n:>3}. {clip(task.prompt, 60):<60}  gold: {clip(gold, 60)}")
    if len(tasks) > PREVIEW_TASKS:
        click.echo(f"  ... and {len(tasks) - PREVIEW_TASKS} more")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
