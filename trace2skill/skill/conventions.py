"""Our own conventions for a skill folder, stricter than the Agent Skills spec: always warnings.

The spec (and its reference validator) accepts any layout; these say where we would rather see
things, and never block a consolidation, a save or an export:

- ``stray_files``: files beside SKILL.md (a flat layout; a LICENSE/COPYING/NOTICE file, or the file
  named by ``license:``, is fine there), reported once with the files it concerns;
- ``nested_file``: a file more than one level deep under references/, scripts/ or assets/;
- ``unknown_folder``: another top-level folder (with a hint: ``reference/`` -> references/);
- ``dangling_link`` / ``link_outside``: a markdown link in SKILL.md to a file the skill lacks, or
  to a place outside the skill folder;
- ``dangling_mention``: a references/, scripts/ or assets/ path named in a markdown file that the
  skill lacks;
- ``body_empty``: no instructions after the frontmatter;
- ``license_format``, ``allowed_tools_format``, ``metadata_format``, ``compatibility_format``:
  frontmatter values the spec describes as text (allowed-tools: space-delimited tool names) or,
  for metadata, as a mapping of keys to text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.paths import is_safe_relpath, safe_relpath
from trace2skill.skill.sections import code_mask
from trace2skill.skill.validate import MAX_SKILL_MD_LINES, RESOURCE_DIRS, Finding, line_count, validate_skill

LICENSE_RE = re.compile(r"^(?:licen[cs]e|copying|notice)(?:[.-][\w.-]+)?$", re.IGNORECASE)
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_MENTION = re.compile(r"(?<![\w/.\-])(?:\./)?((?:references|scripts|assets)/[\w.\-/]*\w)")
_HINTS = {"reference": "references", "ref": "references", "refs": "references", "docs": "references",
          "script": "scripts", "bin": "scripts", "asset": "assets", "resources": "assets"}
_LISTED = 5  # files named in one grouped finding


def iter_prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for lines outside fenced code blocks."""
    lines = text.split("\n")
    for n, (line, in_code) in enumerate(zip(lines, code_mask(lines)), start=1):
        if not in_code:
            yield n, line


def local_links(text: str) -> Iterator[tuple[int, str]]:
    """(line, target) for markdown links to local files (no URLs, no in-page anchors)."""
    for n, line in iter_prose_lines(text):
        targets = [m.group(1) for m in _LINK.finditer(line)]
        ref = _REF_DEF.match(line)
        if ref:
            targets.append(ref.group(1))
        for target in targets:
            if _SCHEME.match(target) or target.startswith("#"):
                continue
            path = unquote(target.split("#", 1)[0].split("?", 1)[0])
            if path:
                yield n, path


def _exists(path: str, paths: set[str]) -> bool:
    path = path.rstrip("/")
    return path in paths or any(p.startswith(path + "/") for p in paths)


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    return shown + (f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else "")


def _layout(folder: SkillFolder) -> Iterator[Finding]:
    stray: list[str] = []
    unknown: dict[str, int] = {}
    for path in sorted(folder.files):
        parts = path.split("/")
        if len(parts) == 1:
            if not LICENSE_RE.match(path) and folder.frontmatter.get("license") != path:
                stray.append(path)
        elif parts[0] in RESOURCE_DIRS:
            if len(parts) > 2:
                yield Finding("warning", "nested_file", f"{path} is nested; we suggest files directly in "
                              f"{parts[0]}/ (one level deep)", path)
        else:
            unknown[parts[0]] = unknown.get(parts[0], 0) + 1
    if stray:
        many = len(stray) != 1
        yield Finding("warning", "stray_files", f"{len(stray)} file{'s' * many} sit{'s' * (not many)} beside SKILL.md "
                      f"({_listing(stray)}): a valid flat layout, though references/, scripts/ or assets/ would "
                      "keep the skill tidier")
    for top, count in unknown.items():
        hint = f"; did you mean {_HINTS[top]}/?" if top in _HINTS else ""
        yield Finding("warning", "unknown_folder", f"{top}/ ({count} file{'s' * (count != 1)}) is not one of "
                      f"references/, scripts/, assets/{hint}", f"{top}/")


def _links(folder: SkillFolder, skill_md: str) -> Iterator[Finding]:
    paths = set(folder.files) | {SKILL_MD}
    for n, target in local_links(skill_md):
        if target.startswith("/") or not is_safe_relpath(target):
            yield Finding("warning", "link_outside", f"link {target!r} leaves the skill folder; link files inside it",
                          SKILL_MD, n)
        elif not _exists(safe_relpath(target), paths):
            yield Finding("warning", "dangling_link", f"link {target!r} points to a file the skill does not have",
                          SKILL_MD, n)


def _mentions(folder: SkillFolder, files: dict[str, str]) -> Iterator[Finding]:
    paths = set(folder.files)
    for fname, text in files.items():
        if not fname.endswith(".md"):
            continue
        seen: set[str] = set()
        for n, line in enumerate(text.split("\n"), start=1):  # code blocks too: `python scripts/x.py`
            for m in _MENTION.finditer(line):
                path = m.group(1)
                if path in seen or _exists(path, paths) or m.start() > 0 and line[m.start() - 1] == "(":
                    continue
                seen.add(path)
                yield Finding("warning", "dangling_mention", f"{path} is mentioned but the skill has no such file",
                              fname, n)


def _field_formats(folder: SkillFolder) -> Iterator[Finding]:
    fm = folder.frontmatter
    for key in ("license", "allowed-tools"):
        if key in fm and not isinstance(fm[key], str):
            yield Finding("warning", f"{key.replace('-', '_')}_format", f"'{key}' is best written as text" + (
                " (a space-delimited list of tool names)" if key == "allowed-tools" else ""))
    if "compatibility" in fm and isinstance(fm["compatibility"], str) and not fm["compatibility"].strip():
        yield Finding("warning", "compatibility_format", "'compatibility' is empty; say what the skill needs or "
                      "remove the key")
    if "metadata" in fm and not isinstance(fm["metadata"], dict):
        yield Finding("warning", "metadata_format", "'metadata' is best a mapping of keys to text values")


def convention_findings(folder: SkillFolder) -> list[Finding]:
    """Warnings where the skill departs from our conventions (see the module docstring)."""
    files = folder.as_files()
    found = list(_field_formats(folder))
    if not folder.body.strip():
        found.append(Finding("warning", "body_empty", "SKILL.md has no instructions after the frontmatter"))
    found += _layout(folder)
    found += _links(folder, files[SKILL_MD])
    found += _mentions(folder, files)
    return found


def import_findings(folder: SkillFolder, dirname: str | None = None) -> list[Finding]:
    """What an import of a human-written skill reports, all as warnings: the import's notes, the
    spec checks (lenient), our conventions and SKILL.md's length."""
    found = validate_skill(folder, strict=False, dirname=dirname) + convention_findings(folder)
    n = line_count(folder.skill_md())
    if n >= MAX_SKILL_MD_LINES:
        found.append(Finding("warning", "skill_md_too_long", f"SKILL.md has {n} lines; the spec recommends under "
                             f"{MAX_SKILL_MD_LINES}, with detail moved to references/"))
    return found


__all__ = ["convention_findings", "import_findings", "local_links", "iter_prose_lines", "LICENSE_RE"]
