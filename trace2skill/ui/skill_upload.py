"""Import a human-written skill from what a browser uploads (no streamlit): a zip, the files of a
folder (with relative names when the browser gives them, bare names otherwise), or one plain
markdown document with a name and description. Lenient: spec breaches come back as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sqlite_utils import Database

from trace2skill.errors import SkillFormatError
from trace2skill.skill.archive import load_zip
from trace2skill.skill.conventions import import_findings
from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.frontmatter import normalise_newlines
from trace2skill.skill.validate import describe
from trace2skill.store.skills import import_skill

SCRIPT_SUFFIXES = {".py", ".sh", ".js", ".ts", ".rb", ".pl", ".ps1", ".bash"}
TEXT_SUFFIXES = {".md", ".txt", ".markdown", ".rst"}


@dataclass
class Imported:
    skill: str
    version: str
    files: int
    warnings: list[str] = field(default_factory=list)


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkillFormatError(f"{name} is not UTF-8 text; a skill holds text files only") from exc


def folder_from_files(uploads: list[tuple[str, bytes]]) -> SkillFolder:
    """A skill from uploaded files. Relative names (``my-skill/references/x.md``) are kept (one
    common top folder is stripped); bare names are placed: SKILL.md at the top, other text files
    under references/, scripts under scripts/, anything else under assets/."""
    if not uploads:
        raise SkillFormatError("no files uploaded; add SKILL.md and its references")
    names = [n.replace("\\", "/") for n, _ in uploads]
    names = [n[2:] if n.startswith("./") else n for n in names]
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        names = [n.split("/", 1)[1] for n in names]
    files: dict[str, str] = {}
    warnings: list[str] = []
    for name, (original, data) in zip(names, uploads):
        if "/" not in name and name.lower() != "skill.md":
            suffix = PurePosixPath(name).suffix.lower()
            folder = "scripts" if suffix in SCRIPT_SUFFIXES else "references" if suffix in TEXT_SUFFIXES else "assets"
            warnings.append(f"{name}: the browser gave no folder; placed under {folder}/")
            name = f"{folder}/{name}"
        if name in files:
            raise SkillFormatError(f"{name} was uploaded twice")
        files[name] = _text(original, data)
    skill = SkillFolder.from_files(files)
    skill.warnings[:0] = warnings
    return skill


def folder_from_zip(name: str, data: bytes) -> SkillFolder:
    stem = PurePosixPath(name).stem
    return load_zip(data, name=stem or None)


def folder_from_markdown(name: str, description: str, text: str) -> SkillFolder:
    if not name.strip() or not description.strip():
        raise SkillFormatError("a markdown document needs a skill name and a description")
    return SkillFolder.from_markdown(name.strip(), description.strip(), normalise_newlines(text))


def import_folder(db: Database, folder: SkillFolder, *, name: str | None = None, message: str = "") -> Imported:
    """Store the skill (a new version when it exists; a given `name` is written into its
    frontmatter) and report the import's warnings, the spec checks in lenient mode and our
    conventions (all warnings)."""
    folder = folder.with_identity(name)
    skill = folder.name
    if not skill:
        raise SkillFormatError("the skill has no name (no `name:` in SKILL.md): give one")
    version = import_skill(db, folder, message=message or "imported")
    warnings = list(dict.fromkeys(describe(f) for f in import_findings(folder)))
    return Imported(skill, version, len(folder.as_files()), warnings)


__all__ = ["Imported", "folder_from_files", "folder_from_zip", "folder_from_markdown", "import_folder", "SKILL_MD"]
