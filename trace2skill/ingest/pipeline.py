"""Import files into the workspace: detect, parse record by record, hash, mine signals, store.

Records are validated in memory and written in batches, each batch in one transaction, so a bad
record never leaves anything behind and a crash never leaves a half-written trajectory. Errors are
collected per file with the file name, record index and problem; the other records still import.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlite_utils import Database

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.ingest.base import Format
from trace2skill.ingest.detect import detect_for
from trace2skill.ingest.gc_pause import fewer_collections
from trace2skill.ingest.generic import FieldMapping, GenericFormat
from trace2skill.ingest.history import recorded_import
from trace2skill.ingest.issue_groups import IssueGroup, group_issues
from trace2skill.ingest.mapping_check import check_open_file, check_source
from trace2skill.ingest.outcome_names import outcome_names
from trace2skill.ingest.parallel import on_disk, prepared_in_workers, size_of, worker_count
from trace2skill.ingest.reader import RawRecord, Sniffed, open_binary
from trace2skill.ingest.records import FileReport, ImportIssue, file_records, parse_prepared
from trace2skill.ingest.registry import BY_NAME, FORMATS
from trace2skill.ingest.text_log import TextLogFormat, TextMapping, iter_text_records
from trace2skill.ingest.traces import trace_format
from trace2skill.store import Workspace
from trace2skill.store.rows import PreparedTrajectory
from trace2skill.store.trajectories import store_batch

BATCH_SIZE = 500
SUFFIXES = {".json", ".jsonl", ".traj", ".ndjson"}
TEXT_SUFFIXES = {".log", ".txt", ".md"}  # searched in folders when a text mapping is given
FORMAT_NAMES = sorted([*BY_NAME, "generic", "text_log"])
__all__ = ["FileReport", "ImportIssue", "ImportReport", "import_paths", "import_stream"]  # the first two: `records`


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def relabelled(self) -> int:
        return sum(f.relabelled for f in self.files)

    @property
    def errors(self) -> list[ImportIssue]:
        return [e for f in self.files for e in f.errors]

    @property
    def error_groups(self) -> list[IssueGroup]:
        return group_issues(self.errors)

    @property
    def warnings(self) -> list[str]:
        return [f"{f.file}: {w}" for f in self.files for w in f.warnings]

    def as_dict(self) -> dict:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "relabelled": self.relabelled,
            "errors": len(self.errors),
            "warnings": self.warnings,
            "files": [f.as_dict() for f in self.files],
        }


Progress = Callable[[FileReport], None]


def resolve_format(name: str | None, mapping: FieldMapping | str | Path | dict | None,
                   text_mapping: TextMapping | str | Path | dict | None = None,
                   outcome_attribute: str | None = None) -> Format | None:
    """The format to force, if any: a --mapping means the generic importer, a --text-mapping the
    text log reader, an --outcome-attribute a trace importer."""
    if outcome_attribute is not None:
        if mapping is not None or text_mapping is not None:
            raise MappingError("--outcome-attribute reads traces; it goes with neither --mapping nor --text-mapping")
        return trace_format(name, outcome_attribute)
    if text_mapping is not None:
        if mapping is not None or name not in (None, "text_log"):
            raise MappingError("--text-mapping reads text logs; it goes with neither --mapping nor --format")
        return TextLogFormat(text_mapping if isinstance(text_mapping, TextMapping) else TextMapping.load(text_mapping))
    if name == "text_log":
        raise MappingError("text logs need a text mapping (--text-mapping FILE)")
    if mapping is not None:
        if name not in (None, "generic"):
            raise MappingError(f"--mapping goes with the generic importer, not --format {name}")
        return GenericFormat(mapping if isinstance(mapping, FieldMapping) else FieldMapping.load(mapping))
    if name is None:
        return None
    if name == "generic":
        raise MappingError("the generic importer needs a field mapping (--mapping FILE)")
    if name not in BY_NAME:
        raise MappingError(f"unknown format {name!r}; known: {', '.join(FORMAT_NAMES)}")
    return BY_NAME[name]


def expand_paths(paths: Iterable[str | os.PathLike[str]], suffixes: set[str] = SUFFIXES) -> list[Path]:
    """Files as given; folders are searched (recursively) for trajectory-looking files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes))
        else:
            found.append(path)
    return found


