"""Read a skill from a folder or a zip, write it to a folder or a zip — path-safe and bounded.

Zips are untrusted uploads: entries with ``..``, absolute paths, drive letters, backslashes or
symlinks are refused, as are encrypted entries, duplicates, too many files, too many bytes and
suspicious compression ratios (zip bombs). Sizes are enforced while reading, not taken from the
headers on trust. Binary files are skipped with a warning (skills are text). A zip that holds one
top-level folder (``my-skill/SKILL.md``) is read as that folder. Executable files (a script's exec
bit, from the folder or the zip's Unix attributes) stay executable when the skill is written out.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trace2skill.errors import SkillFormatError, SkillPathError
from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.paths import safe_relpath

SKIPPED_NAMES = {".DS_Store", "Thumbs.db"}
SKIPPED_DIRS = {"__MACOSX", ".git", "__pycache__", ".svn", ".hg"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Limits:
    max_files: int = 500
    max_total_bytes: int = 20 * 1024 * 1024
    max_file_bytes: int = 5 * 1024 * 1024
    max_ratio: float = 100.0  # uncompressed / compressed, checked for entries over ratio_min_bytes
    ratio_min_bytes: int = 64 * 1024


DEFAULT_LIMITS = Limits()


def _decode(rel: str, data: bytes, warnings: list[str]) -> str | None:
    if b"\x00" in data:
        warnings.append(f"{rel}: skipped (binary file; only text files are kept)")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append(f"{rel}: skipped (not UTF-8 text; only text files are kept)")
        return None


def _skipped(rel: str) -> bool:
    parts = rel.split("/")
    return parts[-1] in SKIPPED_NAMES or any(p in SKIPPED_DIRS for p in parts[:-1])


def _strip_top_folder(texts: dict[str, str]) -> tuple[dict[str, str], str | None]:
    if not texts or any(p.lower() == "skill.md" for p in texts):
        return texts, None
    tops = {p.split("/", 1)[0] for p in texts}
    if len(tops) == 1 and all("/" in p for p in texts):
        top = tops.pop()
        return {p.split("/", 1)[1]: t for p, t in texts.items()}, top
    return texts, None


# --------------------------------------------------------------------------- zip


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise SkillFormatError(f"zip entry {info.filename!r} is larger than {limit} bytes when unpacked")
    return data


def load_zip(source: bytes | str | os.PathLike[str] | BinaryIO, *, name: str | None = None,
             limits: Limits = DEFAULT_LIMITS) -> SkillFolder:
    """Read a skill from zip bytes, a zip file path or a binary file object."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        zf = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SkillFormatError(f"not a readable zip file ({exc}); upload a .zip of the skill folder") from exc
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                try:
                    safe_relpath(info.filename.rstrip("/"))
                except SkillPathError as exc:
                    raise SkillPathError(f"zip entry refused: {exc}") from exc
        entries = [i for i in zf.infolist() if not i.is_dir()]
        if len(entries) > limits.max_files:
            raise SkillFormatError(f"zip holds {len(entries)} files; at most {limits.max_files} are accepted")
        texts: dict[str, str] = {}
        modes: dict[str, int] = {}
        warnings: list[str] = []
        total = 0
        for info in entries:
            try:
                rel = safe_relpath(info.filename)
            except SkillPathError as exc:
                raise SkillPathError(f"zip entry refused: {exc}") from exc
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SkillPathError(f"zip entry {rel!r} is a symbolic link; links are not accepted")
            if info.flag_bits & 0x1:
                raise SkillFormatError(f"zip entry {rel!r} is encrypted; upload an unencrypted zip")
            if _skipped(rel):
                continue
            if rel in texts:
                raise SkillFormatError(f"zip holds {rel!r} twice")
            if info.file_size > limits.max_file_bytes:
                raise SkillFormatError(f"zip entry {rel!r} is {info.file_size} bytes unpacked; "
                                       f"at most {limits.max_file_bytes} per file")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
                raise SkillFormatError(f"zip entry {rel!r} compresses {ratio:.0f}:1 (limit {limits.max_ratio:.0f}:1); "
                                       "refused as a possible zip bomb")
            if total + info.file_size > limits.max_total_bytes:
                raise SkillFormatError(f"zip unpacks to more than {limits.max_total_bytes} bytes; refused")
            data = _read_entry(zf, info, min(limits.max_file_bytes, limits.max_total_bytes - total))
            total += len(data)
            text = _decode(rel, data, warnings)
            if text is not None:
                texts[rel] = text
                modes[rel] = (info.external_attr >> 16) & 0o777
    texts, top = _strip_top_folder(texts)
    folder = SkillFolder.from_files(texts, fallback_name=name or top)
    folder.set_modes({p.split("/", 1)[1] if top else p: m for p, m in modes.items()})
    folder.warnings[:0] = warnings
    return folder


