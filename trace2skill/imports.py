"""The import history as people read it: each import in words (when, by whom, what it did) and the
question asked before an import is deleted, naming what goes with it. The CLI and the Trajectories
screen both use these (the records and the deletion itself are in `trace2skill.store.imports`)."""

from __future__ import annotations

from typing import Any

from trace2skill.humanize import minute as when
from trace2skill.humanize import plural
from trace2skill.models import ImportRecord
from trace2skill.store.imports import DeletionPlan

__all__ = ["deletion_done", "deletion_question", "import_row", "plural", "status_text", "when", "who"]


WAYS_IN = {"cli": "command line", "ui": "app", "user": "library"}  # what imports recorded before the reviewer's name


def who(record: ImportRecord) -> str:
    """Who imported it: the reviewer's name ('Dana'); an import recorded before names were, by the
    operating-system user and the way in ('ann (command line)')."""
    if record.status == "earlier":
        return "before the import history"
    if record.actor in WAYS_IN:
        way = WAYS_IN[record.actor]
        return f"{record.user} ({way})" if record.user else way
    return record.actor


def status_text(record: ImportRecord) -> str:
    """done; not finished (still running, or stopped part-way: what it stored stays); or earlier."""
    return {"running": "not finished", "earlier": "before history", "done": "done"}[record.status]


def import_row(record: ImportRecord) -> dict[str, Any]:
    """One import as a table row."""
    return {"id": record.id, "file": record.file, "format": record.format or "not recognised",
            "when": when(record.started), "by": who(record), "records": record.records,
            "imported": record.imported, "already present": record.duplicates, "relabelled": record.relabelled,
            "errors": record.errors, "still here": record.trajectories, "status": status_text(record)}


def describe(record: ImportRecord) -> str:
    """'import 3 (file x.jsonl, 2026-11-26 10:02)'."""
    return f"import {record.id} (file {record.file}, {when(record.started)})"


def deletion_question(plan: DeletionPlan) -> str:
    """'Delete 1,319 trajectories and 42 lessons from import 3 (file x.jsonl, 2026-11-26 10:02)?'"""
    one = plan.kept == 1
    kept = (f" {plural(plan.kept, 'trajectory')} it added {'stays' if one else 'stay'}: another "
            f"import also brought {'it' if one else 'them'}.") if plan.kept else ""
    return (f"Delete {plural(plan.trajectories, 'trajectory')} and "
            f"{plural(plan.lessons, 'lesson')} from {describe(plan.record)}?{kept}")


def deletion_done(plan: DeletionPlan) -> str:
    return (f"Deleted {plural(plan.trajectories, 'trajectory')} and "
            f"{plural(plan.lessons, 'lesson')} from {describe(plan.record)}.")
