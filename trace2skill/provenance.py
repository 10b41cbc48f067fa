"""Provenance: from any line of a proposed or saved skill back to the edits, merge path, lessons and
trajectory steps behind it ("blame").

When a proposal is applied, the apply step knows which edit wrote each line; those line origins
are stored with the proposed version. A later version (a manual save, a partial accept) inherits
the origin of every line it kept unchanged from its parent (found by a line diff). A line a
reviewer reworded keeps the origin of the line it replaced, with "reworded by <reviewer>" added
(`rewords`, newest first); a base line a rejected hunk restored keeps the base's origin (both are
the save's line links, see `trace2skill.rewords`). Any other changed line is its own ("manual").
The lines a version removed from its parent are listed by `deleted_lines`, each with what removed it.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlite_utils import Database

from trace2skill.analysis.grounding import step_text
from trace2skill.errors import NotFoundError
from trace2skill.models import Lesson
from trace2skill.store.lessons import get_lesson
from trace2skill.store.patches import run_patches
from trace2skill.store.provenance import stored_links, stored_origins
from trace2skill.store.skills import get_version
from trace2skill.store.trajectories import get_steps, get_trajectory

MAX_DEPTH = 200  # versions walked back at most
LESSON_KEYS = ("id", "kind", "title", "content", "trajectory_id", "status")  # of a lesson in a blame


def _map_to_parent(child: list[str], parent: list[str], line: int) -> int | None:
    """The parent's line number (0-based) of an unchanged child line, else None."""
    matcher = difflib.SequenceMatcher(a=parent, b=child, autojunk=False)
    for tag, a0, _a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal" and b0 <= line < b1:
            return a0 + (line - b0)
    return None


def reword_entry(link: dict[str, Any], actor: str, version: str, line: int, text: str) -> dict[str, Any]:
    """One "reworded by" step of a line's history: who, in which version, the words it replaced."""
    return {"by": actor, "version": version, "line": line, "text": text, "replaced": link["text"],
            "replaced_version": link["version"], "replaced_line": link["line"], "similarity": link.get("similarity")}


def line_origin(db: Database, version_id: str, file: str, line: int) -> dict[str, Any]:
    """Where a line (0-based) of a version's file comes from: an edit of a consolidation run, the
    imported base text, or a manual edit in some version; with `rewords` when reviewers reworded it
    on the way."""
    current, current_line = get_version(db, version_id), line
    rewords: list[dict[str, Any]] = []

    def found(origin: dict[str, Any]) -> dict[str, Any]:
        return {**origin, "rewords": rewords} if rewords else origin

    for _ in range(MAX_DEPTH):
        lines = current.files.get(file, "").splitlines()
        if not 0 <= current_line < len(lines):
            raise NotFoundError(f"{file} of version {current.id} has no line {current_line + 1}")
        stored = stored_origins(db, current.id, file)
        if stored is not None:
            origins, run_id = stored
            edit_id = origins[current_line] if current_line < len(origins) else None
            if edit_id:
                return found({"kind": "edit", "edit_id": edit_id, "run_id": run_id, "version": current.id,
                              "line": current_line})
        if current.parent is None:
            return found({"kind": "base" if current.source == "import" else "manual", "version": current.id,
                          "line": current_line})
        parent = get_version(db, current.parent)
        mapped = _map_to_parent(lines, parent.files.get(file, "").splitlines(), current_line)
        if mapped is None:  # new in `current`: reworded or restored by a reviewer, or written by hand
            saved = stored_links(db, current.id, file)
            link = saved.links.get(current_line) if saved else None
            if saved is None or link is None:
                return found({"kind": "base" if stored is not None else "manual", "version": current.id,
                              "line": current_line})
            if link["kind"] == "reword":
                rewords.append(reword_entry(link, saved.actor, current.id, current_line, lines[current_line]))
            current, current_line = (parent if link["version"] == parent.id else get_version(db, link["version"]),
                                     link["line"])
            continue
        current, current_line = parent, mapped
    raise NotFoundError("version history too deep to trace")