# --------------------------------------------------------------------------- folder


def load_dir(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> SkillFolder:
    """Read a skill folder (or the folder of a given SKILL.md). Symbolic links are skipped."""
    root = Path(path)
    if root.is_file() and root.name.lower() == "skill.md":
        root = root.parent
    if not root.is_dir():
        raise SkillFormatError(f"{root} is not a folder; give the skill folder that contains SKILL.md")
    texts: dict[str, str] = {}
    modes: dict[str, int] = {}
    warnings: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if d in SKIPPED_DIRS or (base / d).is_symlink():
                if (base / d).is_symlink():
                    warnings.append(f"{(base / d).relative_to(root).as_posix()}/: skipped (symbolic link)")
                dirnames.remove(d)
        dirnames.sort()
        for fname in sorted(filenames):
            full = base / fname
            rel = safe_relpath(full.relative_to(root).as_posix())
            if _skipped(rel):
                continue
            if full.is_symlink() or not full.is_file():
                warnings.append(f"{rel}: skipped (symbolic link or special file)")
                continue
            if len(texts) >= limits.max_files:
                raise SkillFormatError(f"{root} holds more than {limits.max_files} files")
            size = full.stat().st_size
            if size > limits.max_file_bytes or total + size > limits.max_total_bytes:
                raise SkillFormatError(f"{rel} makes the skill larger than the limits "
                                       f"({limits.max_file_bytes} bytes a file, {limits.max_total_bytes} in all)")
            total += size
            text = _decode(rel, full.read_bytes(), warnings)
            if text is not None:
                texts[rel] = text
                modes[rel] = stat.S_IMODE(full.stat().st_mode)
    folder = SkillFolder.from_files(texts, fallback_name=root.resolve().name)
    folder.set_modes(modes)
    folder.warnings[:0] = warnings
    return folder


def load_skill(source: bytes | str | os.PathLike[str], *, name: str | None = None) -> SkillFolder:
    """A folder, a SKILL.md path, a .zip path or zip bytes."""
    if isinstance(source, (bytes, bytearray)):
        return load_zip(source, name=name)
    path = Path(source)
    if path.is_dir() or path.name.lower() == "skill.md":
        return load_dir(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return load_zip(path, name=name or path.stem)
    raise SkillFormatError(f"{path} is neither a skill folder nor a zip; for a plain markdown document use "
                           "SkillFolder.from_markdown(name, description, text)")


# --------------------------------------------------------------------------- export


def _folder_name(folder: SkillFolder, dirname: str | None) -> str:
    name = dirname or folder.name
    if not name or "/" in safe_relpath(name):
        raise SkillPathError(f"{name!r} cannot be a folder name; give the skill a name like 'airline-policy'")
    return name


def write_dir(folder: SkillFolder, dest: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write the skill's files into `dest` (the skill folder itself). A non-empty `dest` is refused
    unless `overwrite` (files the skill does not have are then left alone). Executable files get
    their mode; the others lose any exec bit a file they overwrite had."""
    root = Path(dest)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise SkillFormatError(f"{root} exists and is not empty; choose another folder or pass overwrite")
    root.mkdir(parents=True, exist_ok=True)
    real_root = root.resolve()
    for rel, text in folder.as_files().items():
        target = root / safe_relpath(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(real_root) or target.is_symlink():
            raise SkillPathError(f"{rel} would be written outside {root} (through a symbolic link); refused")
        with open(target, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        mode = folder.modes.get(rel)
        os.chmod(target, mode if mode is not None else stat.S_IMODE(target.stat().st_mode) & ~0o111)
    return root


def export_dir(folder: SkillFolder, parent: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write the skill to ``parent/<name>/`` (the folder name equals the skill name, as the spec asks)."""
    return write_dir(folder, Path(parent) / _folder_name(folder, None), overwrite=overwrite)


def to_zip(folder: SkillFolder, dest: str | os.PathLike[str] | None = None, *, dirname: str | None = None) -> bytes:
    """Zip bytes with one top-level folder named after the skill; deterministic (fixed dates, order)."""
    top = _folder_name(folder, dirname)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel, text in folder.as_files().items():
            info = zipfile.ZipInfo(f"{top}/{safe_relpath(rel)}", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix: unzip then honours the modes below
            info.external_attr = (stat.S_IFREG | folder.modes.get(rel, 0o644)) << 16
            zf.writestr(info, text.encode("utf-8"))
    data = buf.getvalue()
    if dest is not None:
        Path(dest).write_bytes(data)
    return data


__all__ = ["Limits", "DEFAULT_LIMITS", "load_zip", "load_dir", "load_skill", "write_dir", "export_dir", "to_zip",
           "SKILL_MD"]
