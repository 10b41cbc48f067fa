"""What an import would do, without writing anything: `trace2skill import --dry-run` and the app's
preview before its Import button.

Every record is read and parsed exactly as the import would (same detection, same mapping check,
same errors), then counted: trajectories by outcome, how many are new and how many the workspace
already has, the warnings, and the first trajectory as a sample. Nothing is stored; the workspace
is only read, and only when one is given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlite_utils import Database

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format
from trace2skill.ingest.detect import detect_for
from trace2skill.ingest.generic import FieldMapping, GenericFormat
from trace2skill.ingest.issue_groups import IssueGroup, group_issues
from trace2skill.ingest.mapping_check import check_open_file, check_source
from trace2skill.ingest.outcome_names import TraceNames, outcome_names
from trace2skill.ingest.pipeline import SUFFIXES, TEXT_SUFFIXES, expand_paths, resolve_format
from trace2skill.ingest.reader import iter_records, open_binary
from trace2skill.ingest.records import FileReport, ImportIssue, parse_record
from trace2skill.ingest.registry import FORMATS
from trace2skill.ingest.text_log import TextLogFormat, TextMapping, iter_text_records
from trace2skill.ingest.traces import trace_format_names
from trace2skill.models import Step, Trajectory
from trace2skill.sessions import split_points
from trace2skill.store.trajectories import existing_ids
from trace2skill.textcut import cut_words

LOOKUP_BATCH = 500
SAMPLE_STEPS = 3


def _no_outcomes() -> dict[str, int]:
    return {"success": 0, "failure": 0, "unknown": 0}


@dataclass
class FilePreview:
    file: str
    format: str | None = None
    records: int = 0
    trajectories: int = 0
    new: int = 0
    already_present: int = 0  # in the workspace already
    repeated: int = 0  # the same trajectory more than once in this file
    outcomes: dict[str, int] = field(default_factory=_no_outcomes)
    errors: list[ImportIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sample: Trajectory | None = None
    trace_names: TraceNames | None = None  # a trace file: the names that may say each trace's outcome
    sessions: int = 0  # trajectories (each counted once) that hold several requests
    session_tasks: int = 0  # the tasks those would give if split into tasks

    @property
    def sessions_words(self) -> str:
        """"1 session holds several requests (2 tasks if split)", or "" when none does."""
        if not self.sessions:
            return ""
        one = self.sessions == 1
        return (f"{self.sessions:,} session{'' if one else 's'} hold{'s' if one else ''} several requests "
                f"({self.session_tasks:,} tasks if split)")

    @property
    def error_groups(self) -> list[IssueGroup]:
        return group_issues(self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "format": self.format, "records": self.records, "trajectories": self.trajectories,
            "new": self.new, "already_present": self.already_present, "repeated": self.repeated,
            "outcomes": self.outcomes, "errors": len(self.errors),
            "error_groups": [g.as_dict() for g in self.error_groups], "warnings": self.warnings,
            "outcome_names": [] if self.trace_names is None else self.trace_names.as_list(),
            "sessions": {"several_requests": self.sessions, "tasks_if_split": self.session_tasks},
            "sample": None if self.sample is None else {
                "task": self.sample.task.prompt, "task_id": self.sample.task.id, "outcome": self.sample.outcome.label,
                "reward": self.sample.outcome.reward, "model": self.sample.model,
                "steps": len(self.sample.steps), "text": sample_lines(self.sample)},
        }


@dataclass
class ImportPreview:
    files: list[FilePreview] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def outcomes(self) -> dict[str, int]:
        totals = _no_outcomes()
        for f in self.files:
            for label, n in f.outcomes.items():
                totals[label] = totals.get(label, 0) + n
        return totals

    @property
    def errors(self) -> list[ImportIssue]:
        return [e for f in self.files for e in f.errors]

    @property
    def warnings(self) -> list[str]:
        return [f"{f.file}: {w}" for f in self.files for w in f.warnings]

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": True, "trajectories": self.total("trajectories"), "new": self.total("new"),
                "already_present": self.total("already_present"), "outcomes": self.outcomes,
                "errors": len(self.errors), "warnings": self.warnings, "files": [f.as_dict() for f in self.files]}


# --------------------------------------------------------------------------- reading


def preview_stream(source: str | os.PathLike[str] | IO[bytes], name: str | None = None, *,
                   fmt: Format | None = None, db: Database | None = None) -> FilePreview:
    """Read one file (a path or an open binary file) as the import would; store nothing.

    A generic mapping that fits none of the first records raises MappingError, as the import does."""
    name = name or str(source)
    preview = FilePreview(file=name)
    try:
        f = open_binary(source)
    except OSError as exc:
        preview.errors.append(ImportIssue(name, f"cannot open file: {exc.strerror or exc}"))
        return preview
    try:
        if isinstance(fmt, TextLogFormat):
            preview.format = fmt.name
            _count(fmt, iter_text_records(f, fmt.mapping), preview, db)
            return preview
        try:
            fmt, sniffed = detect_for(f, fmt, FORMATS)
        except TrajectoryFormatError as exc:
            preview.errors.append(ImportIssue(name, exc.problem))
            return preview
        preview.format = fmt.name
        if sniffed.shape not in fmt.shapes:
            preview.errors.append(ImportIssue(name, f"format {fmt.name} does not read {sniffed.shape} files"))
            return preview
        unit = fmt.unit_for(sniffed.sample, sniffed.shape)
        if isinstance(fmt, GenericFormat):
            preview.warnings.extend(check_open_file(fmt.mapping, f, sniffed.shape, unit))
        own = fmt.records(f, sniffed.shape, unit)
        _count(fmt, own if own is not None else iter_records(f, sniffed.shape, unit), preview, db)
        _outcome_names(f, fmt, preview)
    finally:
        if isinstance(source, (str, os.PathLike)):
            f.close()
    return preview


def _outcome_names(f: IO[bytes], fmt: Format, preview: FilePreview) -> None:
    """A trace file: the names that may say each trace's outcome, and a warning when the one named is
    in none of the traces read."""
    if fmt.name not in trace_format_names():
        return
    preview.trace_names = outcome_names(f, fmt)
    preview.warnings.extend(preview.trace_names.missing(getattr(fmt, "outcome_attribute", None)))


def _count(fmt: Format, records: Iterable[Any], preview: FilePreview, db: Database | None) -> None:
    sink = FileReport(file=preview.file)  # collects per-record errors exactly as the import does
    seen: set[str] = set()
    pending: list[str] = []

    def look_up() -> None:
        known = existing_ids(db, pending) if db is not None else set()
        preview.already_present += len(known)
        preview.new += len(pending) - len(known)
        pending.clear()

    try:
        for raw in records:
            if not raw.error:
                preview.records += 1
            for t in parse_record(fmt, raw, preview.file, sink):
                preview.trajectories += 1
                preview.outcomes[t.outcome.label] = preview.outcomes.get(t.outcome.label, 0) + 1
                preview.sample = preview.sample or t
                if t.id in seen:
                    preview.repeated += 1
                    continue
                seen.add(t.id)
                pending.append(t.id)
                cuts = split_points(t)
                if cuts:
                    preview.sessions += 1
                    preview.session_tasks += len(cuts) + 1
                if len(pending) >= LOOKUP_BATCH:
                    look_up()
    except TrajectoryFormatError as exc:  # a whole-document read failure (truncated object...)
        sink.errors.append(ImportIssue(preview.file, exc.problem))
    look_up()
    preview.errors.extend(sink.errors)


def preview_paths(paths: Iterable[str | os.PathLike[str]], *, format_name: str | None = None,
                  mapping: FieldMapping | str | Path | dict | None = None,
                  db: Database | None = None,
                  text_mapping: TextMapping | str | Path | dict | None = None,
                  outcome_attribute: str | None = None) -> ImportPreview:
    """`import_paths` without the writing."""
    fmt = resolve_format(format_name, mapping, text_mapping, outcome_attribute)
    files = expand_paths(paths, TEXT_SUFFIXES if isinstance(fmt, TextLogFormat) else SUFFIXES)
    if isinstance(fmt, GenericFormat):
        for path in files:
            check_source(fmt.mapping, path)
    return ImportPreview([preview_stream(path, str(path), fmt=fmt, db=db) for path in files])


# --------------------------------------------------------------------------- text for people


def outcome_counts(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{label} {n:,}" for label, n in outcomes.items())


def summary_line(p: FilePreview) -> str:
    present = f"{p.already_present:,} already present"
    if p.repeated:
        present += f", {p.repeated:,} repeated in the file"
    return (f"{p.file}: {p.format or 'format not recognised'}: {p.records:,} records, {p.trajectories:,} "
            f"trajectories ({outcome_counts(p.outcomes)}); {p.new:,} new, {present}, {len(p.errors):,} errors")


def _step_text(step: Step) -> str:
    parts = [f"(thinks) {step.reasoning}"] if step.reasoning else []
    parts += [step.text] if step.text else []
    parts += [f"-> {call.name}({call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)})"
              for call in step.tool_calls]
    parts += [f"<- {result.content}" for result in step.tool_results]
    return " ".join(parts) or "(empty)"


def sample_lines(t: Trajectory, *, steps: int = SAMPLE_STEPS, width: int = 110) -> list[str]:
    """A trajectory in a few lines: task, outcome, model, the first steps, abbreviated."""
    reward = f" (reward {t.outcome.reward:g})" if t.outcome.reward is not None else ""
    lines = [f"task: {cut_words(t.task.prompt, width, where=None, fold=True) or '(empty)'}",
             f"outcome: {t.outcome.label}{reward}   model: {t.model or '-'}   task id: {t.task.id or '-'}"]
    if t.ground_truth:
        truth = t.ground_truth.get("answer", t.ground_truth) if len(t.ground_truth) == 1 else t.ground_truth
        lines.append(f"ground truth: {cut_words(str(truth), width, where=None, fold=True)}")
    for step in t.steps[:steps]:
        lines.append(f"[{step.index}] {step.role}: {cut_words(_step_text(step), width, where=None, fold=True)}")
    if len(t.steps) > steps:
        lines.append(f"… {len(t.steps) - steps} more steps")
    return lines
