"""Prompt templates as versioned files, and the fence that marks data inside a prompt.

A prompt file is YAML frontmatter (``name``, ``version``, and ``changes``: why this version differs
from the one before, for people; never sent to the model) and then the text. The text is a
`string.Template`: ``$name`` is a placeholder and a literal dollar sign is written ``$$``.
Rendering is strict: a placeholder without a value (a mistyped ``$max_lesson``), a value without a
placeholder, or a stray ``$`` raises `PromptTemplateError` instead of leaving the text in the prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

import yaml

from trace2skill.errors import PromptTemplateError

FOLDER = Path(__file__).resolve().parent
_FRONTMATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    text: str
    changes: str = ""  # why this version differs from the previous one (not part of the prompt)

    @property
    def ref(self) -> str:
        """How a run records which prompt it used, e.g. "error_analyst@1"."""
        return f"{self.name}@{self.version}"

    @property
    def placeholders(self) -> set[str]:
        return set(Template(self.text).get_identifiers())

    def render(self, **values: object) -> str:
        """The text with every placeholder filled; PromptTemplateError when the placeholders and
        the values given do not match one to one."""
        wanted = self.placeholders
        missing, unused = sorted(wanted - set(values)), sorted(set(values) - wanted)
        if missing or unused:
            parts = [f"no value for ${', $'.join(missing)}" if missing else "",
                     f"no placeholder for {', '.join(unused)}" if unused else ""]
            raise PromptTemplateError(f"prompt {self.ref}: {'; '.join(p for p in parts if p)} "
                                      f"(placeholders: {', '.join(sorted(wanted)) or 'none'})")
        try:
            return Template(self.text).substitute({k: str(v) for k, v in values.items()})
        except ValueError as exc:  # a "$" that starts no placeholder
            raise PromptTemplateError(f"prompt {self.ref}: {exc}; write a literal dollar sign as $$") from exc


def parse_prompt(raw: str, origin: str = "prompt") -> Prompt:
    found = _FRONTMATTER.match(raw.replace("\r\n", "\n"))
    if not found:
        raise PromptTemplateError(f"{origin}: no YAML frontmatter (--- name, version ---) at the top")
    meta = yaml.safe_load(found.group(1)) or {}
    prompt = Prompt(name=meta["name"], version=int(meta["version"]), text=found.group(2).strip() + "\n",
                    changes=str(meta.get("changes") or "").strip())
    if not Template(prompt.text).is_valid():
        raise PromptTemplateError(f"{origin}: a '$' starts no placeholder; write a literal dollar sign as $$")
    return prompt


@cache
def load_prompt(name: str) -> Prompt:
    path = FOLDER / f"{name}.md"
    return parse_prompt(path.read_text(encoding="utf-8"), str(path))


def fence(text: str, *tags: str) -> str:
    """`text` made safe to put between ``<tag>`` and ``</tag>``: any opening or closing tag of `tags`
    inside it (any case, with attributes) is neutralised as ``<\\tag>`` / ``<\\/tag>``, so the data
    cannot close its fence early or open another one."""
    if not tags:
        return text
    pattern = re.compile(r"<\s*(/?)\s*(" + "|".join(map(re.escape, tags)) + r")\b[^>]*>", re.IGNORECASE)
    return pattern.sub(lambda m: f"<\\{m.group(1)}{m.group(2)}>", text)


def fenced(tag: str, text: str, *also: str) -> str:
    """`text` between ``<tag>`` and ``</tag>`` as untrusted data (see `fence`; `also`: other tags
    of the same prompt it may not open or close either)."""
    return f"<{tag}>\n{fence(text, tag, *also)}\n</{tag}>"
