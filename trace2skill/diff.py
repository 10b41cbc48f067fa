"""Line diffs of skill files (diff-match-patch line mode), hunks, renderers and partial accept.

The diff is computed once per pair of texts — ``diff_linesToChars`` → ``diff_main`` (no time
limit, so the same texts always give the same hunks) → ``diff_charsToLines`` — and cut into
change blocks (a run of deleted and/or inserted lines). Blocks closer than ``2 * context`` equal
lines share a hunk, as in ``diff -u``. Hunk indices are stable for a given pair of texts, which is
what partial accept relies on: ``apply_hunks(old, new, {0, 2})`` is the old text with only hunks 0
and 2 applied. Line numbers shown to people are 1-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from diff_match_patch import diff_match_patch

DEFAULT_CONTEXT = 3
NO_NEWLINE = "\\ No newline at end of file"


@dataclass(frozen=True)
class DiffLine:
    tag: Literal[" ", "-", "+"]
    text: str  # without its line break
    old_no: int | None  # 1-based
    new_no: int | None
    newline: bool = True  # False for a last line without a line break


@dataclass(frozen=True)
class Hunk:
    index: int
    old_start: int  # as in unified diffs: 1-based first line, or the line before when the count is 0
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[DiffLine, ...]

    @property
    def header(self) -> str:
        def span(start: int, count: int) -> str:
            return str(start) if count == 1 else f"{start},{count}"
        return f"@@ -{span(self.old_start, self.old_count)} +{span(self.new_start, self.new_count)} @@"


@dataclass(frozen=True)
class _Block:
    old_at: int  # 0-based index of the first old line
    old: tuple[str, ...]  # lines with their terminators
    new_at: int
    new: tuple[str, ...]


def _split_lf(text: str) -> list[str]:
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    return out + ([parts[-1]] if parts[-1] else [])


def _ops(old: str, new: str) -> list[tuple[int, list[str]]]:
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0  # deterministic: never fall back to a coarser diff under time pressure
    chars1, chars2, array = dmp.diff_linesToChars(old, new)
    diffs = dmp.diff_main(chars1, chars2, False)
    dmp.diff_charsToLines(diffs, array)
    return [(op, _split_lf(text)) for op, text in diffs if text]


def _blocks(old: str, new: str) -> tuple[list[str], list[str], list[_Block]]:
    """Old lines, new lines and the change blocks between them."""
    old_lines, new_lines, blocks = _split_lf(old), _split_lf(new), []
    i = j = 0
    pending: _Block | None = None
    for op, lines in _ops(old, new):
        if op == 0:
            if pending:
                blocks.append(pending)
                pending = None
            i, j = i + len(lines), j + len(lines)
            continue
        pending = pending or _Block(i, (), j, ())
        if op < 0:
            pending = _Block(pending.old_at, pending.old + tuple(lines), pending.new_at, pending.new)
            i += len(lines)
        else:
            pending = _Block(pending.old_at, pending.old, pending.new_at, pending.new + tuple(lines))
            j += len(lines)
    if pending:
        blocks.append(pending)
    return old_lines, new_lines, blocks


def _groups(blocks: list[_Block], context: int) -> list[list[int]]:
    groups: list[list[int]] = []
    for k, block in enumerate(blocks):
        if groups:
            prev = blocks[groups[-1][-1]]
            if block.old_at - (prev.old_at + len(prev.old)) <= 2 * context:
                groups[-1].append(k)
                continue
        groups.append([k])
    return groups


def _line(tag: Literal[" ", "-", "+"], raw: str, old_no: int | None, new_no: int | None) -> DiffLine:
    return DiffLine(tag, raw[:-1] if raw.endswith("\n") else raw, old_no, new_no, raw.endswith("\n"))


def diff_hunks(old: str, new: str, context: int = DEFAULT_CONTEXT) -> list[Hunk]:
    old_lines, new_lines, blocks = _blocks(old, new)
    hunks = []
    for index, group in enumerate(_groups(blocks, context)):
        first, last = blocks[group[0]], blocks[group[-1]]
        lead = min(context, first.old_at)
        o, n = first.old_at - lead, first.new_at - lead
        lines: list[DiffLine] = []
        for k in group:
            b = blocks[k]
            while o < b.old_at:
                lines.append(_line(" ", old_lines[o], o + 1, n + 1))
                o, n = o + 1, n + 1
            lines += [_line("-", raw, b.old_at + x + 1, None) for x, raw in enumerate(b.old)]
            lines += [_line("+", raw, None, b.new_at + x + 1) for x, raw in enumerate(b.new)]
            o, n = o + len(b.old), n + len(b.new)
        stop = min(len(old_lines), last.old_at + len(last.old) + context)
        while o < stop:
            lines.append(_line(" ", old_lines[o], o + 1, n + 1))
            o, n = o + 1, n + 1
        old_count = sum(1 for ln in lines if ln.tag != "+")
        new_count = sum(1 for ln in lines if ln.tag != "-")
        old_first, new_first = first.old_at - lead, first.new_at - lead
        hunks.append(Hunk(index, old_first + (1 if old_count else 0), old_count,
                          new_first + (1 if new_count else 0), new_count, tuple(lines)))
    return hunks


def unified_diff(old: str, new: str, *, old_name: str = "a", new_name: str = "b",
                 context: int = DEFAULT_CONTEXT) -> str:
    """``diff -u`` style text; empty when the texts are equal."""
    hunks = diff_hunks(old, new, context)
    if not hunks:
        return ""
    out = [f"--- {old_name}", f"+++ {new_name}"]
    for hunk in hunks:
        out.append(hunk.header)
        for ln in hunk.lines:
            out.append(f"{ln.tag}{ln.text}")
            if not ln.newline:
                out.append(NO_NEWLINE)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side view; `hunk` is set for rows inside a hunk (context included)."""

    old_no: int | None
    old_text: str | None
    new_no: int | None
    new_text: str | None
    tag: Literal["equal", "delete", "insert", "replace"]
    hunk: int | None = None


