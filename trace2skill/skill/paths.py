"""Safe relative paths inside a skill folder.

Every path that names a file of a skill goes through `safe_relpath` — on import (folder or zip),
when an edit creates or targets a file, and on export — so nothing can be read from or written to
outside the skill folder.
"""

from __future__ import annotations

import re

from trace2skill.errors import SkillPathError

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH_CHARS = 255


def safe_relpath(path: str) -> str:
    """Return `path` as a normalised POSIX relative path, or raise `SkillPathError`.

    Refused: empty paths, NUL or other control characters, backslashes (a Windows separator or an
    escape, either way ambiguous), absolute paths, drive letters (``C:``), empty segments (``a//b``),
    ``.`` and ``..`` segments, and over-long paths. A single leading ``./`` is accepted and dropped.
    """
    if not isinstance(path, str) or not path:
        raise SkillPathError("empty file path; name a file inside the skill, e.g. references/notes.md")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise SkillPathError(f"file path {path!r} contains NUL or control characters")
    if "\\" in path:
        raise SkillPathError(f"file path {path!r} contains a backslash; use '/' to separate folders")
    if path.startswith("/"):
        raise SkillPathError(f"file path {path!r} is absolute; give a path relative to the skill folder")
    if _DRIVE.match(path):
        raise SkillPathError(f"file path {path!r} starts with a drive letter; give a relative path")
    if path.startswith("./"):
        path = path[2:]
    if len(path) > MAX_PATH_CHARS:
        raise SkillPathError(f"file path {path[:40]!r}... is longer than {MAX_PATH_CHARS} characters")
    parts = path.split("/")
    for part in parts:
        if part == "":
            raise SkillPathError(f"file path {path!r} has an empty segment (a trailing or doubled '/')")
        if part in (".", ".."):
            raise SkillPathError(f"file path {path!r} contains '{part}'; paths must stay inside the skill folder")
    return "/".join(parts)


def is_safe_relpath(path: str) -> bool:
    try:
        safe_relpath(path)
    except SkillPathError:
        return False
    return True
