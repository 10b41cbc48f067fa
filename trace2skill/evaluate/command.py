"""The command evaluator: a user command (a real agent harness) runs every task with the skill and
writes which tasks passed.

The command line is split like a shell would (`shlex`) but run without one, so nothing in a path or
task can inject commands. In its arguments, `{skill}`, `{tasks}`, `{output}` and `{repeat}` are
replaced by the skill folder, the tasks file, the results file to write and the 0-based repeat; when
none of the first three appears, the three paths are appended in that order. The same values are in
the environment as T2S_SKILL_DIR, T2S_TASKS_FILE, T2S_OUTPUT_FILE, T2S_REPEAT; T2S_NO_SKILL=1 (and an
empty skill folder) marks the "no skill" arm.

Tasks file: JSONL, one object per task: id, prompt, context, answers, gold.
Results file: JSON, either an object {task_id: true/false | {"passed": bool, "answer": ..., "detail": ...}}
or a list of {"id": task_id, "passed": bool, ...} (also under a "results" key). Every task must get
a result. A non-zero exit, a timeout (the whole process group is killed) or a bad results file raises
`EvaluatorError` saying what went wrong.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from trace2skill.errors import EvaluatorError
from trace2skill.evaluate.evaluators import TaskResult
from trace2skill.models import EvalTask
from trace2skill.skill.archive import write_dir
from trace2skill.skill.folder import SkillFolder
from trace2skill.textcut import cut_words

STDERR_TAIL = 1500


def build_argv(command: str, values: dict[str, str]) -> list[str]:
    """The argument list: `command` split shell-style, placeholders replaced (see module docstring)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise EvaluatorError(f"cannot parse the evaluator command {command!r}: {exc}") from None
    if not argv:
        raise EvaluatorError("the evaluator command is empty")
    used = any(f"{{{k}}}" in arg for arg in argv for k in ("skill", "tasks", "output"))
    out = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace(f"{{{key}}}", value)
        out.append(arg)
    return out if used else out + [values["skill"], values["tasks"], values["output"]]


def _one_result(task_id: str, value: Any, where: str) -> TaskResult:
    if isinstance(value, dict):
        passed, answer, detail = value.get("passed"), value.get("answer", ""), value.get("detail", "")
    else:
        passed, answer, detail = value, "", ""
    if isinstance(passed, int) and not isinstance(passed, bool) and passed in (0, 1):
        passed = bool(passed)
    if not isinstance(passed, bool):
        raise EvaluatorError(f"{where}: task {task_id}: 'passed' must be true or false, got {passed!r}")
    return TaskResult(task_id, passed, cut_words(str(answer or ""), 2000, where=None),
                      cut_words(str(detail or ""), 2000, where=None))


def parse_results(path: Path, tasks: list[EvalTask]) -> list[TaskResult]:
    """Read the command's results file; one result per task, in task order."""
    where = f"the evaluator's results file {path.name}"
    if not path.exists():
        raise EvaluatorError(f"{where} was not written (the command must write JSON to the output path)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvaluatorError(f"{where} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    if isinstance(data, list):
        entries: dict[str, Any] = {}
        for k, item in enumerate(data):
            key = item.get("id", item.get("task_id")) if isinstance(item, dict) else None
            if not isinstance(key, str):
                raise EvaluatorError(f"{where}: entry {k} needs an 'id' (the task id) and 'passed'")
            entries[key] = item
        data = entries
    if not isinstance(data, dict):
        raise EvaluatorError(f"{where} must be a JSON object of task id -> pass/fail, or a list of results")
    ids = [t.id for t in tasks]
    unknown = sorted(set(data) - set(ids))
    missing = [i for i in ids if i not in data]
    if unknown:
        raise EvaluatorError(f"{where} names tasks that were not given: {', '.join(unknown[:3])}")
    if missing:
        raise EvaluatorError(f"{where} has no result for {len(missing)} of {len(ids)} tasks "
                             f"(first: {missing[0]})")
    return [_one_result(i, data[i], where) for i in ids]


def _write_tasks(path: Path, tasks: list[EvalTask]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for t in tasks:
            fh.write(json.dumps({"id": t.id, "prompt": t.prompt, "context": t.context, "answers": t.answers,
                                 "gold": t.gold}, ensure_ascii=False) + "\n")


class CommandEvaluator:
    per_task = False

    def __init__(self, command: str, *, timeout_s: float = 600.0, cwd: str | None = None):
        build_argv(command, {"skill": "", "tasks": "", "output": "", "repeat": "0"})  # fail early when unparsable
        self.command, self.timeout_s, self.cwd = command, timeout_s, cwd

    def evaluate(self, skill: SkillFolder | None, tasks: list[EvalTask], *, repeat: int = 0,
                 run_id: str | None = None) -> list[TaskResult]:
        with tempfile.TemporaryDirectory(prefix="t2s-eval-") as tmp:
            root = Path(tmp)
            skill_dir = root / "skill" / (skill.name or "skill") if skill is not None else root / "no-skill"
            if skill is not None:
                write_dir(skill, skill_dir)
            else:
                skill_dir.mkdir(parents=True)
            tasks_file, output = root / "tasks.jsonl", root / "results.json"
            _write_tasks(tasks_file, tasks)
            values = {"skill": str(skill_dir), "tasks": str(tasks_file), "output": str(output), "repeat": str(repeat)}
            env = {**os.environ, "T2S_SKILL_DIR": values["skill"], "T2S_TASKS_FILE": values["tasks"],
                   "T2S_OUTPUT_FILE": values["output"], "T2S_REPEAT": values["repeat"],
                   "T2S_NO_SKILL": "1" if skill is None else "0"}
            self._run(build_argv(self.command, values), env)
            return parse_results(output, tasks)

    def _run(self, argv: list[str], env: dict[str, str]) -> None:
        try:
            proc = subprocess.Popen(argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        except OSError as exc:
            raise EvaluatorError(f"cannot start the evaluator command {argv[0]!r}: {exc}") from None
        try:
            _, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise EvaluatorError(f"the evaluator command timed out after {self.timeout_s:g} s and was stopped "
                                 f"({cut_words(shlex.join(argv), 200, where=None)})") from None
        if proc.returncode != 0:
            tail = (err or "").strip()[-STDERR_TAIL:]
            raise EvaluatorError(f"the evaluator command exited with status {proc.returncode}"
                                 + (f"; its error output ends with: {tail}" if tail else ""))
