"""Provenance: from any line of a proposed or saved skill back to the edits, merge path, lessons and
trajectory steps behind it ("blame").

When a proposal is applied, the apply step knows which edit wrote each line; those line origins
are stored with the proposed version. A later version (a manual save, a partial accept) inherits
the origin of every line it kept unchanged from its parent (found by a line diff); a line it
changed is its own ("manual edit").
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import NotFoundError
from trace2skill.store.lessons import get_lesson
from trace2skill.store.workspace import write_transaction

MAX_DEPTH = 200  # versions walked back at most


def save_line_origins(db: Database, version_id: str, origins: dict[str, list[str | None]],
                      run_id: str | None) -> None:
    with write_transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO line_origins (version_id, file, run_id, origins) VALUES (?, ?, ?, ?)",
            [(version_id, f, run_id, json.dumps(o)) for f, o in origins.items()],
        )


def _version(db: Database, version_id: str) -> dict[str, Any]:
    row = db.execute("SELECT id, skill, parent, files, source, run_id FROM skill_versions WHERE id = ?",
                     [version_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no skill version with id {version_id!r}")
    return {"id": row[0], "skill": row[1], "parent": row[2], "files": json.loads(row[3]), "source": row[4],
            "run_id": row[5]}


def _stored_origins(db: Database, version_id: str, file: str) -> tuple[list[str | None], str | None] | None:
    row = db.execute("SELECT origins, run_id FROM line_origins WHERE version_id = ? AND file = ?",
                     [version_id, file]).fetchone()
    return (json.loads(row[0]), row[1]) if row else None


def _map_to_parent(child: list[str], parent: list[str], line: int) -> int | None:
    """The parent's line number (0-based) of an unchanged child line, else None."""
    matcher = difflib.SequenceMatcher(a=parent, b=child, autojunk=False)
    for tag, a0, _a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal" and b0 <= line < b1:
            return a0 + (line - b0)
    return None


def line_origin(db: Database, version_id: str, file: str, line: int) -> dict[str, Any]:
    """Where a line (0-based) of a version's file comes from: an edit of a consolidation run, the
    imported base text, or a manual edit in some version."""
    current, current_line = _version(db, version_id), line
    for _ in range(MAX_DEPTH):
        lines = current["files"].get(file, "").splitlines()
        if not 0 <= current_line < len(lines):
            raise NotFoundError(f"{file} of version {current['id']} has no line {current_line + 1}")
        stored = _stored_origins(db, current["id"], file)
        if stored is not None:
            origins, run_id = stored
            edit_id = origins[current_line] if current_line < len(origins) else None
            if edit_id:
                return {"kind": "edit", "edit_id": edit_id, "run_id": run_id, "version": current["id"],
                        "line": current_line}
        if current["parent"] is None:
            return {"kind": "base" if current["source"] == "import" else "manual", "version": current["id"],
                    "line": current_line}
        parent = _version(db, current["parent"])
        mapped = _map_to_parent(lines, parent["files"].get(file, "").splitlines(), current_line)
        if mapped is None:  # the line is new in `current`: written by hand unless apply recorded it
            return {"kind": "base" if stored is not None else "manual", "version": current["id"],
                    "line": current_line}
        current, current_line = parent, mapped
    raise NotFoundError("version history too deep to trace")


def _edit_index(db: Database, run_id: str) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for pid, level, edits in db.execute("SELECT id, level, edits FROM patches WHERE run_id = ?", [run_id]):
        for e in json.loads(edits):
            index[e["id"]] = {**e, "patch_id": pid, "level": level}
    return index


def merge_path(db: Database, run_id: str, edit_id: str) -> list[dict[str, Any]]:
    """The edit and everything it derives from, down to the proposer's level-0 edits (breadth first)."""
    index = _edit_index(db, run_id)
    path, queue, seen = [], [edit_id], set()
    while queue:
        current = queue.pop(0)
        if current in seen or current not in index:
            continue
        seen.add(current)
        path.append(index[current])
        queue.extend(index[current].get("derived_from") or [])
    return path


def _steps(db: Database, lesson: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for ev in lesson["evidence"]:
        row = db.execute("SELECT role, text, tool_results FROM steps WHERE trajectory_id = ? AND idx = ?",
                         [lesson["trajectory_id"], ev["step_idx"]]).fetchone()
        text = ""
        if row:
            text = row[1] or "\n".join(r.get("content", "") for r in json.loads(row[2]))
        out.append({"trajectory_id": lesson["trajectory_id"], "step_idx": ev["step_idx"], "quote": ev["quote"],
                    "grounded": ev.get("grounded"), "role": row[0] if row else None, "text": text})
    return out


def blame(db: Database, version_id: str, file: str, line: int) -> dict[str, Any]:
    """Everything behind one line (1-based, as editors number lines) of a version's file."""
    version = _version(db, version_id)
    lines = version["files"].get(file, "").splitlines()
    origin = line_origin(db, version_id, file, line - 1)
    result: dict[str, Any] = {"version": version_id, "file": file, "line": line,
                              "text": lines[line - 1] if 0 < line <= len(lines) else "", "origin": origin,
                              "merge_path": [], "lessons": [], "steps": []}
    if origin["kind"] != "edit":
        return result
    path = merge_path(db, origin["run_id"], origin["edit_id"])
    result["merge_path"] = [{"edit_id": e["id"], "level": e["level"], "patch_id": e["patch_id"], "op": e["op"],
                             "section": e.get("section"), "content": e["content"], "rationale": e.get("rationale", "")}
                            for e in path]
    lesson_ids = sorted({s for e in path for s in e.get("support") or []})
    for lesson_id in lesson_ids:
        try:
            lesson = get_lesson(db, lesson_id)
        except NotFoundError:
            continue
        result["lessons"].append({k: lesson[k] for k in ("id", "kind", "title", "content", "trajectory_id", "status")})
        result["steps"].extend(_steps(db, lesson))
    result["trajectories"] = sorted({lesson["trajectory_id"] for lesson in result["lessons"]})
    return result
