"""Turn one edit into a planned change of the base skill's lines (or the reason it cannot apply).

Every edit is planned against the same frozen base, independently of the others (the method's
parallel, line-independent edits); `apply` then checks them against each other. A change replaces
base lines ``[start, end)`` of one file with new lines (``start == end``: a pure insertion).

Op semantics (``section`` is a title or ``A > B`` path; ``anchor`` is quoted existing text):
- ``insert_after`` / ``insert_before``: content goes on new lines after the last / before the
  first line of the anchor; ``section``, when given, narrows where the anchor is searched (an
  anchor not found there but found verbatim, once, elsewhere in the file is used there; the same
  holds for ``replace_in_section``).
- ``append_to_section``: content goes after the last non-blank line of the section's own text
  (before its first subsection), separated by a blank line; no section: the end of the file.
- ``replace_in_section``: the anchor text (inside the section, or anywhere without one) is replaced
  by the content; an empty content deletes it (lines left blank by that are removed).
- ``add_section``: when the content starts with a heading, that heading is the new section's;
  otherwise ``section`` (its last ``>`` segment) is the new title and a heading is written for it.
  It is placed after the existing section named by ``anchor`` — or by ``section`` when the content has its own heading
  and ``section`` is not the new title — and at the end of the file when neither is given. A
  generated heading takes the level of the section it follows (else 2, or the file's top level
  when that is deeper). A section with the same path as an existing one is refused.
- ``delete_section``: the section and its subsections are removed.
- ``create_file``: a new file directly under references/, scripts/ or assets/; refused when it
  exists. ``delete_file``: refused for SKILL.md and for missing files.
SKILL.md's frontmatter is never edited: anchors are searched in the body only.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

from trace2skill.errors import SkillPathError
from trace2skill.models import Edit
from trace2skill.skill.anchors import AnchorMatch, locate
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.frontmatter import parse_skill_md
from trace2skill.skill.paths import safe_relpath
from trace2skill.skill.sections import Section, heading, match_sections, normalise_title, parse_sections, split_lines
from trace2skill.skill.validate import RESOURCE_DIRS

SECTION_OPS = {"append_to_section", "add_section", "delete_section"}


@dataclass
class Change:
    edit_id: str
    order: int
    file: str
    start: int
    end: int
    lines: list[str] = field(default_factory=list)
    match: str = "exact"
    kind: str = "lines"  # "lines" | "create" | "delete_file"
    opens_level: int | None = None  # level of the heading the inserted block starts with
    anchor: tuple[int, int] | None = None  # base lines an insertion is placed by (anchor text, section heading)

    @property
    def is_insertion(self) -> bool:
        return self.kind == "lines" and self.start == self.end


@dataclass
class FileView:
    """A base file as lines, with its sections (line numbers of the whole file)."""

    path: str
    lines: list[str]
    trailing: bool
    floor: int  # first editable line (after SKILL.md's frontmatter)
    sections: list[Section]
    starts: list[int]  # character offset of each line in `text`
    text: str

    @classmethod
    def of(cls, path: str, text: str) -> FileView:
        lines, trailing = split_lines(text)
        floor = 0
        if path == SKILL_MD:
            header = parse_skill_md(text).header
            floor = header.count("\n") if header else 0
        markdown = path.endswith(".md")
        sections = [replace(s, start=s.start + floor, end=s.end + floor, body_end=s.body_end + floor)
                    for s in parse_sections(lines[floor:])] if markdown else []
        starts, pos = [], 0
        for line in lines:
            starts.append(pos)
            pos += len(line) + 1
        return cls(path, lines, trailing, floor, sections, starts, "\n".join(lines))

    @property
    def markdown(self) -> bool:
        return self.path.endswith(".md")

    def line_of(self, offset: int) -> int:
        return max(bisect.bisect_right(self.starts, offset) - 1, 0)

    def offset(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def last_text_line(self, start: int, end: int) -> int:
        """The last non-blank line in [start, end), or start - 1 when all are blank."""
        for i in range(min(end, len(self.lines)) - 1, start - 1, -1):
            if self.lines[i].strip():
                return i
        return start - 1

    def padded(self, at: int, block: list[str]) -> list[str]:
        """`block` with a blank line before it, and after it when the next line is not blank."""
        after = [""] if at < len(self.lines) and self.lines[at].strip() else []
        return ["", *block, *after] if at > 0 else [*block, *after]

    def section(self, query: str) -> Section | str:
        hits = match_sections(self.sections, query)
        if len(hits) == 1:
            return hits[0]
        if not hits:
            return f"section {query!r} not found in {self.path}"
        return f"section {query!r} is ambiguous in {self.path} ({len(hits)} sections match; give its path)"


def newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def content_block(content: str) -> list[str]:
    text = newlines(content).strip("\n")
    return text.split("\n") if text.strip() else []


def _opens(block: list[str]) -> int | None:
    first = next((line for line in block if line.strip()), None)
    found = heading(first) if first is not None else None
    return found[0] if found else None


def _anchor(view: FileView, edit: Edit) -> AnchorMatch | str:
    if not edit.anchor:
        return f"{edit.op} needs an anchor (existing text to place it by)"
    lo, hi = view.offset(view.floor), len(view.text)
    if edit.section:
        sec = view.section(edit.section)
        if isinstance(sec, str):
            return sec
        found = locate(view.text, edit.anchor, view.offset(sec.start), view.offset(sec.end))
        if isinstance(found, str):  # the section is a hint: a verbatim anchor elsewhere still places it
            anywhere = locate(view.text, edit.anchor, lo, hi)
            return anywhere if not isinstance(anywhere, str) and anywhere.kind == "exact" else found
        return found
    return locate(view.text, edit.anchor, lo, hi)


def _plan_anchor(view: FileView, edit: Edit, order: int, block: list[str]) -> Change | str:
    found = _anchor(view, edit)
    if isinstance(found, str):
        return found
    first, last = view.line_of(found.start), view.line_of(max(found.end - 1, found.start))
    if edit.op in ("insert_before", "insert_after"):
        at = first if edit.op == "insert_before" else last + 1
        return Change(edit.id, order, view.path, at, at, block, found.kind, opens_level=_opens(block),
                      anchor=(first, last + 1))
    before = view.lines[first][: found.start - view.starts[first]]
    after = view.lines[last][found.end - view.starts[last]:]
    joined = before + newlines(edit.content) + after
    new = joined.split("\n") if joined.strip() else []
    return Change(edit.id, order, view.path, first, last + 1, new, found.kind)


def _plan_append(view: FileView, edit: Edit, order: int, block: list[str]) -> Change | str:
    if edit.section:
        sec = view.section(edit.section)
        if isinstance(sec, str):
            return sec
        at = view.last_text_line(sec.start, sec.body_end) + 1
        return Change(edit.id, order, view.path, at, at, view.padded(at, block), anchor=(sec.start, sec.start + 1))
    at = view.last_text_line(view.floor, len(view.lines)) + 1
    return Change(edit.id, order, view.path, at, at, view.padded(at, block))


def _plan_add(view: FileView, edit: Edit, order: int, block: list[str]) -> Change | str:
    own = heading(block[0]) if block else None
    if own is None and not edit.section:
        return "add_section needs a title: start the content with a heading or name it in 'section'"
    last = (edit.section or "").split(">")[-1].strip().lstrip("#").strip()
    title = own[1] if own else last
    target_q = edit.anchor or (edit.section if own and normalise_title(last) != normalise_title(title) else None)
    target: Section | None = None
    if target_q:
        found = view.section(target_q)
        if isinstance(found, str):
            return f"cannot place the new section: {found}"
        target = found
    if own:
        level = own[0]
    elif target is not None:
        level = target.level
    else:
        levels = [s.level for s in view.sections if s.level > 0]
        level = 2 if not levels or 1 in levels else min(levels)
    if not own:
        block = [f"{'#' * level} {title}", "", *block]
    span = (target.start, target.end) if target is not None else (view.floor, len(view.lines))
    at = view.last_text_line(*span) + 1
    around = [s for s in view.sections if 0 < s.level < level and s.start < at <= s.end]
    parent = [normalise_title(t) for t in max(around, key=lambda s: s.level).path] if around else []
    for s in view.sections:
        if (s.level == level and normalise_title(s.title) == normalise_title(title)
                and [normalise_title(t) for t in s.path[:-1]] == parent):
            return f"section {s.path_str!r} already exists; use append_to_section to add to it"
    anchor = (target.start, target.start + 1) if target is not None else None
    return Change(edit.id, order, view.path, at, at, view.padded(at, block), opens_level=level, anchor=anchor)


def _plan_file(edit: Edit, order: int, path: str, files: dict[str, str]) -> Change | str:
    if edit.op == "delete_file":
        if path == SKILL_MD:
            return "SKILL.md cannot be deleted"
        if path not in files:
            return f"cannot delete {path}: the skill has no such file"
        return Change(edit.id, order, path, 0, 0, [], kind="delete_file")
    parts = path.split("/")
    if len(parts) != 2 or parts[0] not in RESOURCE_DIRS:
        return f"new files go directly under references/, scripts/ or assets/ (one level deep), not {path}"
    if path in files:
        return f"{path} already exists; edit it instead of creating it"
    block = content_block(edit.content)
    if not block:
        return "create_file needs content"
    return Change(edit.id, order, path, 0, 0, block, kind="create")


def existing_path(path: str, files: dict[str, str]) -> str:
    """`path`, or the one existing file it names up to letter case (models often write `skill.md`)."""
    if path in files:
        return path
    same = [name for name in files if name.lower() == path.lower()]
    return same[0] if len(same) == 1 else path


def plan_edit(edit: Edit, order: int, files: dict[str, str], views: dict[str, FileView]) -> Change | str:
    """The planned change for one edit against the base files, or why it cannot apply."""
    try:
        path = safe_relpath(edit.file or SKILL_MD)
    except SkillPathError as exc:
        return str(exc)
    if edit.op != "create_file":
        path = existing_path(path, files)
    if edit.op in ("create_file", "delete_file"):
        return _plan_file(edit, order, path, files)
    if path not in files:
        return f"{path} is not a file of the skill (edits to missing files are rejected)"
    view = views.setdefault(path, FileView.of(path, files[path]))
    if (edit.op in SECTION_OPS or edit.section) and not view.markdown:
        return f"{path} is not markdown; it has no sections to target"
    block = content_block(edit.content)
    if edit.op in ("insert_after", "insert_before", "append_to_section", "add_section") and not block:
        return f"{edit.op} needs content"
    if edit.op in ("insert_after", "insert_before", "replace_in_section"):
        return _plan_anchor(view, edit, order, block)
    if edit.op == "append_to_section":
        return _plan_append(view, edit, order, block)
    if edit.op == "add_section":
        return _plan_add(view, edit, order, block)
    if edit.op == "delete_section":
        if not edit.section:
            return "delete_section needs the section's title"
        sec = view.section(edit.section)
        return sec if isinstance(sec, str) else Change(edit.id, order, path, sec.start, sec.end, [])
    return f"unknown operation {edit.op!r}"
