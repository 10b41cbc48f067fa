"""Trajectory importers: one module per format, auto-detection, and the import pipeline."""

from trace2skill.ingest.generic import FieldMapping
from trace2skill.ingest.pipeline import FileReport, ImportReport, import_paths, import_stream

__all__ = ["FieldMapping", "FileReport", "ImportReport", "import_paths", "import_stream"]
