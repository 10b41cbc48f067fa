"""Uploads on the Trajectories screen: import each file, report per file, and the generic field
mapping for a file whose format is not recognised (no streamlit here; the page renders)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest import FieldMapping, FileReport, import_stream
from trace2skill.ingest.base import Format
from trace2skill.ingest.detect import detect
from trace2skill.ingest.generic import GenericFormat
from trace2skill.ingest.issue_groups import grouped_lines
from trace2skill.ingest.preview import FilePreview, preview_stream
from trace2skill.ingest.reader import NOT_JSON, sniff
from trace2skill.ingest.registry import FORMATS
from trace2skill.ingest.text_log import TextLogFormat, TextMapping
from trace2skill.ingest.traces import trace_format
from trace2skill.reviewers import UNNAMED_APP_USER
from trace2skill.store import Workspace
from trace2skill.textcut import cut_words

UNRECOGNISED = "unrecognised trajectory format"
PREVIEW_CHARS = 3000
STEP_DEFAULTS = {"role": "role", "text": "text"}  # what the generic importer assumes when not told

# Likely field names, first match wins (a suggestion the user edits).
_GUESSES = {
    "task": ("task", "question", "prompt", "instruction", "query", "problem", "input"),
    "steps": ("steps", "messages", "trajectory", "turns", "events", "history", "conversation"),
    "transcript": ("transcript", "solution", "response", "output", "completion"),
    "outcome": ("outcome", "success", "is_correct", "correct", "resolved", "passed", "status", "label"),
    "reward": ("reward", "score"),
    "ground_truth": ("ground_truth", "answer", "gold", "expected", "target", "reference"),
    "task_id": ("task_id", "id", "instance_id", "uid"),
    "model": ("model", "model_name"),
}


@dataclass
class Upload:
    """One uploaded file and what importing it did, or what it waits for: `waiting` is "text" for a
    text file (not JSON) that a text mapping can read as a log, "fields" for JSON whose format no
    importer recognised (the generic field mapping can read it), "" once imported."""

    name: str
    data: bytes
    report: FileReport
    waiting: str = ""

    @property
    def plain_text(self) -> bool:
        return self.waiting == "text"

    @property
    def unrecognised(self) -> bool:
        return self.waiting == "fields"


def needs_mapping(data: bytes) -> str:
    """What a file needs before it can be imported: "text" (a text mapping), "fields" (a field
    mapping), or "" when its format is detected (or it is broken: the import says how)."""
    try:
        detect(io.BytesIO(data), FORMATS)
    except TrajectoryFormatError as exc:
        if exc.problem.startswith(UNRECOGNISED):
            return "fields"
        if exc.problem.startswith(NOT_JSON) and _is_text(data):
            return "text"
    return ""


def _is_text(data: bytes) -> bool:
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 65530  # a character cut at the end of the sample is still text
    return True


def import_upload(ws: Workspace, name: str, data: bytes, outcome_attribute: str | None = None, *,
                  actor: str = UNNAMED_APP_USER) -> Upload:
    """Import one uploaded file with format auto-detection (a trace file's outcome from the attribute,
    score or key named, if any). A file that needs a mapping first is not imported (nor recorded in the
    import history): it waits for the user's mapping."""
    waiting = needs_mapping(data)
    if waiting:
        return Upload(name, data, FileReport(file=name), waiting)
    return Upload(name, data, import_stream(ws, io.BytesIO(data), name, fmt=_traces_by(outcome_attribute),
                                            actor=actor))


def _traces_by(outcome_attribute: str | None) -> Format | None:
    """The format an upload is read with when an outcome attribute is chosen (any trace format, detected
    per file); None: detected as usual."""
    return trace_format(None, outcome_attribute) if outcome_attribute else None


def mapping_format(mapping: dict[str, Any]) -> GenericFormat:
    """The generic importer for the form's mapping: empty fields left out, and step fields left at
    their defaults (role, text) not given, so the mapping check only tries what the user named."""
    clean = {k: v for k, v in mapping.items() if v not in (None, "", [], {})}
    steps = {f: v for f, v in (clean.get("step_fields") or {}).items() if v and v != STEP_DEFAULTS.get(f)}
    if steps:
        clean["step_fields"] = steps
    else:
        clean.pop("step_fields", None)
    return GenericFormat(FieldMapping.load(clean))


