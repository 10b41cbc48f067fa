"""Evaluation tasks: a prompt with ground truth, loaded from a dataset file or drawn from trajectories.

A dataset file is JSONL, a JSON array, CSV or TSV; a `TaskMapping` says (by dotted path for JSON)
which field holds the id, the question, the gold answer and optional context, or a context *file*
(a path relative to `context_root`, as WikiTableQuestions' table column is), and `answer_pattern`
finds the gold answer inside a worked solution. `WTQ_MAPPING` reads the bundled WikiTableQuestions
sample, `GSM8K_MAPPING` math word problems whose solutions end in "#### <answer>". Bad input raises
`TaskFormatError` naming the file and record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from trace2skill.errors import TaskFormatError
from trace2skill.evaluate.answers import GSM8K_PATTERN, check_pattern, extract_all
from trace2skill.ingest.base import get_path
from trace2skill.models import EvalTask, StoredTrajectory

MAX_CONTEXT_BYTES = 2_000_000


class TaskMapping(BaseModel):
    """Where each record keeps its parts (dotted paths for JSON; column names for CSV/TSV)."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = "question"
    answer: str | None = "answer"
    id: str | None = "id"
    context: str | None = None
    context_file: str | None = None
    context_root: str = "."  # context files are read relative to this folder (relative to the data file)
    answer_separator: str | None = None  # e.g. "|": one text field holds several gold values
    gold: str | None = None  # a field kept whole as ground truth
    wtq_escapes: bool = False  # undo WikiTableQuestions' TSV escapes (\n, \p, \\)
    answer_pattern: str | None = None  # a regex finding the gold answer in a worked solution ("####\s*(.+)$")

    @field_validator("answer_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return check_pattern(value)


WTQ_MAPPING = TaskMapping(prompt="utterance", answer="targetValue", id="id", context_file="context",
                          context_root="..", answer_separator="|", wtq_escapes=True)
GSM8K_MAPPING = TaskMapping(prompt="question", answer="answer", id=None, answer_pattern=GSM8K_PATTERN)
PRESETS = {"wtq": WTQ_MAPPING, "gsm8k": GSM8K_MAPPING}


def _unescape_wtq(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "p": "|", "\\": "\\"}.get(text[i + 1], text[i : i + 2]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFormatError(f"cannot read {path}: {exc}") from None
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        quoting: Literal[0, 1, 2, 3] = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",", quoting=quoting)
        yield from ((n, dict(row)) for n, row in enumerate(reader))
        return
    if suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFormatError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, list):
            raise TaskFormatError(f"{path}: a JSON task file must hold an array of task objects")
        yield from enumerate(data)
        return
    for n, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskFormatError(f"{path}: line {n + 1} is not valid JSON ({exc})") from None


def _field(record: dict[str, Any], path: str | None) -> Any:
    if path is None:
        return None
    return record[path] if path in record else get_path(record, path)


def _read_context(root: Path, rel: str, where: str) -> str:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise TaskFormatError(f"{where}: context file {rel!r} is outside {root}; refused")
    try:
        if target.stat().st_size > MAX_CONTEXT_BYTES:
            raise TaskFormatError(f"{where}: context file {rel} is over {MAX_CONTEXT_BYTES} bytes")
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFormatError(f"{where}: cannot read context file {rel}: {exc}") from None


def _answers(value: Any, m: TaskMapping, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return extract_all([str(v) for v in value], m.answer_pattern, where)
    text = str(value)
    parts = extract_all([text], m.answer_pattern, where)
    parts = [p for part in parts for p in (part.split(m.answer_separator) if m.answer_separator else [part])]
    return [_unescape_wtq(p) if m.wtq_escapes else p for p in parts]


def load_tasks(path: str | Path, mapping: TaskMapping | None = None, *, limit: int | None = None) -> list[EvalTask]:
    """Tasks of a dataset file (see the module docstring); `limit` keeps the first ones."""
    path, m = Path(path), mapping or TaskMapping()
    root = path.parent / m.context_root
    tasks: list[EvalTask] = []
    for n, record in _records(path):
        if limit is not None and len(tasks) >= limit:
            break
        where = f"{path}: record {n}"
        if not isinstance(record, dict):
            raise TaskFormatError(f"{where}: expected an object, got {type(record).__name__}")
        prompt = _field(record, m.prompt)
        if not isinstance(prompt, str) or not prompt.strip():
            raise TaskFormatError(f"{where}: no task text in field {m.prompt!r} (set the mapping's 'prompt')")
        context = _field(record, m.context)
        if m.context_file and _field(record, m.context_file):
            context = _read_context(root, str(_field(record, m.context_file)), where)
        source_id = _field(record, m.id)
        gold = _field(record, m.gold)
        tasks.append(EvalTask(
            prompt=_unescape_wtq(prompt) if m.wtq_escapes else prompt,
            context="" if context is None else context if isinstance(context, str) else json.dumps(context),
            answers=_answers(_field(record, m.answer), m, where),
            gold=gold if isinstance(gold, dict) or gold is None else {"value": gold},
            source=path.name, source_id=None if source_id is None else str(source_id)).with_id())
    if not tasks:
        raise TaskFormatError(f"{path}: no tasks found")
    return tasks


def task_from_trajectory(t: StoredTrajectory, answer_pattern: str | None = None) -> EvalTask:
    """The task of a stored trajectory (as `get_trajectory` returns it) with its ground truth: a
    textual answer ("answer" or τ-bench "outputs") becomes `answers` (found by `answer_pattern` in a
    worked solution, when given); the rest stays in `gold`."""
    truth = t.ground_truth or {}
    answer = truth.get("answer", truth.get("outputs"))
    if answer in (None, [], ""):
        answers = []
    else:
        answers = [str(a) for a in answer] if isinstance(answer, list) else [str(answer)]
        answers = extract_all(answers, check_pattern(answer_pattern), f"trajectory {t.id[:12]}")
    context = t.metadata.get("task_context") if isinstance(t.metadata, dict) else None
    return EvalTask(prompt=t.task or "", context=str(context or ""), answers=answers, gold=truth or None,
                    source=t.source_format,
                    source_id=t.task_id, trajectory_id=t.id).with_id()


def tasks_from_trajectories(db: Any, trajectory_ids: list[str], answer_pattern: str | None = None) -> list[EvalTask]:
    """The distinct tasks of these stored trajectories (runs of one task give one task)."""
    from trace2skill.store.trajectories import get_trajectory

    tasks: dict[str, EvalTask] = {}
    for tid in trajectory_ids:
        task = task_from_trajectory(get_trajectory(db, tid, with_steps=False), answer_pattern)
        tasks.setdefault(task.id, task)
    return list(tasks.values())


def load_mapping(spec: str | None) -> TaskMapping:
    """A mapping from a preset name ("wtq"), a JSON/YAML file, or None (the default mapping)."""
    if spec is None:
        return TaskMapping()
    if spec in PRESETS:
        return PRESETS[spec]
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
        return TaskMapping.model_validate(data)
    except FileNotFoundError:
        raise TaskFormatError(f"no mapping preset or file named {spec!r} (presets: {', '.join(PRESETS)})") from None
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise TaskFormatError(f"mapping {spec}: {exc}") from None
