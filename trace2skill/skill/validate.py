"""Agent Skills spec checks (agentskills.io) with severities.

Strict mode is for what we generate and export: every breach is an error. Lenient mode is for
importing human-written skills: the same checks, all reported as warnings (plus the import's own
notes), nothing refused — unsafe paths never get this far (they raise while reading).

Rules: name 1–64 chars of lowercase ASCII letters, digits and single inner hyphens, equal to the
folder name; description 1–1024 chars; frontmatter keys limited to the spec's six; compatibility
≤ 500 chars; metadata a mapping; allowed-tools a space-delimited string; SKILL.md under 500 lines;
other files one level deep under references/, scripts/ or assets/ (a top-level LICENSE file is
allowed); markdown links in SKILL.md to local files must resolve. Paths under those folders that
any markdown file mentions but the skill lacks are warnings in both modes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import unquote

from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.paths import is_safe_relpath, safe_relpath
from trace2skill.skill.sections import code_mask

Severity = Literal["error", "warning", "info"]

ALLOWED_KEYS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
RESOURCE_DIRS = ("references", "scripts", "assets")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_SKILL_MD_LINES = 500  # SKILL.md must stay under this many lines
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LICENSE_RE = re.compile(r"^(?:licen[cs]e|copying|notice)(?:[.-][\w.-]+)?$", re.IGNORECASE)
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_MENTION = re.compile(r"(?<![\w/.\-])(?:\./)?((?:references|scripts|assets)/[\w.\-/]*\w)")
_HINTS = {"reference": "references", "ref": "references", "refs": "references", "docs": "references",
          "script": "scripts", "bin": "scripts", "asset": "assets", "resources": "assets"}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    file: str = SKILL_MD
    line: int | None = None  # 1-based, as editors and linters count


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def line_count(text: str) -> int:
    return len(text.split("\n")) - (1 if text.endswith("\n") else 0) if text else 0


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


def _frontmatter(folder: SkillFolder, dirname: str | None) -> Iterator[tuple[str, str]]:
    fm = folder.frontmatter
    name = fm.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        yield "name_missing", "frontmatter has no 'name'; add a lowercase-hyphenated name"
    elif not isinstance(name, str):
        yield "name_format", f"'name' must be text, not {type(name).__name__}"
    else:
        if len(name) > MAX_NAME:
            yield "name_too_long", f"name is {len(name)} characters; at most {MAX_NAME}"
        if not NAME_RE.match(name):
            yield "name_format", (f"name {name!r} must be lowercase letters, digits and single hyphens, "
                                  "not starting or ending with a hyphen")
        if dirname is not None and dirname != name:
            yield "name_mismatch", f"name {name!r} differs from its folder name {dirname!r}"
    desc = fm.get("description")
    if desc is None or (isinstance(desc, str) and not desc.strip()):
        yield "description_missing", "frontmatter has no 'description'; say what the skill does and when to use it"
    elif not isinstance(desc, str):
        yield "description_format", f"'description' must be text, not {type(desc).__name__}"
    elif len(desc) > MAX_DESCRIPTION:
        yield "description_too_long", f"description is {len(desc)} characters; at most {MAX_DESCRIPTION}"
    extra = [k for k in fm if k not in ALLOWED_KEYS]
    if extra:
        yield "frontmatter_keys", (f"unexpected frontmatter keys: {', '.join(extra)}; allowed are "
                                   f"{', '.join(ALLOWED_KEYS)} (put other data under 'metadata')")
    for key in ("license", "allowed-tools"):
        if key in fm and not isinstance(fm[key], str):
            yield f"{key.replace('-', '_')}_format", f"'{key}' must be text" + (
                " (a space-delimited list of tool names)" if key == "allowed-tools" else "")
    if "compatibility" in fm:
        comp = fm["compatibility"]
        if not isinstance(comp, str) or not comp.strip() or len(comp) > MAX_COMPATIBILITY:
            yield "compatibility_format", f"'compatibility' must be text of 1–{MAX_COMPATIBILITY} characters"
    if "metadata" in fm and not isinstance(fm["metadata"], dict):
        yield "metadata_format", "'metadata' must be a mapping of keys to text values"


def _layout(folder: SkillFolder) -> Iterator[tuple[str, str, str]]:
    unknown: dict[str, int] = {}
    for path in sorted(folder.files):
        parts = path.split("/")
        if len(parts) == 1:
            if not LICENSE_RE.match(path) and folder.frontmatter.get("license") != path:
                yield "stray_file", path, f"{path} is at the top level; put it under references/, scripts/ or assets/"
        elif parts[0] in RESOURCE_DIRS:
            if len(parts) > 2:
                yield "nested_file", path, f"{path} is nested; files go directly in {parts[0]}/ (one level deep)"
        else:
            unknown[parts[0]] = unknown.get(parts[0], 0) + 1
    for top, count in unknown.items():
        hint = f"; did you mean {_HINTS[top]}/?" if top in _HINTS else ""
        yield "unknown_folder", f"{top}/", (f"{top}/ ({count} file{'s' * (count != 1)}) is not one of "
                                            f"references/, scripts/, assets/{hint}")


def _links(folder: SkillFolder, skill_md: str) -> Iterator[tuple[str, str, int, str]]:
    paths = set(folder.files) | {SKILL_MD}
    for n, target in local_links(skill_md):
        if target.startswith("/") or not is_safe_relpath(target):
            yield "link_outside", SKILL_MD, n, f"link {target!r} leaves the skill folder; link files inside it"
            continue
        rel = safe_relpath(target)
        if not _exists(rel, paths):
            yield "dangling_link", SKILL_MD, n, f"link {target!r} points to a file the skill does not have"


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


def validate_skill(folder: SkillFolder, *, strict: bool = True, dirname: str | None = None) -> list[Finding]:
    """Spec findings for a skill. `dirname`: the folder name it will have (checked against name)."""
    files = folder.as_files()
    skill_md = files[SKILL_MD]
    found: list[Finding] = []
    found += [Finding("error", code, msg) for code, msg in _frontmatter(folder, dirname)]
    n_lines = line_count(skill_md)
    if n_lines >= MAX_SKILL_MD_LINES:
        found.append(Finding("error", "skill_md_too_long",
                             f"SKILL.md has {n_lines} lines; keep it under {MAX_SKILL_MD_LINES} and move detail "
                             "to references/"))
    if not folder.body.strip():
        found.append(Finding("warning", "body_empty", "SKILL.md has no instructions after the frontmatter"))
    found += [Finding("error", code, msg, path) for code, path, msg in _layout(folder)]
    found += [Finding("error", code, msg, f, n) for code, f, n, msg in _links(folder, skill_md)]
    found += list(_mentions(folder, files))
    if not strict:
        found = [replace(f, severity="warning") if f.severity == "error" else f for f in found]
        found = [Finding("warning", "import_note", w) for w in folder.warnings] + found
    return found