def deleted_lines(db: Database, version_id: str, file: str) -> list[dict[str, Any]]:
    """The lines of the parent's file that this version removed (blank ones aside), each with its
    origin in the parent and what removed it: a reviewer's save ("rejected" hunk or "deleted" by
    hand, with who saved it) or the consolidation edit that replaced it in a proposal."""
    version = get_version(db, version_id)
    if version.parent is None:
        return []
    parent = get_version(db, version.parent)
    saved = stored_links(db, version_id, file)
    if saved is not None:
        gone = [(d["line"], d["text"], {"how": d["how"], "by": saved.actor, "edits": []}) for d in saved.deleted]
    else:
        gone = _removed(parent.files.get(file, "").splitlines(), version.files.get(file, "").splitlines(),
                        stored_origins(db, version_id, file), version.source)
    return [{"line": k + 1, "text": text, **what, "origin": line_origin(db, parent.id, file, k)}
            for k, text, what in gone]


def _removed(old: list[str], new: list[str], stored: tuple[list[str | None], str | None] | None,
             source: str) -> list[tuple[int, str, dict[str, Any]]]:
    """Removed lines of a version without a reviewer's record: in a proposal, each with the edits
    that wrote the lines put in its place (none for a plain deletion)."""
    origins, run_id = stored if stored else ([], None)
    by = f"consolidation run {run_id}" if run_id else source
    out = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            edits = sorted({e for e in origins[b0:b1] if e})
            out += [(k, old[k], {"how": "replaced" if edits else "deleted", "by": by, "edits": edits})
                    for k in range(a0, a1) if old[k].strip()]
    return out


def _edit_index(db: Database, run_id: str) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for patch in run_patches(db, run_id, by_level=False):
        for e in patch.edits:
            index[e.id] = {**e.model_dump(), "patch_id": patch.id, "level": patch.level}
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


def _steps(db: Database, lesson: Lesson) -> list[dict[str, Any]]:
    """The steps a lesson quotes: each with the quote, its stored grounding (verdict, match and the
    span in `step_text`) and the step's text as grounding read it."""
    steps = get_steps(db, lesson.trajectory_id, sorted({ev.step_idx for ev in lesson.evidence}))
    missing = any(ev.step_idx not in steps for ev in lesson.evidence)
    n_steps = get_trajectory(db, lesson.trajectory_id, with_steps=False).n_steps if missing else None
    out = []
    for n, ev in enumerate(lesson.evidence):
        step = steps.get(ev.step_idx)
        out.append({"trajectory_id": lesson.trajectory_id, "step_idx": ev.step_idx, "quote": ev.quote,
                    "grounded": ev.grounded, "match": ev.match, "start": ev.start, "end": ev.end,
                    "role": step.role if step else None, "text": step_text(step) if step else "",
                    "lesson_id": lesson.id, "quote_no": n, **({} if step else {"run_steps": n_steps})})
    return out


def blame(db: Database, version_id: str, file: str, line: int) -> dict[str, Any]:
    """Everything behind one line (1-based, as editors number lines) of a version's file: its origin,
    the rewords on the way (newest first: who reworded it, and the words replaced), and for a line
    from an edit the merge path, lessons and quoted steps."""
    version = get_version(db, version_id)
    lines = version.files.get(file, "").splitlines()
    origin = line_origin(db, version_id, file, line - 1)
    result: dict[str, Any] = {"version": version_id, "file": file, "line": line,
                              "text": lines[line - 1] if 0 < line <= len(lines) else "", "origin": origin,
                              "rewords": origin.get("rewords", []), "merge_path": [], "lessons": [], "steps": []}
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
        result["lessons"].append({k: getattr(lesson, k) for k in LESSON_KEYS})
        result["steps"].extend(_steps(db, lesson))
    result["trajectories"] = sorted({lesson["trajectory_id"] for lesson in result["lessons"]})
    return result
