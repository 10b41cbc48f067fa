"""The contract every trajectory format implements, plus small helpers they share.

A file is read as one of three *shapes*:
  - "jsonl":  one JSON value per line,
  - "array":  a top-level JSON array (streamed item by item),
  - "object": a single top-level JSON object.

A format declares its *unit*:
  - "record":   each JSONL line / array item / the object is one record producing trajectories
                (tau-bench result files, SWE-agent .traj, ATIF, JSONL of chat transcripts),
  - "document": the whole file is one record (an OpenHands event array, a Claude Code session JSONL,
                a bare list of chat messages). The record handed to `parse` is then the list of
                lines/items (or the object itself).

`sniff(sample, shape)` sees the first line / first item / the object and says whether the format
fits. `parse(record, source_name)` returns normalised trajectories without ids (the pipeline
computes content-hash ids) or raises `TrajectoryFormatError` with a human-readable problem; the
pipeline adds the file name and record index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal

import orjson

from trace2skill.errors import TrajectoryFormatError
from trace2skill.models import Trajectory

if TYPE_CHECKING:
    from trace2skill.ingest.reader import RawRecord

Shape = Literal["jsonl", "array", "object"]
Unit = Literal["record", "document"]


class Format:
    """Base class for importers. Subclasses set `name`, `unit`, and implement `sniff`/`parse`."""

    name: ClassVar[str] = ""
    unit: ClassVar[Unit] = "record"
    # Shapes whose records this format can read; used by detection and for error messages.
    shapes: ClassVar[tuple[Shape, ...]] = ("jsonl", "array", "object")
    # Each trajectory is one task by how the format records it (a benchmark run, a trace, a log
    # episode): later user turns are a simulated user's, the environment's or earlier history, never a
    # new request, so it is never split into tasks (`trace2skill.sessions`).
    one_task: ClassVar[bool] = False

    def sniff(self, sample: Any, shape: Shape) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def unit_for(self, sample: Any, shape: Shape) -> Unit:
        """The unit for this file; formats whose unit depends on the file's shape override it."""
        return self.unit

    def among(self) -> list[Format] | None:
        """When this format stands for several (an option that goes with any of them), the ones a
        file is detected among; None: this format itself, undetected."""
        return None

    def records(self, f: IO[bytes], shape: Shape, unit: Unit) -> Iterator[RawRecord] | None:
        """The file's records when this format reads them its own way (trace files: spans grouped
        by trace); None: the usual reader (`trace2skill.ingest.reader.iter_records`)."""
        return None

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------- shared helpers


def require(condition: bool, problem: str) -> None:
    if not condition:
        raise TrajectoryFormatError(problem)


def one_of(value: Any, options: set[str] | frozenset[str]) -> bool:
    """`value in options` that is safe for unhashable values (lists, dicts) from hostile input."""
    return isinstance(value, str) and value in options


def expect_type(value: Any, types: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, types):
        names = (
            " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        )
        raise TrajectoryFormatError(f"{what} should be {names}, got {type(value).__name__}")
    return value


def text_of(content: Any) -> str:
    """Flatten message content (str, list of parts/blocks, None) to plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (int, float, bool)):
        return str(content)
    if isinstance(content, dict):
        for key in ("text", "content", "output", "thinking", "summary"):
            if key in content:
                return text_of(content[key])
        if content.get("type") in ("image", "image_url", "input_image"):
            return "[image]"
        return json.dumps(content, ensure_ascii=False, sort_keys=True)
    if isinstance(content, list):
        parts = [text_of(part) for part in content]
        return "\n".join(p for p in parts if p)
    return str(content)


def parse_arguments(raw: Any) -> dict[str, Any] | str:
    """Tool-call arguments: a dict stays a dict; a JSON string becomes a dict when it is an object;
    anything else (invalid JSON, a list, a scalar) is kept as the raw string."""
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except (ValueError, RecursionError):
            return raw
        return value if isinstance(value, dict) else raw
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def get_path(data: Any, path: str, default: Any = None) -> Any:
    """Follow a dotted path ("a.b.0.c") through dicts and lists."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return default
            current = current[part]
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return default
        else:
            return default
    return current
