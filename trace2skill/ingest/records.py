"""One record of a file: what an import reports about a file, and a record parsed into the rows it is
stored as. Everything a parsing worker process needs (`parallel`), and nothing that touches the
workspace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO

from pydantic import ValidationError

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format, Shape, Unit
from trace2skill.ingest.issue_groups import IssueGroup, group_issues
from trace2skill.ingest.reader import RawRecord, iter_records
from trace2skill.models import Trajectory, content_hash
from trace2skill.signals import compute_signals
from trace2skill.store.rows import PreparedTrajectory, prepare


@dataclass
class ImportIssue:
    file: str
    problem: str
    record: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        return TrajectoryFormatError(self.problem, file=self.file, record=self.record, line=self.line).describe()


@dataclass
class FileReport:
    file: str
    format: str | None = None
    records: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    trajectory_ids: list[str] = field(default_factory=list)
    relabelled: int = 0  # already present, with the outcome this file now gives (see store_batch)
    import_id: int | None = None  # its record in the import history
    warnings: list[str] = field(default_factory=list)  # from the mapping check, each once

    @property
    def error_groups(self) -> list[IssueGroup]:
        return group_issues(self.errors)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["errors"] = [str(e) for e in self.errors]
        data["error_groups"] = [g.as_dict() for g in self.error_groups]
        return data


def parse_record(fmt: Format, raw: RawRecord, name: str, report: FileReport) -> list[Trajectory]:
    """A record's trajectories, with their ids (its problems go to `report.errors`)."""
    return [t.with_id() for t in _parse(fmt, raw, name, report)]


def _parse(fmt: Format, raw: RawRecord, name: str, report: FileReport) -> list[Trajectory]:
    def fail(problem: str) -> list[Trajectory]:
        report.errors.append(ImportIssue(name, problem, raw.index, raw.line))
        return []

    if raw.error:
        return fail(raw.error)
    try:
        trajectories = fmt.parse(raw.data, name)
    except TrajectoryFormatError as exc:
        return fail(exc.problem)
    except ValidationError as exc:
        first = exc.errors()[0]
        return fail(f"invalid value at {'.'.join(map(str, first['loc']))}: {first['msg']}")
    except RecursionError:
        return fail("record nested too deeply")
    except Exception as exc:  # an importer bug must not take the batch down; say what happened
        return fail(f"could not read record ({type(exc).__name__}: {exc})")
    return trajectories


def parse_prepared(fmt: Format, raw: RawRecord, name: str, report: FileReport) -> list[PreparedTrajectory]:
    """A record's trajectories as the rows they are stored as (its problems go to `report.errors`)."""
    out = []
    for t in _parse(fmt, raw, name, report):
        identity = t.identity()  # dumped once: for the id and for the rows
        t.id = content_hash(identity)
        out.append(prepare(t, compute_signals(t), identity))
    return out


def file_records(f: IO[bytes], fmt: Format, shape: Shape, unit: Unit) -> Iterator[RawRecord]:
    """The records of a file, read the format's own way where it has one (trace files)."""
    own = fmt.records(f, shape, unit)
    return own if own is not None else iter_records(f, shape, unit)
