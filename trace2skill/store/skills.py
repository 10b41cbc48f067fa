"""Skills and their versions: import, save (content-hashed, deduplicated), history, locks.

A version's id is a content hash of (skill, files, parent): saving the same files on the same
parent twice returns the existing version, and saving files identical to the parent's returns the
parent (no empty versions). Every manual save and every change of a skill's locked sections is
recorded in ``decisions``. A version also keeps its executable files' modes (``modes``); a save
without modes keeps the parent's for the files still there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from sqlite_utils import Database

from trace2skill.errors import NotFoundError, SkillFormatError
from trace2skill.models import SkillVersion, content_hash, utcnow
from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.paths import safe_relpath
from trace2skill.store.decisions import record_decision
from trace2skill.store.workspace import write_transaction

VersionSource = Literal["import", "proposal", "manual"]
_COLUMNS = "id, skill, parent, source, run_id, message, created"
_CONTENT = "files, modes"


def version_id(skill: str, files: Mapping[str, str], parent: str | None,
               modes: Mapping[str, int] | None = None) -> str:
    """Content hash of a version; modes count only when there are some (ids without them are unchanged)."""
    return content_hash({"skill": skill, "files": dict(files), "parent": parent, **({"modes": dict(modes)} if modes
                                                                                    else {})})


def _ensure_skill(db: Database, name: str, description: str) -> None:
    """Create the skill when new; its description follows the newest version's (when it has one)."""
    db.execute("INSERT OR IGNORE INTO skills (name, description, locked_sections, created) VALUES (?, ?, '[]', ?)",
               [name, description, utcnow()])
    if description:
        db.execute("UPDATE skills SET description = ? WHERE name = ?", [description, name])


def _clean_files(files: Mapping[str, str]) -> dict[str, str]:
    clean = {safe_relpath(p): t for p, t in files.items()}
    if SKILL_MD not in clean:
        raise SkillFormatError("a skill version needs a SKILL.md")
    return {SKILL_MD: clean[SKILL_MD], **{p: clean[p] for p in sorted(clean) if p != SKILL_MD}}


def _clean_modes(modes: Mapping[str, int], files: Mapping[str, str]) -> dict[str, int]:
    clean = {safe_relpath(p): int(m) for p, m in modes.items()}
    return {p: clean[p] for p in sorted(clean) if p in files and p != SKILL_MD and clean[p] & 0o111}


def save_version(db: Database, skill: str, files: Mapping[str, str], *, source: VersionSource,
                 parent: str | None, run_id: str | None = None, message: str = "", actor: str = "user",
                 confirmed: list[dict[str, Any]] | None = None, modes: Mapping[str, int] | None = None,
                 detail: Mapping[str, Any] | None = None) -> str:
    """Store a version of `skill` (created when new) and return its id (an existing one for
    identical content). Manual saves are recorded as decisions, with the lint and spec findings
    the reviewer confirmed to save anyway (`confirmed`). `modes`: path -> permission bits of the
    executable files (None: the parent's, for the files still there). `detail`: more to record with a
    manual save's decision (the approvals it rests on)."""
    if source not in ("import", "proposal", "manual"):
        raise ValueError(f"unknown version source {source!r}")
    if not skill:
        raise SkillFormatError("a skill version needs the skill's name")
    clean = _clean_files(files)
    with write_transaction(db):
        if parent is not None:
            row = db.execute("SELECT skill, files, modes FROM skill_versions WHERE id = ?", [parent]).fetchone()
            if row is None:
                raise NotFoundError(f"no skill version with id {parent!r} to use as parent")
            if row[0] != skill:
                raise SkillFormatError(f"parent version {parent} belongs to skill {row[0]!r}, not {skill!r}")
            kept = _clean_modes(json.loads(row[2]) if modes is None else modes, clean)
            if json.loads(row[1]) == clean and json.loads(row[2]) == kept:
                return parent
        else:
            kept = _clean_modes(modes or {}, clean)
        vid = version_id(skill, clean, parent, kept)
        if db.execute("SELECT 1 FROM skill_versions WHERE id = ?", [vid]).fetchone():
            return vid
        _ensure_skill(db, skill, SkillFolder.from_files(clean).description)
        db.execute(
            f"INSERT INTO skill_versions ({_COLUMNS}, {_CONTENT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [vid, skill, parent, source, run_id, message, utcnow(), json.dumps(clean, ensure_ascii=False),
             json.dumps(kept)],
        )
        if source == "manual":
            recorded: dict[str, Any] = {"skill": skill, "parent": parent, "message": message, **(detail or {})}
            if confirmed:
                recorded["confirmed_findings"] = confirmed
            record_decision(db, "skill_version", vid, "save", actor=actor, detail=recorded)
    return vid


