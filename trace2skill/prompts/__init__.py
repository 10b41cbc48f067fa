"""Prompt templates as versioned files (YAML frontmatter with name and version, then the text)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

import yaml

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    text: str

    @property
    def ref(self) -> str:
        """How a run records which prompt it used, e.g. "error_analyst@1"."""
        return f"{self.name}@{self.version}"

    def render(self, **values: object) -> str:
        return Template(self.text).safe_substitute({k: str(v) for k, v in values.items()})


@cache
def load_prompt(name: str) -> Prompt:
    raw = (FOLDER / f"{name}.md").read_text(encoding="utf-8")
    _, front, body = raw.split("---", 2)
    meta = yaml.safe_load(front)
    return Prompt(name=meta["name"], version=int(meta["version"]), text=body.strip() + "\n")
