"""SKILL.md = YAML frontmatter between ``---`` lines + a markdown body.

Parsing is lenient (human-written skills break the rules): frontmatter that is not valid YAML is
read as plain ``key: value`` lines with a problem noted; a file without frontmatter is all body.
The exact header text is kept, so a skill whose frontmatter was not changed is written back byte
for byte. New frontmatter is written deterministically in block style (key order kept), which the
reference validator's strict YAML parser accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

FENCE = "---"


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text (a skill's ``date: 2024-05-15`` must round-trip) and
    refuses aliases (no "billion laughs" structures from an uploaded skill)."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not accepted in frontmatter")
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class ParsedSkillMd:
    frontmatter: dict[str, Any]
    body: str
    header: str | None  # the original text up to and including the closing fence line
    problems: list[str] = field(default_factory=list)


def normalise_newlines(text: str) -> str:
    """CRLF/CR -> LF and no byte-order mark: every line-based operation assumes LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _plain_lines(yaml_text: str) -> dict[str, Any]:
    """Fallback for invalid YAML: top-level ``key: value`` lines; indented lines continue a value."""
    out: dict[str, Any] = {}
    last: str | None = None
    for line in yaml_text.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[:1] in (" ", "\t") and last is not None:
            out[last] = f"{out[last]} {line.strip()}".strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        out[last] = value.strip().strip("'\"") if value.strip() else ""
    return out


def parse_skill_md(text: str) -> ParsedSkillMd:
    """Split SKILL.md text into frontmatter (a dict, key order kept), body and the raw header."""
    text = normalise_newlines(text)
    first, nl, rest = text.partition("\n")
    if first.rstrip() != FENCE:
        return ParsedSkillMd({}, text, None, ["SKILL.md has no YAML frontmatter (it should start with a '---' line)"])
    offset = len(first) + len(nl)
    yaml_lines: list[str] = []
    pos = offset
    closed = False
    for line in rest.split("\n"):
        pos += len(line) + 1
        if line.rstrip() == FENCE:
            closed = True
            break
        yaml_lines.append(line)
    if not closed:
        return ParsedSkillMd({}, text, None, ["SKILL.md frontmatter is not closed with a '---' line"])
    pos = min(pos, len(text))
    header, body = text[:pos], text[pos:]
    yaml_text = "\n".join(yaml_lines)
    problems: list[str] = []
    try:
        loaded = yaml.load(yaml_text, Loader=_Loader) if yaml_text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problems.append(f"frontmatter is not valid YAML{where}; read as plain 'key: value' lines")
        loaded = _plain_lines(yaml_text)
    if not isinstance(loaded, dict):
        problems.append("frontmatter is not a YAML mapping of keys to values; ignored")
        loaded = {}
    frontmatter = {str(k): v for k, v in loaded.items()}
    return ParsedSkillMd(frontmatter, body, header, problems)


def dump_frontmatter(frontmatter: dict[str, Any]) -> str:
    """Block-style YAML, key order kept, long lines never folded; ends with a newline."""
    if not frontmatter:
        return ""
    return yaml.safe_dump(frontmatter, sort_keys=False, allow_unicode=True, default_flow_style=False,
                          width=1_000_000)


def render_skill_md(frontmatter: dict[str, Any], body: str) -> str:
    return f"{FENCE}\n{dump_frontmatter(frontmatter)}{FENCE}\n{body}"


def header_line_count(skill_md: str) -> int:
    """How many lines of SKILL.md text belong to the frontmatter block (fences included)."""
    parsed = parse_skill_md(skill_md)
    return 0 if parsed.header is None else parsed.header.count("\n") + (0 if parsed.header.endswith("\n") else 1)