def import_skill(db: Database, folder: SkillFolder, *, message: str = "", name: str | None = None,
                 description: str | None = None) -> str:
    """Store an imported (human-written) skill as a new version; parent = the skill's latest version.
    A given `name` or `description` is written into SKILL.md's frontmatter (the stored and exported
    skill says what the library lists)."""
    folder = folder.with_identity(name, description)
    skill = folder.name
    if not skill:
        raise SkillFormatError("the imported skill has no name; give one")
    latest = latest_version(db, skill)
    return save_version(db, skill, folder.as_files(), source="import", parent=latest.id if latest else None,
                        message=message or "imported", modes=folder.modes)


def _version(row: dict[str, Any]) -> SkillVersion:
    loaded: dict[str, Any] = {k: json.loads(row[k]) for k in ("files", "modes") if k in row}
    return SkillVersion(**{**row, **loaded})


def get_version(db: Database, version: str) -> SkillVersion:
    """A version with its files; an unambiguous id prefix is accepted."""
    rows = list(db.query(f"SELECT {_COLUMNS}, {_CONTENT} FROM skill_versions WHERE id = ?", [version]))
    if not rows:
        rows = list(db.query(f"SELECT {_COLUMNS}, {_CONTENT} FROM skill_versions WHERE id LIKE ? LIMIT 2",
                             [version + "%"]))
        if len(rows) != 1:
            raise NotFoundError(f"no skill version with id {version!r}")
    return _version(rows[0])


def list_versions(db: Database, skill: str) -> list[SkillVersion]:
    """The skill's history, newest first (without their files: `files` is left empty)."""
    return [_version(r) for r in db.query(f"SELECT {_COLUMNS} FROM skill_versions WHERE skill = ? ORDER BY rowid DESC",
                                          [skill])]


def latest_version(db: Database, skill: str) -> SkillVersion | None:
    rows = list(db.query(f"SELECT {_COLUMNS}, {_CONTENT} FROM skill_versions WHERE skill = ? ORDER BY rowid DESC "
                         "LIMIT 1", [skill]))
    return _version(rows[0]) if rows else None


def list_proposals(db: Database, limit: int = 200, *, run_id: str | None = None) -> list[SkillVersion]:
    """Proposed versions (of one run: a re-run adds one), newest first, without their files."""
    where, params = ("source = 'proposal' AND run_id = ?", [run_id]) if run_id else ("source = 'proposal'", [])
    return [_version(r) for r in db.query(
        f"SELECT {_COLUMNS} FROM skill_versions WHERE {where} ORDER BY rowid DESC LIMIT ?", [*params, limit])]


def version_skill(db: Database, version_id: str | None) -> str | None:
    """The skill of the version with exactly this id (None for no such version)."""
    row = db.execute("SELECT skill FROM skill_versions WHERE id = ?", [version_id]).fetchone() if version_id else None
    return row[0] if row else None


def list_skills(db: Database) -> list[dict[str, Any]]:
    """Skills with their description, locks, number of versions and latest version id."""
    sql = """SELECT s.name, s.description, s.locked_sections, s.created,
                    (SELECT count(*) FROM skill_versions v WHERE v.skill = s.name) AS n_versions,
                    (SELECT v.id FROM skill_versions v WHERE v.skill = s.name ORDER BY v.rowid DESC LIMIT 1) AS latest
             FROM skills s ORDER BY s.name"""
    rows = list(db.query(sql))
    for row in rows:
        row["locked_sections"] = json.loads(row["locked_sections"])
    return rows


def locked_sections(db: Database, skill: str) -> list[str]:
    row = db.execute("SELECT locked_sections FROM skills WHERE name = ?", [skill]).fetchone()
    if row is None:
        raise NotFoundError(f"no skill named {skill!r}")
    return json.loads(row[0])


def set_locked_sections(db: Database, skill: str, titles: Iterable[str], *, actor: str = "user") -> list[str]:
    """Replace the skill's locked section titles (paths like "Policy > Refunds" allowed)."""
    new = list(dict.fromkeys(t.strip() for t in titles if t and t.strip()))
    with write_transaction(db):
        old = locked_sections(db, skill)
        if old != new:
            db.execute("UPDATE skills SET locked_sections = ? WHERE name = ?", [json.dumps(new), skill])
            record_decision(db, "skill", skill, "lock_sections", actor=actor, detail={"before": old, "after": new})
    return new


def folder_of(version: SkillVersion) -> SkillFolder:
    """The SkillFolder of a version (as returned by `get_version` / `latest_version`)."""
    folder = SkillFolder.from_files(version.files)
    folder.set_modes(version.modes)
    folder.warnings = []
    return folder


def diff_versions(db: Database, old: str, new: str) -> list[Any]:
    """Per-file diffs between any two versions (see `trace2skill.diff.diff_files`)."""
    from trace2skill.diff import diff_files

    return diff_files(get_version(db, old).files, get_version(db, new).files)
