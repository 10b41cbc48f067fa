"""Reading trajectory files as a stream of raw records, whatever their shape.

JSONL is read line by line and top-level JSON arrays item by item (ijson), so memory does not
grow with the file's size. A record that cannot be decoded becomes a `RawRecord` with an error;
reading goes on with the next line where the format allows it (JSONL) and stops where it cannot
(a truncated array).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson
import orjson

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Shape, Unit
from trace2skill.textcut import cut_words

SNIFF_BYTES = 64 * 1024
# A single JSON document (one object, or an array read whole) is parsed in memory: cap its size.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
NOT_JSON = "not JSON or JSONL"  # how a text file's error starts (a text mapping can read it as a log)


@dataclass
class RawRecord:
    index: int
    data: Any = None
    line: int | None = None
    error: str | None = None


@dataclass
class Sniffed:
    shape: Shape
    sample: Any  # first JSONL value, first array item, or the object


READ_BUFFER = 1 << 20  # trace exports put megabytes on a line: read them in large pieces


def open_binary(source: str | os.PathLike[str] | IO[bytes]) -> IO[bytes]:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb", buffering=READ_BUFFER)
    source.seek(0)
    return source


def _first_char(head: bytes) -> str:
    stripped = head.lstrip()
    if stripped.startswith(BOM):
        stripped = stripped[len(BOM):].lstrip()
    if not stripped:
        raise TrajectoryFormatError("file is empty")
    if b"\x00" in head:
        raise TrajectoryFormatError("file is binary, not JSON or JSONL")
    return chr(stripped[0])


def _loads(raw: bytes) -> Any:
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in str(exc):
            raise UnicodeDecodeError("utf-8", raw[:1], 0, 1, "invalid UTF-8") from None
        # Re-raise through the standard parser for its precise position and message.
        return json.loads(raw.decode("utf-8", errors="replace"))


def _has_more_lines(f: IO[bytes]) -> bool:
    return any(line.strip() for line in f)


def sniff(f: IO[bytes]) -> Sniffed:
    """Decide the file's shape and fetch its first record, reading as little as possible."""
    f.seek(0)
    head = f.read(SNIFF_BYTES)
    first = _first_char(head)
    if first not in "[{":
        raise TrajectoryFormatError(f"{NOT_JSON}: the file starts with {first!r}, not '{{' or '['")
    f.seek(0)
    first_line = f.readline()
    try:
        value = _loads(first_line)
    except (UnicodeDecodeError, ValueError, RecursionError):
        value = None
    if value is None and first_line.strip() and not first_line.rstrip().endswith((b"{", b"[")):
        # A damaged first line of a JSONL file: the next line tells.
        following = next((line for line in f if line.strip()), b"")
        try:
            value = _loads(following)
        except (UnicodeDecodeError, ValueError, RecursionError):
            value = None
        if isinstance(value, (dict, list)):
            return Sniffed("jsonl", value)
        value = None
    if isinstance(value, (dict, list)):
        if _has_more_lines(f):
            return Sniffed("jsonl", value)
        if isinstance(value, list):
            if not value:
                raise TrajectoryFormatError("the JSON array is empty")
            return Sniffed("array", value[0])
        return Sniffed("object", value)
    f.seek(0)
    if first == "[":
        try:
            item = next(ijson.items(f, "item", use_float=True), _EMPTY)
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            raise TrajectoryFormatError(f"invalid JSON: {_short(exc)}") from None
        if item is _EMPTY:
            raise TrajectoryFormatError("the JSON array is empty")
        return Sniffed("array", item)
    return Sniffed("object", _load_document(f))


_EMPTY = object()


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return cut_words(text, 300, where=None)


def _load_document(f: IO[bytes]) -> Any:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size > MAX_DOCUMENT_BYTES:
        raise TrajectoryFormatError(
            f"file too large to read as one JSON document ({size // 2**20} MiB > {MAX_DOCUMENT_BYTES // 2**20} MiB); "
            "split it, or convert it to JSONL (one record per line), which is streamed")
    f.seek(0)
    try:
        return _loads(f.read())
    except UnicodeDecodeError:
        raise TrajectoryFormatError("file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        hint = ("several JSON values one after another? Write one per line (JSONL)" if exc.msg == "Extra data"
                else "truncated file?")
        raise TrajectoryFormatError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} ({hint})") from None
    except RecursionError:
        raise TrajectoryFormatError("JSON nested too deeply") from None


def _jsonl_values(f: IO[bytes], loads: Callable[[bytes], Any] = _loads) -> Iterator[RawRecord]:
    f.seek(0)
    index = 0
    for number, raw in enumerate(f, start=1):
        if not raw or raw.isspace():  # (no copy of a long line, as strip() would make)
            continue
        try:
            yield RawRecord(index, loads(raw), line=number)
        except UnicodeDecodeError:
            yield RawRecord(index, line=number, error="line is not UTF-8 text")
        except json.JSONDecodeError as exc:
            yield RawRecord(index, line=number, error=f"invalid JSON at column {exc.colno}: {exc.msg}")
        except RecursionError:
            yield RawRecord(index, line=number, error="JSON nested too deeply")
        index += 1


def _array_items(f: IO[bytes]) -> Iterator[RawRecord]:
    f.seek(0)
    index = 0
    try:
        for item in ijson.items(f, "item", use_float=True):
            yield RawRecord(index, item)
            index += 1
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        yield RawRecord(index, error=f"invalid JSON after {index} good records, reading stopped: {_short(exc)}")


def iter_records(f: IO[bytes], shape: Shape, unit: Unit, loads: Callable[[bytes], Any] = _loads) -> Iterator[RawRecord]:
    """Yield the file's records for the given unit (see `trace2skill.ingest.base`); `loads` reads a
    JSONL line (a reader of its own may read some lines its own way, see `otlp_fast`)."""
    if shape == "object":
        yield RawRecord(0, _load_document(f))
    elif unit == "record":
        yield from (_jsonl_values(f, loads) if shape == "jsonl" else _array_items(f))
    elif shape == "jsonl":
        # One document made of lines: bad lines are reported and left out as None placeholders.
        values: list[Any] = []
        for raw in _jsonl_values(f):
            if raw.error:
                yield raw
            values.append(raw.data)
        yield RawRecord(0, values)
    else:
        yield RawRecord(0, _load_document(f))


def as_binary(data: bytes) -> IO[bytes]:
    return io.BytesIO(data)
