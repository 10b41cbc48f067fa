"""Format auto-detection: the first record decides, most specific format first."""

from __future__ import annotations

from typing import IO, Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format
from trace2skill.ingest.reader import Sniffed, sniff


def _describe(sample: Any) -> str:
    if isinstance(sample, dict):
        keys = ", ".join(sorted(map(str, sample))[:12])
        return f"an object with keys [{keys}]"
    if isinstance(sample, list):
        return f"a list of {len(sample)} items"
    return f"a {type(sample).__name__}"


def _fits(fmt: Format, sniffed: Sniffed) -> bool:
    if sniffed.shape not in fmt.shapes:
        return False
    try:
        return bool(fmt.sniff(sniffed.sample, sniffed.shape))
    except Exception:  # a sniffer must never take the import down; treat as "no"
        return False


def detect(f: IO[bytes], formats: list[Format]) -> tuple[Format, Sniffed]:
    sniffed = sniff(f)
    for fmt in formats:
        if _fits(fmt, sniffed):
            return fmt, sniffed
    names = ", ".join(fmt.name for fmt in formats)
    raise TrajectoryFormatError(
        f"unrecognised trajectory format: the first record is {_describe(sniffed.sample)} "
        f"({sniffed.shape}). Known formats: {names}. Name one with --format, or describe the "
        "fields with a --mapping file for the generic importer."
    )


def detect_for(f: IO[bytes], fmt: Format | None, formats: list[Format]) -> tuple[Format, Sniffed]:
    """The format to read `f` with: detected among `formats` when none is given, among the formats
    an option goes with (`Format.among`), else the one given."""
    if fmt is None:
        return detect(f, formats)
    if (choices := fmt.among()) is not None:
        return detect(f, choices)
    return fmt, sniff(f)
