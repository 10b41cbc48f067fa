"""Leakage check: held-out tasks whose text shows up in lessons or in a proposed skill.

Held-out tasks are the stored evaluation tasks and the tasks of trajectories marked held out. Texts
are compared after `normalise_text` (case, accents, punctuation, spacing folded): a finding is either
the whole task text inside the target ("substring"; tasks shorter than `min_chars` are skipped) or a
run of `ngram` consecutive words shared with it ("ngram"). Word runs found in more than
`template_tasks` distinct held-out tasks are template text (a benchmark's boilerplate) and ignored.
Lessons extracted from a held-out trajectory are reported too ("heldout_source").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from trace2skill.humanize import plural
from trace2skill.models import normalise_text
from trace2skill.store import evaluation as eval_store
from trace2skill.store.lessons import lesson_texts
from trace2skill.store.skills import get_version


@dataclass
class LeakFinding:
    kind: str  # "substring" | "ngram" | "heldout_source"
    task: str  # "task:<eval task id>" or "trajectory:<trajectory id>"
    task_text: str
    where: str  # "lesson <id>" or "<version id> <file>:<line>"
    match: str  # the shared text (normalised)


@dataclass
class LeakageReport:
    heldout_tasks: int
    checked: list[str]
    findings: list[LeakFinding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def heldout_texts(db: Database) -> dict[str, str]:
    """Held-out task key -> task text (distinct texts only)."""
    texts = {f"task:{i}": t for i, t in eval_store.eval_task_texts(db).items()}
    for tid, task in eval_store.heldout_trajectory_tasks(db):
        texts[f"trajectory:{tid}"] = task
    seen: set[str] = set()
    distinct = {}
    for key, text in texts.items():
        norm = normalise_text(text)
        if norm and norm not in seen:
            seen.add(norm)
            distinct[key] = text
    return distinct


def _grams(words: list[str], n: int) -> set[str]:
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


class _Index:
    def __init__(self, texts: dict[str, str], ngram: int, min_chars: int, template_tasks: int):
        self.texts, self.ngram, self.min_chars = texts, ngram, min_chars
        self.norm = {k: normalise_text(t) for k, t in texts.items()}
        owners: dict[str, set[str]] = defaultdict(set)
        for key, norm in self.norm.items():
            for gram in _grams(norm.split(), ngram):
                owners[gram].add(key)
        self.owners = {g: keys for g, keys in owners.items() if len(keys) <= template_tasks}
        self.short = [k for k, norm in self.norm.items() if len(norm.split()) < ngram]  # no n-gram of their own

    def find(self, text: str, where: str) -> list[LeakFinding]:
        norm = normalise_text(text)
        found: dict[str, LeakFinding] = {}
        for gram in _grams(norm.split(), self.ngram):
            for key in self.owners.get(gram, ()):
                found.setdefault(key, LeakFinding("ngram", key, self.texts[key][:300], where, gram))
        padded = f" {norm} "
        for key in [*found, *self.short]:
            task = self.norm[key]
            if len(task) >= self.min_chars and f" {task} " in padded:
                found[key] = LeakFinding("substring", key, self.texts[key][:300], where, task[:300])
        return list(found.values())


def check_leakage(db: Database, *, version_id: str | None = None, lesson_ids: list[str] | None = None,
                  lessons: bool = True, ngram: int = 8, min_chars: int = 20, template_tasks: int = 2) -> LeakageReport:
    """Held-out task text in the lessons (all that are not rejected, or `lesson_ids`) and, with
    `version_id`, in that skill version's files."""
    texts = heldout_texts(db)
    index = _Index(texts, ngram, min_chars, template_tasks)
    report = LeakageReport(heldout_tasks=len(texts), checked=[])
    if lessons:
        rows = lesson_texts(db, lesson_ids)
        heldout = eval_store.marked(db, "heldout")
        for lesson_id, trajectory_id, text in rows:
            if trajectory_id in heldout:
                report.findings.append(LeakFinding("heldout_source", f"trajectory:{trajectory_id}", "",
                                                   f"lesson {lesson_id}", "extracted from a held-out trajectory"))
            report.findings.extend(index.find(text, f"lesson {lesson_id}"))
        report.checked.append(plural(len(rows), "lesson"))
    if version_id:
        version = get_version(db, version_id)
        for path, text in version.files.items():
            hits: dict[str, LeakFinding] = {}
            for n, line in enumerate(text.split("\n"), start=1):
                for finding in index.find(line, f"{version.id} {path}:{n}") if line.strip() else ():
                    hits.setdefault(finding.task, finding)
            for finding in index.find(text, f"{version.id} {path}"):  # runs that span lines
                hits.setdefault(finding.task, finding)
            report.findings.extend(hits.values())
        report.checked.append(f"skill version {version_id}")
    return report
