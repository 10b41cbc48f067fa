"""Markdown sections of a skill file, so edits (and locks) can target them by title.

A section starts at an ATX heading (``#`` … ``######``; headings inside fenced code blocks do not
count; setext headings are not used by skills and are ignored) and ends before the next heading
of the same or a higher level — so it includes its subsections. Lines before the first heading
form the preamble (level 0, empty path). Titles are matched case-insensitively, ignoring
punctuation, emoji and markdown emphasis; a query is a bare title (``Book flight``) or a path
whose segments are separated by ``>`` (``Airline Agent Policy > Book flight``), matched against
the end of a section's path. Line numbers here are 0-based indices into the file's lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING = re.compile(r"(?:^|[ \t]+)#+$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_NON_WORD = re.compile(r"[^\w]+")
PATH_SEP = " > "


@dataclass(frozen=True)
class Section:
    title: str
    level: int  # 1-6; 0 for the preamble
    path: tuple[str, ...]  # titles from the top-level ancestor down to this section
    start: int  # line of the heading (preamble: 0)
    end: int  # exclusive: next heading of the same or a higher level, or end of file
    body_end: int  # exclusive end of the section's own text: its first subsection, or `end`

    @property
    def path_str(self) -> str:
        return PATH_SEP.join(self.path)

    def contains(self, line: int) -> bool:
        return self.start <= line < self.end


def split_lines(text: str) -> tuple[list[str], bool]:
    """Lines of `text` split on LF only, and whether it ended with a newline."""
    if not text:
        return [], False
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        return lines, True
    return lines, False


def join_lines(lines: list[str], trailing_newline: bool) -> str:
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if trailing_newline else "")


def code_mask(lines: list[str]) -> list[bool]:
    """True for each line inside (or fencing) a fenced code block."""
    mask, fence = [], None
    for line in lines:
        m = _FENCE.match(line)
        if m and fence is None:
            fence = m.group(1)[0] * len(m.group(1))
            mask.append(True)
        elif m and fence is not None and m.group(1).startswith(fence) and not line.strip()[len(m.group(1)):].strip():
            fence = None
            mask.append(True)
        else:
            mask.append(fence is not None)
    return mask


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) when the line is an ATX heading."""
    m = _HEADING.match(line)
    if not m:
        return None
    title = _CLOSING.sub("", m.group(2) or "").strip()
    return len(m.group(1)), title


def parse_sections(lines: list[str] | str) -> list[Section]:
    """All sections in document order (the preamble first, when there is text before a heading)."""
    if isinstance(lines, str):
        lines = split_lines(lines)[0]
    mask = code_mask(lines)
    heads = [(i, *h) for i, line in enumerate(lines) if not mask[i] and (h := heading(line)) is not None]
    out: list[Section] = []
    first = heads[0][0] if heads else len(lines)
    if first > 0 or not heads:
        out.append(Section("", 0, (), 0, first, first))
    stack: list[tuple[int, str]] = []
    for k, (i, level, title) in enumerate(heads):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = next((j for j, lv, _ in heads[k + 1:] if lv <= level), len(lines))
        body_end = heads[k + 1][0] if k + 1 < len(heads) and heads[k + 1][0] < end else end
        out.append(Section(title, level, tuple(t for _, t in stack), i, end, body_end))
    return out


def normalise_title(title: str) -> str:
    return " ".join(_NON_WORD.sub(" ", title.replace("_", " ")).casefold().split())


def _query_parts(query: str) -> list[str]:
    query = query.strip().lstrip("#").strip()
    return [normalise_title(p) for p in query.split(">")] if query else []


def match_sections(sections: Iterable[Section], query: str) -> list[Section]:
    """Sections whose path ends with the query's segments (best: those matching the full path)."""
    parts = _query_parts(query)
    if not parts or not all(parts):
        return []
    hits = [s for s in sections if s.level > 0 and len(s.path) >= len(parts)
            and [normalise_title(t) for t in s.path[-len(parts):]] == parts]
    exact = [s for s in hits if len(s.path) == len(parts)]
    return exact if len(exact) == 1 else hits


def find_section(sections: Iterable[Section], query: str) -> Section | None:
    """The one section a query names, or None when none or several match."""
    hits = match_sections(sections, query)
    return hits[0] if len(hits) == 1 else None


def innermost(sections: Iterable[Section], line: int) -> Section | None:
    best = None
    for s in sections:
        if s.contains(line) and (best is None or s.level > best.level):
            best = s
    return best


def locked_spans(sections: list[Section], locked: Iterable[str]) -> list[tuple[Section, str]]:
    """Each section a lock names (every match, when a title is ambiguous), with the lock's text."""
    out = []
    for title in locked:
        for s in match_sections(sections, title):
            out.append((s, title))
    return out
