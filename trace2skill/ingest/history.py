"""Each import of a file recorded in the workspace's import history: begun before the first batch is
stored (each trajectory is linked to it), finished with the file report's counts."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from trace2skill.ingest.base import Format
from trace2skill.ingest.generic import GenericFormat
from trace2skill.ingest.text_log import TextLogFormat
from trace2skill.store import Workspace
from trace2skill.store.imports import discard_import, finish_import, start_import

if TYPE_CHECKING:
    from trace2skill.ingest.records import FileReport


def os_user() -> str | None:
    """Who is importing, as the operating system names them (None when it cannot say)."""
    try:
        return getpass.getuser() or None
    except (OSError, KeyError, ImportError):
        return None


def mapping_of(fmt: Format | None) -> dict[str, Any] | None:
    """The field mapping a generic import used, as it would be written in a mapping file."""
    if isinstance(fmt, GenericFormat):
        return fmt.mapping.model_dump(mode="json", exclude_defaults=True)
    if isinstance(fmt, TextLogFormat):
        return {"text_mapping": fmt.mapping.model_dump(mode="json", exclude_defaults=True)}
    outcome_attribute = getattr(fmt, "outcome_attribute", None)  # the trace formats' --outcome-attribute
    if isinstance(outcome_attribute, str) and outcome_attribute:
        return {"outcome_attribute": outcome_attribute}
    return None


@contextlib.contextmanager
def recorded_import(ws: Workspace, report: FileReport, fmt: Format | None, actor: str) -> Iterator[None]:
    """Record the import of `report.file` around the work that fills `report`. One that fails part-way
    is recorded with what its earlier batches stored (they stay); one refused before anything was
    stored (a mapping that fits nothing, say) leaves no record."""
    report.import_id = start_import(ws.db, report.file, mapping=mapping_of(fmt), actor=actor, user=os_user())
    try:
        yield
    except BaseException:
        if not report.imported + report.duplicates + report.relabelled:  # refused before anything was stored
            discard_import(ws.db, report.import_id)
            report.import_id = None
        raise
    finally:
        _finish(ws, report)


def _finish(ws: Workspace, report: FileReport) -> None:
    if report.import_id is not None:
        finish_import(ws.db, report.import_id, format=report.format, records=report.records,
                      imported=report.imported, duplicates=report.duplicates, relabelled=report.relabelled,
                      errors=len(report.errors))
