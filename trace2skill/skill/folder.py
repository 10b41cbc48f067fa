"""`SkillFolder`: one Agent Skill in memory — frontmatter, SKILL.md body and its other text files.

`name` and `description` live in the frontmatter (one source of truth); other keys are kept in
their order. A folder read from files and written back unchanged gives the same files byte for
byte (the original frontmatter text is reused while the frontmatter is unchanged). ``modes``
keeps which files are executable (a script's exec bit survives import, storage and export).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from trace2skill.errors import SkillFormatError
from trace2skill.skill.frontmatter import normalise_newlines, parse_skill_md, render_skill_md
from trace2skill.skill.paths import safe_relpath

SKILL_MD = "SKILL.md"
EXECUTABLE = 0o755  # the mode an executable file is stored and exported with


class SkillFolder:
    """A skill: ``frontmatter`` (dict, all keys), ``body`` (markdown after the frontmatter) and
    ``files`` (relative path -> text for everything but SKILL.md), ``modes`` (relative path ->
    permission bits, for the executable files only). ``warnings`` collects what an import skipped
    or had to guess; it is not part of the skill's content."""

    def __init__(self, name: str | None = None, description: str | None = None, *,
                 frontmatter: Mapping[str, Any] | None = None, body: str = "",
                 files: Mapping[str, str] | None = None, warnings: list[str] | None = None):
        fm: dict[str, Any] = dict(frontmatter or {})
        given = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        fm = {**{k: v for k, v in given.items() if k not in fm}, **fm}
        fm.update(given)
        self.frontmatter = fm
        self.body = body
        self.files: dict[str, str] = {}
        for path, text in (files or {}).items():
            rel = safe_relpath(path)
            if rel == SKILL_MD:
                raise SkillFormatError("SKILL.md belongs in frontmatter/body, not in files")
            self.files[rel] = text
        self.warnings: list[str] = list(warnings or [])
        self.modes: dict[str, int] = {}
        self._header: str | None = None
        self._header_fm: dict[str, Any] | None = None

    # ----------------------------------------------------------------- fields

    @property
    def name(self) -> str:
        value = self.frontmatter.get("name")
        return "" if value is None else str(value)

    @name.setter
    def name(self, value: str) -> None:
        self.frontmatter["name"] = value

    @property
    def description(self) -> str:
        value = self.frontmatter.get("description")
        return "" if value is None else str(value)

    @description.setter
    def description(self, value: str) -> None:
        self.frontmatter["description"] = value

    def set_modes(self, modes: Mapping[str, int]) -> None:
        """Keep the executable files of `modes` (path -> permission bits) that the skill has."""
        self.modes = {rel: EXECUTABLE for path, mode in modes.items()
                      if (rel := safe_relpath(path)) in self.files and mode & 0o111}

    # ----------------------------------------------------------------- SKILL.md

    def skill_md(self) -> str:
        """SKILL.md text: the original header while the frontmatter is unchanged, else a new one."""
        if self._header is not None and self._header_fm == self.frontmatter:
            return self._header + self.body
        return render_skill_md(self.frontmatter, self.body)

    def as_files(self) -> dict[str, str]:
        """All files, SKILL.md first, the rest sorted by path."""
        return {SKILL_MD: self.skill_md(), **{p: self.files[p] for p in sorted(self.files)}}

    @classmethod
    def from_skill_md(cls, text: str, *, files: Mapping[str, str] | None = None,
                      fallback_name: str | None = None) -> SkillFolder:
        parsed = parse_skill_md(text)
        folder = cls(frontmatter=parsed.frontmatter, body=parsed.body, files=files,
                     warnings=[f"SKILL.md: {p}" for p in parsed.problems])
        if parsed.header is not None:
            folder._header = parsed.header
            folder._header_fm = copy.deepcopy(parsed.frontmatter)
        if not folder.name and fallback_name:
            folder.name = fallback_name
            folder.warnings.append(f"SKILL.md has no name; using the folder name {fallback_name!r}")
        return folder

    @classmethod
    def from_files(cls, files: Mapping[str, str], *, fallback_name: str | None = None) -> SkillFolder:
        """Build from a path -> text mapping that contains SKILL.md (paths are checked)."""
        clean: dict[str, str] = {}
        warnings: list[str] = []
        for path, text in files.items():
            rel = safe_relpath(path)
            clean[rel] = normalise_newlines(text)
            if clean[rel] != text:
                warnings.append(f"{rel}: line endings normalised to LF")
        if SKILL_MD not in clean:
            lower = [p for p in clean if p.lower() == "skill.md"]
            if not lower:
                raise SkillFormatError("no SKILL.md at the top of the skill; a skill folder must contain SKILL.md")
            clean[SKILL_MD] = clean.pop(lower[0])
        text = clean.pop(SKILL_MD)
        folder = cls.from_skill_md(text, files=clean, fallback_name=fallback_name)
        folder.warnings[:0] = warnings
        return folder

    @classmethod
    def from_markdown(cls, name: str, description: str, text: str,
                      files: Mapping[str, str] | None = None) -> SkillFolder:
        """A new skill whose SKILL.md body is a plain markdown document (e.g. a policy wiki).

        A document that already has (valid YAML) frontmatter keeps its other keys; `name` and
        `description` win.
        The body is separated from the frontmatter by one blank line.
        """
        parsed = parse_skill_md(text)
        has_fm = parsed.header is not None and not parsed.problems  # else a leading '---' is a rule
        extra = {k: v for k, v in parsed.frontmatter.items() if k not in ("name", "description")} if has_fm else {}
        body = parsed.body if has_fm else normalise_newlines(text)
        body = "\n" + body.lstrip("\n")
        return cls(name, description, frontmatter=extra, body=body, files=files)

    def with_identity(self, name: str | None = None, description: str | None = None) -> SkillFolder:
        """This skill with `name` and/or `description` written into its frontmatter (blank or None:
        kept); itself when nothing changes."""
        name, description = (name or "").strip(), (description or "").strip()
        if (not name or name == self.name) and (not description or description == self.description):
            return self
        other = self.copy()
        if name:
            other.name = name
        if description:
            other.description = description
        return other

    # ----------------------------------------------------------------- misc

    def copy(self) -> SkillFolder:
        other = SkillFolder(frontmatter=copy.deepcopy(self.frontmatter), body=self.body, files=dict(self.files),
                            warnings=list(self.warnings))
        other.modes = dict(self.modes)
        other._header, other._header_fm = self._header, copy.deepcopy(self._header_fm)
        return other

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SkillFolder) and self.as_files() == other.as_files()

    def __repr__(self) -> str:
        return f"SkillFolder(name={self.name!r}, files={len(self.files) + 1})"
