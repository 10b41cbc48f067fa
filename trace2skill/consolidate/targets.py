"""Edit targets the model may name, as a JSON schema tailored to one base skill.

The proposer's and the merger's output models stay lenient (any file, any section): an edit that
names a missing target is rejected later by `skill.apply` with its reason, never fatal to the whole
answer. What the endpoint is *sent* is narrower: `file` is one of the skill's files or a new file
directly under references/, scripts/ or assets/, and `section` is one of the skill's existing
section titles or empty. A constrained decoder (llama.cpp's grammar, OpenAI's strict mode) then
cannot invent `skills.md` or a section called `1`; a new section is written as a heading at the
start of `content`, with `section` naming the existing section it follows (see skill/plan.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel

from trace2skill.llm.schema import strict_schema
from trace2skill.skill.frontmatter import parse_skill_md
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.sections import parse_sections

NEW_FILE_PATTERN = r"^(references|scripts|assets)/[a-z0-9][a-z0-9_-]{0,60}\.(md|txt|py|sh|json)$"
MAX_SECTIONS = 200


def section_choices(files: dict[str, str]) -> list[str]:
    """Existing section titles across the skill's markdown files (a path `A > B` where a title
    repeats), in document order; the empty string comes first."""
    found = []
    for path in sorted(files, key=lambda p: (p != SKILL_MD, p)):
        if not path.endswith(".md"):
            continue
        text = parse_skill_md(files[path]).body if path == SKILL_MD else files[path]
        found.extend(s for s in parse_sections(text) if s.level > 0 and s.title.strip())
    repeats = Counter(s.title for s in found)
    names = [s.path_str if repeats[s.title] > 1 else s.title for s in found]
    return [""] + list(dict.fromkeys(names))[:MAX_SECTIONS]


def _narrow(node: Any, files: list[str], sections: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _narrow(item, files, sections)
        return
    if not isinstance(node, dict):
        return
    props = node.get("properties")
    if isinstance(props, dict) and {"op", "file", "section"} <= props.keys():
        props["file"] = {"anyOf": [{"type": "string", "enum": files},
                                   {"type": "string", "pattern": NEW_FILE_PATTERN}],
                         "description": props["file"].get("description", "")}
        props["section"] = {"type": "string", "enum": sections,
                            "description": "an existing section's title, or empty"}
    for value in node.values():
        _narrow(value, files, sections)


def targeted_schema(output: type[BaseModel], files: dict[str, str]) -> dict[str, Any]:
    """The strict schema of `output` with every edit's `file` and `section` limited to real targets."""
    schema = strict_schema(output)
    _narrow(schema, sorted(set(files) | {SKILL_MD}), section_choices(files))
    return schema
