"""Trying a generic field mapping on a file's first records before anything is written.

Every path of the mapping (required or optional, metadata, and the step_fields paths inside each
step) is looked up in the first `SAMPLE_SIZE` records. A path found in none of them is a typo or a
wrong guess: `MappingError`, naming the path and the keys that do exist where the lookup stopped.
A path found in only some records, an outcome value that reads as neither success nor failure, and
an object where text is expected are warnings with their counts; the import goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from trace2skill.errors import MappingError, TrajectoryFormatError
from trace2skill.ingest.base import Shape, Unit
from trace2skill.ingest.generic import TEXT_FIELDS, FieldMapping, GenericFormat, kind_of
from trace2skill.ingest.openai_chat import _is_message
from trace2skill.ingest.reader import iter_records, open_binary, sniff

SAMPLE_SIZE = 200
MAX_KEYS = 20
# Optional top-level fields looked up in each record, in the order messages name them.
OPTIONAL = ("task_id", "outcome", "reward", "ground_truth", "final_output", "model")


@dataclass
class _Lookup:
    """How one path fared over the sample: where it was found and how far it got where it was not."""

    label: str
    path: str
    found: int = 0
    empty: int = 0  # the path exists but holds null
    depth: int = -1
    reached: str = ""
    at_end: list[Any] = field(default_factory=list)  # the values where the deepest lookups stopped

    def look(self, data: Any) -> Any:
        """Follow the path in `data`; count it; return the value (None when absent)."""
        current, parts = data, self.path.split(".")
        for n, part in enumerate(parts):
            nxt = _step_into(current, part)
            if nxt is _ABSENT:
                self._stopped(n, parts, current)
                return None
            current = nxt
        if current is None:
            self.empty += 1
        else:
            self.found += 1
        return current

    def _stopped(self, n: int, parts: list[str], value: Any) -> None:
        if n > self.depth:
            self.depth, self.reached, self.at_end = n, ".".join(parts[:n]), []
        if n == self.depth and len(self.at_end) < 10:
            self.at_end.append(value)

    def hint(self, whole: str) -> str:
        """What exists where the lookup stopped: keys of the object, or what the value is instead."""
        keys: list[str] = []
        for value in self.at_end:
            if not isinstance(value, dict):
                continue
            keys.extend(str(k) for k in value if str(k) not in keys)
        owner = f'"{self.reached}"' if self.reached else whole
        verb = "has" if self.reached else "have"
        if keys:
            shown = ", ".join(keys[:MAX_KEYS]) + (", …" if len(keys) > MAX_KEYS else "")
            return f"{owner} {verb} keys: {shown}"
        value = self.at_end[0] if self.at_end else None
        if isinstance(value, list):
            return f"{owner} is a list of {len(value)} items (use a number next, e.g. \"{self.reached}.0\")"
        if isinstance(value, dict):
            return f"{owner} is an empty object"
        return f"{owner} holds {kind_of(value)}, not an object"


_ABSENT = object()


def _step_into(value: Any, part: str) -> Any:
    if isinstance(value, dict):
        return value.get(part, _ABSENT)
    if isinstance(value, list):
        try:
            return value[int(part)]
        except (ValueError, IndexError):
            return _ABSENT
    return _ABSENT


def _scope(n: int, full: bool, steps: bool = False) -> str:
    where = "any step of " if steps else "any of "
    return f"{where}the first {n} records" if full else f"{where}the {n} record{'s' * (n != 1)}"


def check_mapping(mapping: FieldMapping, records: Iterable[Any], limit: int = SAMPLE_SIZE) -> list[str]:
    """Try the mapping on the first `limit` records (objects; anything else is left to the import).

    Raises MappingError when a path is found in none of them; returns the warnings."""
    sample = [r for r in islice(records, limit) if isinstance(r, dict)]
    if not sample:
        return []
    n, full = len(sample), len(sample) >= limit
    paths = [("task", mapping.task), ("steps", mapping.steps), ("transcript", mapping.transcript),
             *((name, getattr(mapping, name)) for name in OPTIONAL), *(("metadata", p) for p in mapping.metadata)]
    lookups = [_Lookup(label, path) for label, path in paths if isinstance(path, str) and path]
    values: dict[str, list[Any]] = {look.label: [] for look in lookups}
    for record in sample:
        for look in lookups:
            values[look.label].append(look.look(record))
    missing, warnings = [], []
    for look in lookups:
        if look.found + look.empty == 0:
            missing.append(f'{look.label} path "{look.path}" not found in {_scope(n, full)}; {look.hint("records")}')
        elif look.found == 0:
            warnings.append(f'{look.label}: "{look.path}" is empty (null) in all {n} records')
        elif look.found < n:
            tail = "; the others will not import" if look.label in ("task", "steps", "transcript") else ""
            warnings.append(f"{look.label}: found in {look.found} of {n} records{tail}")
    step_missing, step_warnings = _check_steps(mapping, values.get("steps", []), n, full)
    missing += step_missing
    if missing:
        more = f" (and {len(missing) - 1} more: {'; '.join(missing[1:])})" if len(missing) > 1 else ""
        raise MappingError(missing[0] + more)
    return warnings + step_warnings + _value_warnings(mapping, values, n)


def _check_steps(mapping: FieldMapping, step_lists: list[Any], n: int, full: bool) -> tuple[list[str], list[str]]:
    """step_fields paths, looked up inside each step (chat-message steps do not use them)."""
    given = {name: getattr(mapping.step_fields, name) for name in mapping.step_fields.model_fields_set}
    given = {name: path for name, path in given.items() if isinstance(path, str) and path}
    lists = [items for items in step_lists if isinstance(items, list) and items]
    plain = [items for items in lists if isinstance(items[0], dict) and not _is_message(items[0])]
    if not plain:
        if given and lists:
            return [], ["step_fields are not used: the steps are chat messages, read as such"]
        return [], []
    lookups = {name: _Lookup(f"step_fields.{name}", path) for name, path in given.items()}
    in_records = dict.fromkeys(lookups, 0)
    text_default = _Lookup("step_fields.text", "text") if "text" not in given else None
    text_found = 0
    for items in plain:
        steps = [s for s in items if isinstance(s, dict)]
        for name, look in lookups.items():
            before = look.found + look.empty
            for step in steps:
                look.look(step)
            in_records[name] += look.found + look.empty > before
        if text_default is not None:
            before = text_default.found
            for step in steps:
                text_default.look(step)
            text_found += text_default.found > before
    missing, warnings = [], []
    m = len(plain)
    for name, look in lookups.items():
        if in_records[name] == 0:
            missing.append(f'{look.label} path "{look.path}" not found in {_scope(n, full, steps=True)}; '
                           f'{look.hint("steps")}')
        elif in_records[name] < m:
            warnings.append(f"{look.label}: found in the steps of {in_records[name]} of {m} records")
    if text_default is not None and text_found == 0:
        warnings.append(f"steps have no \"text\" field, so their text is empty; name one as step_fields.text "
                        f"({text_default.hint('steps')})")
    return missing, warnings


def _value_warnings(mapping: FieldMapping, values: dict[str, list[Any]], n: int) -> list[str]:
    """Values of the wrong kind: objects where text is expected, outcomes that read as no label."""
    warnings = []
    for name in TEXT_FIELDS:
        bad = [v for v in values.get(name, []) if isinstance(v, (dict, list))]
        if bad:
            warnings.append(f'{name}: "{getattr(mapping, name)}" holds {kind_of(bad[0])}, not text, in {len(bad)} '
                            f"of {n} records; those records will not import{_keys_of(bad[0])}")
    outcomes = [v for v in values.get("outcome", []) if v is not None]
    unread = [v for v in outcomes if mapping.label_for(v) is None]
    if unread and any(isinstance(v, (dict, list)) for v in unread):
        first = next(v for v in unread if isinstance(v, (dict, list)))
        warnings.append(f'outcome: "{mapping.outcome}" holds {kind_of(first)}, not a label, in {len(unread)} of {n} '
                        f"records; those records will not import{_keys_of(first)}")
    elif unread:
        examples = ", ".join(dict.fromkeys(repr(v) for v in unread))
        warnings.append(f"outcome: {len(unread)} of {n} values read as neither success nor failure "
                        f"({examples[:120]}); list them in success_values or failure_values, or they count as unknown")
    if mapping.outcome is None and mapping.reward is None:
        warnings.append("no outcome or reward named: every trajectory will count as unknown")
    return warnings


def _keys_of(value: Any) -> str:
    if isinstance(value, dict) and value:
        return f' (its keys: {", ".join(str(k) for k in list(value)[:MAX_KEYS])})'
    return ""


def check_open_file(mapping: FieldMapping, f: IO[bytes], shape: Shape, unit: Unit) -> list[str]:
    """`check_mapping` on an open file's first records (the import reads the file again after)."""
    records = (raw.data for raw in iter_records(f, shape, unit) if not raw.error)
    try:
        return check_mapping(mapping, records)
    except TrajectoryFormatError:  # a document that cannot be read whole; the import says so
        return []


def check_source(mapping: FieldMapping, source: str | os.PathLike[str] | IO[bytes]) -> list[str]:
    """Check the mapping against a file's first records. A file that cannot be opened or read is
    left alone here (the import reports it); a mapping that fits none of its records raises."""
    try:
        f = open_binary(source)
    except OSError:
        return []
    try:
        try:
            sniffed = sniff(f)
        except TrajectoryFormatError:
            return []
        unit = GenericFormat(mapping).unit_for(sniffed.sample, sniffed.shape)
        return check_open_file(mapping, f, sniffed.shape, unit)
    finally:
        if isinstance(source, (str, os.PathLike)):
            f.close()
