"""Trajectory importers: one module per format, auto-detection, and the import pipeline.

The names below load on first use, so a process that only parses (an import's worker, `parallel`)
does not load the workspace's database layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trace2skill.ingest.generic import FieldMapping
    from trace2skill.ingest.pipeline import FileReport, ImportReport, import_paths, import_stream

__all__ = ["FieldMapping", "FileReport", "ImportReport", "import_paths", "import_stream"]


def __getattr__(name: str) -> Any:
    if name == "FieldMapping":
        from trace2skill.ingest.generic import FieldMapping

        return FieldMapping
    if name in __all__:
        from trace2skill.ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