def _batches(items: Iterator[PreparedTrajectory], size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_stream(
    ws: Workspace,
    source: str | os.PathLike[str] | IO[bytes],
    name: str | None = None,
    *,
    fmt: Format | None = None,
    batch_size: int = BATCH_SIZE,
    actor: str = "user",
    workers: int | None = None,
) -> FileReport:
    """Import one file (a path, or an open binary file such as an upload), recorded in the import
    history (`actor`: who asked, as decisions name them: cli, ui, ...). `workers`: how many processes
    parse it (`parallel`; default: one per core for a large file of many records, else none)."""
    report = FileReport(file=name or str(source))
    with recorded_import(ws, report, fmt, actor), fewer_collections():
        _import_file(ws, source, report, fmt, batch_size, workers)
    return report


def _import_file(ws: Workspace, source: str | os.PathLike[str] | IO[bytes], report: FileReport,
                 fmt: Format | None, batch_size: int, workers: int | None) -> None:
    name = report.file
    try:
        f = open_binary(source)
    except OSError as exc:
        report.errors.append(ImportIssue(name, f"cannot open file: {exc.strerror or exc}"))
        return
    try:
        if isinstance(fmt, TextLogFormat):
            report.format = fmt.name
            _store_records(ws, iter_text_records(f, fmt.mapping), fmt, report, batch_size)
            return
        try:
            fmt, sniffed = detect_for(f, fmt, FORMATS)
        except TrajectoryFormatError as exc:
            report.errors.append(ImportIssue(name, exc.problem))
            return
        report.format = fmt.name
        _import_records(ws, f, fmt, sniffed, report, batch_size, workers)
    finally:
        if isinstance(source, (str, os.PathLike)):
            f.close()


def _import_records(ws: Workspace, f: IO[bytes], fmt: Format, sniffed: Sniffed, report: FileReport,
                    batch_size: int, workers: int | None) -> None:
    name = report.file
    if sniffed.shape not in fmt.shapes:
        report.errors.append(ImportIssue(name, f"format {fmt.name} does not read {sniffed.shape} files"))
        return
    unit = fmt.unit_for(sniffed.sample, sniffed.shape)
    if isinstance(fmt, GenericFormat):  # a path found in none of the first records: MappingError
        report.warnings.extend(check_open_file(fmt.mapping, f, sniffed.shape, unit))
    wanted = getattr(fmt, "outcome_attribute", None)
    if wanted:  # a name no trace has (misspelt?) is said, not left to show as outcomes from errors only
        report.warnings.extend(outcome_names(f, fmt).missing(wanted))
    count = worker_count(size_of(f), sniffed.shape, unit, workers)
    if count:
        with on_disk(f) as path:
            stream = prepared_in_workers(path, fmt, sniffed.shape, unit, report, count)
            try:
                _store_prepared(ws, stream, report, batch_size)
            finally:  # the workers stop however the storing ended
                stream.close()
        return
    _store_records(ws, file_records(f, fmt, sniffed.shape, unit), fmt, report, batch_size)


def _store_records(ws: Workspace, records: Iterator[RawRecord], fmt: Format, report: FileReport,
                   batch_size: int) -> None:
    """Parse the records and store them in batches."""

    def parsed() -> Iterator[PreparedTrajectory]:
        for raw in records:
            if not raw.error:
                report.records += 1
            yield from parse_prepared(fmt, raw, report.file, report)

    _store_prepared(ws, parsed(), report, batch_size)


def _store_prepared(ws: Workspace, prepared: Iterator[PreparedTrajectory], report: FileReport,
                    batch_size: int) -> None:
    """Store trajectories in batches (see `_write_behind`)."""

    def store(db: Database, batch: list) -> None:
        done = store_batch(db, batch, import_id=report.import_id)
        report.imported += len(done.inserted)
        report.duplicates += len(done.present)
        report.relabelled += len(done.relabelled)
        report.trajectory_ids.extend(done.inserted + done.present + done.relabelled)

    try:
        _write_behind(ws, _batches(prepared, batch_size), store)
    except TrajectoryFormatError as exc:  # a whole-document read failure (truncated object...)
        report.errors.append(ImportIssue(report.file, exc.problem))


def _write_behind(ws: Workspace, batches: Iterator[list], store: Callable[[Database, list], None]) -> None:
    """Parse the next batch while a writer thread stores the previous one (SQLite releases the
    GIL while it works, so the two overlap). The writer has its own connection."""
    pending: queue.Queue = queue.Queue(maxsize=2)
    failures: list[BaseException] = []

    def writer() -> None:
        db = ws.connect()
        try:
            while (batch := pending.get()) is not None:
                if not failures:
                    try:
                        store(db, batch)
                    except BaseException as exc:  # handed back to the caller below
                        failures.append(exc)
        finally:
            db.close()

    thread = threading.Thread(target=writer, name="trace2skill-import-writer", daemon=True)
    thread.start()
    try:
        for batch in batches:
            if failures:
                break
            pending.put(batch)
    finally:
        pending.put(None)
        thread.join()
    if failures:
        raise failures[0]


def import_paths(
    ws: Workspace,
    paths: Iterable[str | os.PathLike[str]],
    *,
    format_name: str | None = None,
    mapping: FieldMapping | str | Path | dict | None = None,
    on_file: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    actor: str = "user",
    text_mapping: TextMapping | str | Path | dict | None = None,
    outcome_attribute: str | None = None,
    workers: int | None = None,
) -> ImportReport:
    fmt = resolve_format(format_name, mapping, text_mapping, outcome_attribute)
    report = ImportReport()
    files = expand_paths(paths, TEXT_SUFFIXES if isinstance(fmt, TextLogFormat) else SUFFIXES)
    if isinstance(fmt, GenericFormat):  # every file's mapping check before anything is written
        for path in files:
            check_source(fmt.mapping, path)
    for path in files:
        file_report = import_stream(ws, path, str(path), fmt=fmt, batch_size=batch_size, actor=actor,
                                    workers=workers)
        report.files.append(file_report)
        if on_file:
            on_file(file_report)
    return report