def side_by_side(old: str, new: str, *, context: int | None = None) -> list[Row]:
    """Rows for the whole file, or with `context` only the rows of hunks (that many context lines)."""
    ctx = DEFAULT_CONTEXT if context is None else context
    rows: list[Row] = []
    old_lines, new_lines, blocks = _blocks(old, new)
    groups = _groups(blocks, ctx)
    block_hunk = {k: h for h, group in enumerate(groups) for k in group}
    spans = []
    for group in groups:
        first, last = blocks[group[0]], blocks[group[-1]]
        spans.append((first.old_at - min(ctx, first.old_at), last.old_at + len(last.old) + ctx))
    o = n = 0

    def hunk_of_equal(at: int) -> int | None:
        return next((h for h, (lo, hi) in enumerate(spans) if lo <= at < hi), None)

    def strip(raw: str) -> str:
        return raw[:-1] if raw.endswith("\n") else raw

    for k, b in enumerate(blocks + [_Block(len(old_lines), (), len(new_lines), ())]):
        while o < b.old_at:
            rows.append(Row(o + 1, strip(old_lines[o]), n + 1, strip(new_lines[n]), "equal", hunk_of_equal(o)))
            o, n = o + 1, n + 1
        for x in range(max(len(b.old), len(b.new))):
            ot = strip(b.old[x]) if x < len(b.old) else None
            nt = strip(b.new[x]) if x < len(b.new) else None
            tag: Literal["replace", "delete", "insert"] = (
                "replace" if ot is not None and nt is not None else ("delete" if nt is None else "insert"))
            rows.append(Row(o + x + 1 if ot is not None else None, ot, n + x + 1 if nt is not None else None, nt,
                            tag, block_hunk.get(k)))
        o, n = o + len(b.old), n + len(b.new)
    return rows if context is None else [r for r in rows if r.hunk is not None]


def apply_hunks(old: str, new: str, accepted: Iterable[int], context: int = DEFAULT_CONTEXT) -> str:
    """`old` with only the accepted hunks of diff(old, new) applied (same `context` as shown)."""
    keep = set(accepted)
    old_lines, _new_lines, blocks = _blocks(old, new)
    block_hunk = {k: h for h, group in enumerate(_groups(blocks, context)) for k in group}
    out: list[str] = []
    o = 0
    for k, b in enumerate(blocks):
        out += old_lines[o:b.old_at]
        out += list(b.new if block_hunk[k] in keep else b.old)
        o = b.old_at + len(b.old)
    out += old_lines[o:]
    return "".join(out)


def added_lines(old: str, new: str) -> set[int]:
    """0-based indices of the lines of `new` that the diff inserts."""
    return {b.new_at + x for b in _blocks(old, new)[2] for x in range(len(b.new))}


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: Literal["added", "removed", "changed"]
    old_text: str
    new_text: str
    hunks: tuple[Hunk, ...]

    def unified(self) -> str:
        old_name = "/dev/null" if self.status == "added" else f"a/{self.path}"
        new_name = "/dev/null" if self.status == "removed" else f"b/{self.path}"
        return unified_diff(self.old_text, self.new_text, old_name=old_name, new_name=new_name)


def diff_files(old: Mapping[str, str], new: Mapping[str, str], context: int = DEFAULT_CONTEXT) -> list[FileDiff]:
    """Per-file diffs of two skill versions (SKILL.md first, then by path); unchanged files left out."""
    out = []
    for path in sorted(set(old) | set(new), key=lambda p: (p != "SKILL.md", p)):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        status: Literal["added", "removed", "changed"] = "added" if a is None else "removed" if b is None else "changed"
        out.append(FileDiff(path, status, a or "", b or "", tuple(diff_hunks(a or "", b or "", context))))
    return out


def accept_file_hunks(old: Mapping[str, str], new: Mapping[str, str], accepted: Mapping[str, Iterable[int]],
                      context: int = DEFAULT_CONTEXT) -> dict[str, str]:
    """Old files with the accepted hunks of each file applied. An added or removed file is one
    hunk (index 0): accepting it adds or removes the file. Files not named keep their old text."""
    out = dict(old)
    for fd in diff_files(old, new, context):
        keep = set(accepted.get(fd.path, ()))
        if fd.status == "added" and 0 in keep:
            out[fd.path] = fd.new_text
        elif fd.status == "removed" and 0 in keep:
            del out[fd.path]
        elif fd.status == "changed" and keep:
            out[fd.path] = apply_hunks(fd.old_text, fd.new_text, keep, context)
    return out
