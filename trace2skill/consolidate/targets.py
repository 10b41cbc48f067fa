"""Edit targets the model may name, as a JSON schema tailored to one base skill.

The proposer's and the merger's output models stay lenient (any file, any section): an edit that
names a missing target is rejected later by `skill.apply` with its reason, never fatal to the whole
answer. What the endpoint is *sent* is narrower: `file` is one of the skill's files or a new file
directly under references/, scripts/ or assets/, `section` is one of the skill's existing section
titles or empty, and `anchor` is one of its existing lines or empty. A constrained decoder
(llama.cpp's grammar, OpenAI's strict mode) then cannot invent `skills.md`, a section called `1` or
an anchor that is not in the file; a new section is written as a heading at the start of
`content`, with `section` naming the existing section it follows (see skill/plan.py).

The enums stay within strict mode's limits (at most 1,000 values and 15,000 characters of enum
values and names in one schema): sections and then anchors fall back to free text when a skill
has too many to list.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from trace2skill.consolidate.schemas import FULL, Budget, ProposalOut
from trace2skill.llm.schema import strict_schema
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.frontmatter import parse_skill_md
from trace2skill.skill.sections import parse_sections

NEW_FILE_PATTERN = r"^(references|scripts|assets)/[a-z0-9][a-z0-9_-]{0,60}\.(md|txt|py|sh|json)$"
MAX_FILES = 200
MAX_SECTIONS = 200
MAX_ANCHORS = 250
ENUM_CHARS = 13_000  # of strict mode's 15,000 characters per schema; the rest is names and labels
ANCHOR_LEN = 300  # the output model's bound; a longer line is offered as its first 300 characters


def section_choices(files: dict[str, str]) -> list[str]:
    """Existing section titles across the skill's markdown files (a path `A > B` where a title
    repeats), in document order; the empty string comes first."""
    found = [s for _, text in _bodies(files) for s in parse_sections(text) if s.level > 0 and s.title.strip()]
    repeats = Counter(s.title for s in found)
    names = [s.path_str if repeats[s.title] > 1 else s.title for s in found]
    return [""] + list(dict.fromkeys(names))


def _bodies(files: dict[str, str]) -> list[tuple[str, str]]:
    """(path, text) of the skill's markdown files, SKILL.md first and without its frontmatter."""
    paths = sorted((p for p in files if p.endswith(".md")), key=lambda p: (p != SKILL_MD, p))
    return [(p, parse_skill_md(files[p]).body if p == SKILL_MD else files[p]) for p in paths]


def anchor_choices(files: dict[str, str]) -> list[str]:
    """Existing non-blank lines (stripped, first 300 characters) of the markdown files, the empty
    string first."""
    lines = dict.fromkeys(line.strip()[:ANCHOR_LEN] for _, text in _bodies(files) for line in text.split("\n"))
    lines.pop("", None)
    return ["", *lines]


def _fits(values: list[str], most: int, chars: int) -> bool:
    return len(values) <= most and sum(map(len, values)) <= chars


def _narrow(node: Any, choices: dict[str, Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _narrow(item, choices)
        return
    if not isinstance(node, dict):
        return
    props = node.get("properties")
    if isinstance(props, dict) and {"op", "file", "section", "anchor", "content"} <= props.keys():
        for name, narrowed in choices.items():
            props[name] = {**narrowed, "description": props[name].get("description", "")}
    for value in node.values():
        _narrow(value, choices)


def _with_labels(schema: dict[str, Any], labels: list[str]) -> None:
    """A merge answer cites only its input edits, and has no more edits, drops or conflicts than inputs."""
    props, n = schema["properties"], len(labels)
    props["edits"]["items"]["properties"]["derived_from"]["items"] = {"type": "string", "enum": labels}
    props["dropped"]["items"]["properties"]["edit"] = {"type": "string", "enum": labels}
    for name in ("edits", "dropped", "conflicts"):
        props[name]["maxItems"] = min(props[name].get("maxItems", n), n)
    props["conflicts"]["items"] = {"type": "string", "maxLength": 300}


def targeted_schema(output: type[BaseModel], files: dict[str, str], budget: Budget = FULL, *,
                    edit_labels: list[str] | None = None) -> dict[str, Any]:
    """The strict schema of `output` with every edit's `file`, `section` and `anchor` limited to real
    targets, its content to the budget's length, and a proposal to the budget's number of edits.
    With `edit_labels` (a merge's input edits, "E1"...), `derived_from` and `dropped` name only those."""
    schema = strict_schema(output)
    if edit_labels:
        _with_labels(schema, edit_labels)
    edits = schema["properties"]["edits"]
    if output is ProposalOut:
        edits["maxItems"] = min(edits.get("maxItems", budget.proposal_edits), budget.proposal_edits)
    content = edits["items"]["properties"]["content"]
    choices: dict[str, Any] = {
        "content": {"type": "string", "maxLength": min(content.get("maxLength", budget.content_chars),
                                                      budget.content_chars)},
        **_target_choices(tuple(sorted(files.items()))),
    }
    _narrow(schema, choices)
    return schema


@lru_cache(maxsize=16)
def _target_choices(items: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The `file`, `section` and `anchor` schemas for one skill's files: computed once per skill
    content, since every proposal and merge of a run asks for them (callers must not mutate them)."""
    files = dict(items)
    known = [SKILL_MD, *sorted(set(files) - {SKILL_MD})][:MAX_FILES]
    choices: dict[str, Any] = {
        "file": {"anyOf": [{"type": "string", "enum": known}, {"type": "string", "pattern": NEW_FILE_PATTERN}]},
    }
    room = ENUM_CHARS - sum(map(len, known))
    for name, values, most in (("section", section_choices(files), MAX_SECTIONS),
                               ("anchor", anchor_choices(files), MAX_ANCHORS)):
        if _fits(values, most, room):  # else the field stays free text, as the output model has it
            choices[name] = {"type": "string", "enum": values}
            room -= sum(map(len, values))
    return choices
