"""Agent Skills spec checks (agentskills.io), judged as the reference validator judges them.

What the reference validator (`skills-ref validate`, package skills-ref) accepts is accepted here,
and what it refuses is refused: SKILL.md must start with a ``---`` frontmatter block that is a YAML
mapping under StrictYAML's rules (every value is text; no type tags, anchors, ``{…}``/``[…]``
flow collections or duplicate keys); only the keys name, description, license, compatibility,
metadata and allowed-tools; a name of at most 64 lowercase letters (any alphabet), digits and
single inner hyphens, equal to the folder name; a non-empty description of at most 1024
characters; compatibility, when given, text of at most 500 characters. Nothing else is a spec
error: where files sit, links and SKILL.md's length are our conventions
(`trace2skill.skill.conventions`), reported as warnings, never errors.

The text checked is the SKILL.md the skill would be exported with (`SkillFolder.skill_md`).
Strict mode (what we generate and export): every breach is an error. Lenient mode (importing a
human-written skill): the same checks as warnings, plus the import's own notes; nothing refused.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from trace2skill.skill.folder import SKILL_MD, SkillFolder

Severity = Literal["error", "warning", "info"]

ALLOWED_KEYS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
RESOURCE_DIRS = ("references", "scripts", "assets")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_SKILL_MD_LINES = 500  # the spec recommends keeping SKILL.md under this many lines
FENCE = "---"
_REFUSED_TOKENS: tuple[tuple[type, str], ...] = (
    (yaml.TagToken, "a type tag (such as !!str)"),
    (yaml.AnchorToken, "an anchor (&name)"),
    (yaml.FlowMappingStartToken, "a {…} mapping written on one line"),
    (yaml.FlowSequenceStartToken, "a […] list written on one line"),
)


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


# --------------------------------------------------------------------------- frontmatter, read strictly


class FrontmatterError(ValueError):
    """SKILL.md's frontmatter cannot be read under the reference validator's rules."""


def _strict_data(node: yaml.Node | None) -> Any:
    """Dicts, lists and text from a composed YAML node; duplicate keys, keys that are not text and
    nested mappings indented unlike their siblings are refused (as StrictYAML refuses them)."""
    if node is None:
        return ""
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_strict_data(item) for item in node.value]
    out: dict[str, Any] = {}
    columns = {v.start_mark.column for _, v in node.value if isinstance(v, yaml.MappingNode)}
    if len(columns) > 1:
        raise FrontmatterError(f"line {node.start_mark.line + 1}: nested mappings are indented inconsistently")
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise FrontmatterError(f"line {key.start_mark.line + 1}: a key must be plain text")
        if key.value in out:
            raise FrontmatterError(f"line {key.start_mark.line + 1}: the key {key.value!r} appears twice")
        out[key.value] = _strict_data(value)
    return out


def strict_frontmatter(skill_md: str) -> dict[str, Any]:
    """SKILL.md's frontmatter as the reference validator reads it: the text between the opening
    ``---`` and the next ``---`` (wherever it is), StrictYAML's rules, a mapping of text values.
    Raises `FrontmatterError` with the reason (its line numbers count SKILL.md's lines)."""
    if not skill_md.startswith(FENCE):
        raise FrontmatterError("SKILL.md must start with a '---' line that opens the frontmatter")
    parts = skill_md.split(FENCE, 2)
    if len(parts) < 3:
        raise FrontmatterError("the frontmatter is not closed with a '---' line")
    text = parts[1]
    try:
        for token in yaml.scan(text, Loader=yaml.BaseLoader):
            refused = next((what for kind, what in _REFUSED_TOKENS if isinstance(token, kind)), None)
            if refused:
                raise FrontmatterError(f"line {token.start_mark.line + 1}: the frontmatter uses {refused}, which the "
                                       "Agent Skills validator does not accept; write it as plain text or a "
                                       "'- item' list")
        node = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        raise FrontmatterError(f"{where}the frontmatter is not valid YAML ({problem})") from exc
    data = _strict_data(node)
    if not isinstance(data, dict):
        raise FrontmatterError("the frontmatter must be a mapping of keys to values (name: …, description: …)")
    return data


# --------------------------------------------------------------------------- the spec's rules


def _name(fm: dict[str, Any], dirname: str | None) -> Iterator[tuple[str, str]]:
    raw = fm.get("name")
    if "name" not in fm or (isinstance(raw, str) and not raw.strip()):
        yield "name_missing", "frontmatter has no 'name'; add a lowercase-hyphenated name"
        return
    if not isinstance(raw, str):
        yield "name_format", "'name' must be text, not a list or a mapping"
        return
    name = unicodedata.normalize("NFKC", raw.strip())
    if len(name) > MAX_NAME:
        yield "name_too_long", f"name is {len(name)} characters; at most {MAX_NAME}"
    if name != name.lower():
        yield "name_format", f"name {name!r} must be lowercase"
    if name.startswith("-") or name.endswith("-"):
        yield "name_format", f"name {name!r} must not start or end with a hyphen"
    if "--" in name:
        yield "name_format", f"name {name!r} must not contain two hyphens in a row"
    if not all(c.isalnum() or c == "-" for c in name):
        yield "name_format", f"name {name!r} may hold only letters, digits and hyphens"
    if dirname is not None and unicodedata.normalize("NFKC", dirname) != name:
        yield "name_mismatch", f"name {name!r} differs from its folder name {dirname!r}"


def _fields(fm: dict[str, Any]) -> Iterator[tuple[str, str]]:
    desc = fm.get("description")
    if "description" not in fm or (isinstance(desc, str) and not desc.strip()):
        yield "description_missing", "frontmatter has no 'description'; say what the skill does and when to use it"
    elif not isinstance(desc, str):
        yield "description_format", "'description' must be text, not a list or a mapping"
    elif len(desc) > MAX_DESCRIPTION:
        yield "description_too_long", f"description is {len(desc)} characters; at most {MAX_DESCRIPTION}"
    extra = [k for k in fm if k not in ALLOWED_KEYS]
    if extra:
        yield "frontmatter_keys", (f"unexpected frontmatter keys: {', '.join(extra)}; allowed are "
                                   f"{', '.join(ALLOWED_KEYS)} (put other data under 'metadata')")
    if "compatibility" in fm:
        comp = fm["compatibility"]
        if not isinstance(comp, str):
            yield "compatibility_format", "'compatibility' must be text, not a list or a mapping"
        elif len(comp) > MAX_COMPATIBILITY:
            yield "compatibility_too_long", f"compatibility is {len(comp)} characters; at most {MAX_COMPATIBILITY}"


def spec_problems(skill_md: str, dirname: str | None = None) -> list[tuple[str, str]]:
    """(code, message) for each rule of the spec that SKILL.md's text breaks; `dirname`: the folder
    name it will have (None: not checked)."""
    try:
        fm = strict_frontmatter(skill_md)
    except FrontmatterError as exc:
        return [("frontmatter_format", str(exc))]
    return [*_name(fm, dirname), *_fields(fm)]


def validate_skill(folder: SkillFolder, *, strict: bool = True, dirname: str | None = None) -> list[Finding]:
    """Spec findings for a skill: errors (strict) or warnings (lenient) exactly where the reference
    validator refuses it. `dirname`: the folder name it will have (checked against name)."""
    severity: Severity = "error" if strict else "warning"
    found = [Finding(severity, code, msg) for code, msg in spec_problems(folder.skill_md(), dirname)]
    if not strict:
        found = [Finding("warning", "import_note", w, "") for w in folder.warnings] + found
    return found


def describe(finding: Finding) -> str:
    """One line for people: ``file:line: message`` (the message alone for a note about no file, or
    one that already starts by naming its file, so no line reads "SKILL.md: SKILL.md: …")."""
    if not finding.file or (not finding.line and finding.message.startswith(finding.file.rstrip("/"))):
        return finding.message
    return f"{finding.file}{f':{finding.line}' if finding.line else ''}: {finding.message}"


__all__ = ["Finding", "Severity", "has_errors", "validate_skill", "describe", "spec_problems", "strict_frontmatter",
           "FrontmatterError", "line_count", "ALLOWED_KEYS", "RESOURCE_DIRS", "MAX_SKILL_MD_LINES"]