def import_with_mapping(ws: Workspace, name: str, data: bytes, mapping: dict[str, Any], *,
                        actor: str = UNNAMED_APP_USER) -> Upload:
    """Import one file with the generic importer; MappingError when the mapping is invalid or
    fits none of the file's first records."""
    return Upload(name, data, import_stream(ws, io.BytesIO(data), name, fmt=mapping_format(mapping), actor=actor))


def import_text_log(ws: Workspace, name: str, data: bytes, mapping_text: str, *,
                    actor: str = UNNAMED_APP_USER) -> Upload:
    """Import one file as a text log; MappingError when the text mapping is wrong."""
    fmt = TextLogFormat(TextMapping.from_text(mapping_text))
    return Upload(name, data, import_stream(ws, io.BytesIO(data), name, fmt=fmt, actor=actor))


def preview_text_log(ws: Workspace, name: str, data: bytes, mapping_text: str) -> FilePreview:
    fmt = TextLogFormat(TextMapping.from_text(mapping_text))
    return preview_stream(io.BytesIO(data), name, fmt=fmt, db=ws.db)


def preview_upload(ws: Workspace, name: str, data: bytes, mapping: dict[str, Any] | None = None,
                   outcome_attribute: str | None = None) -> FilePreview:
    """What importing the file would do (nothing is written); MappingError as for the import."""
    fmt = mapping_format(mapping) if mapping is not None else _traces_by(outcome_attribute)
    return preview_stream(io.BytesIO(data), name, fmt=fmt, db=ws.db)


def first_record(data: bytes) -> Any:
    """The file's first record (first JSONL line, first array item, or the object); None if unreadable."""
    try:
        return sniff(io.BytesIO(data)).sample
    except (TrajectoryFormatError, ValueError, RecursionError):
        return None


def record_paths(record: Any, limit: int = 200) -> list[str]:
    """Dotted paths found in a record (objects descended; lists shown as `path.0`), for the
    mapping form's hints."""
    paths: list[str] = []

    def walk(value: Any, path: str, level: int) -> None:
        if len(paths) >= limit:
            return
        if path:
            paths.append(path)
        if level >= 3:
            return
        if isinstance(value, dict):
            for key in list(value)[:50]:
                walk(value[key], f"{path}.{key}" if path else str(key), level + 1)
        elif isinstance(value, list) and value and isinstance(value[0], dict) and path:
            walk(value[0], f"{path}.0", level + 1)

    walk(record, "", 0)
    return paths


def preview(record: Any, limit: int = PREVIEW_CHARS) -> str:
    text = json.dumps(record, ensure_ascii=False, indent=2, default=str)
    return cut_words(text, limit, where="not shown")


def guess_mapping(record: Any) -> dict[str, str]:
    """A first guess at the mapping from the record's top-level keys (empty when it has none)."""
    if not isinstance(record, dict):
        return {}
    keys = {str(k).lower(): str(k) for k in record}
    guess: dict[str, str] = {}
    for field, names in _GUESSES.items():
        for name in names:
            if name in keys and keys[name] not in guess.values():
                value = record[keys[name]]
                if field == "steps" and not isinstance(value, list):
                    continue
                if field == "transcript" and not isinstance(value, str):
                    continue
                guess[field] = keys[name]
                break
    if "steps" in guess:
        guess.pop("transcript", None)
    return guess


WAITING_WORDS = {"text": "text log: waits for a text mapping", "fields": "not recognised: waits for a field mapping"}


def report_row(upload: Upload) -> dict[str, Any]:
    r = upload.report
    return {"file": r.file, "format": WAITING_WORDS.get(upload.waiting) or r.format or "not recognised",
            "records": r.records,
            "imported": r.imported, "already present": r.duplicates, "relabelled": r.relabelled,
            "errors": len(r.errors)}


def error_lines(upload: Upload, limit: int = 50) -> list[str]:
    """Each kind of problem with its file and first record or line, as one line of text (the same
    problem in many records is one line with the count)."""
    return grouped_lines(upload.report.errors, limit)

