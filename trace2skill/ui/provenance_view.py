"""The Provenance screen's data (no streamlit): the origin of every line of a version's file in one
pass (the same answer as `trace2skill.provenance.line_origin` line by line, with one line diff per
version instead of one per line), and the quoted steps of a blame with the quote located.
"""

from __future__ import annotations

import difflib
from typing import Any

import pandas as pd
from sqlite_utils import Database

from trace2skill.analysis.grounding import find_quote
from trace2skill.errors import NotFoundError
from trace2skill.provenance import MAX_DEPTH, reword_entry
from trace2skill.store.lessons import lesson_trajectories
from trace2skill.store.patches import run_edits
from trace2skill.store.provenance import stored_links, stored_origins
from trace2skill.store.skills import get_version
from trace2skill.ui.escape import missing_step_html, quote_html

Origin = dict[str, Any]


def _to_parent(child: list[str], parent: list[str]) -> dict[int, int]:
    matcher = difflib.SequenceMatcher(a=parent, b=child, autojunk=False)
    out = {}
    for tag, a0, _a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out.update({b0 + k: a0 + k for k in range(b1 - b0)})
    return out


def line_origins(db: Database, version_id: str, file: str, _depth: int = 0) -> list[Origin]:
    """For each line (0-based) of the file: {"kind": edit|base|manual, "version", and for edits
    "edit_id", "run_id"}; mirrors `provenance.line_origin`."""
    if _depth > MAX_DEPTH:
        raise NotFoundError("version history too deep to trace")
    version = get_version(db, version_id)
    lines = version.files.get(file, "").splitlines()
    stored = stored_origins(db, version_id, file)
    out: list[Origin | None] = [None] * len(lines)
    if stored:
        origins, run_id = stored
        for i in range(len(lines)):
            if i < len(origins) and origins[i]:
                out[i] = {"kind": "edit", "edit_id": origins[i], "run_id": run_id, "version": version_id}
    pending = [i for i, o in enumerate(out) if o is None]
    if pending and version.parent is None:
        kind = "base" if version.source == "import" else "manual"
        for i in pending:
            out[i] = {"kind": kind, "version": version_id}
    elif pending and version.parent is not None:
        parent = get_version(db, version.parent)
        mapping = _to_parent(lines, parent.files.get(file, "").splitlines())
        saved = stored_links(db, version_id, file)
        links = {i: saved.links[i] for i in pending if i not in mapping and saved and i in saved.links}
        traced: dict[str, list[Origin]] = {}  # origins of the parent (and of the base a link points to)

        def origins_of(vid: str) -> list[Origin]:
            if vid not in traced:
                traced[vid] = line_origins(db, vid, file, _depth + 1)
            return traced[vid]

        for i in pending:
            if i in mapping:
                out[i] = origins_of(parent.id)[mapping[i]]
            elif saved and i in links:
                link = links[i]
                origin = origins_of(link["version"])[link["line"]]
                if link["kind"] == "reword":
                    step = reword_entry(link, saved.actor, version_id, i, lines[i])
                    origin = {**origin, "rewords": [step, *origin.get("rewords", [])]}
                out[i] = origin
            else:
                out[i] = {"kind": "base" if stored is not None else "manual", "version": version_id}
    return [o for o in out if o is not None]


def lines_frame(db: Database, version_id: str, file: str) -> pd.DataFrame:
    """line (1-based), origin, support (distinct trajectories of the edit), reworded (by whom, newest
    first), text."""
    lines = get_version(db, version_id).files.get(file, "").splitlines()
    origins = line_origins(db, version_id, file)
    support: dict[str, int] = {}
    by_run: dict[str, set[str]] = {}
    for o in origins:
        if o["kind"] == "edit":
            by_run.setdefault(o["run_id"], set()).add(o["edit_id"])
    for run_id, ids in by_run.items():
        edits = run_edits(db, run_id, ids)
        trajectory_of = lesson_trajectories(db, {s for e in edits.values() for s in e.support})
        for edit_id, e in edits.items():
            support[edit_id] = len({trajectory_of.get(s, s) for s in e.support})
    return pd.DataFrame([{"line": i + 1, "origin": o["kind"],
                          "support": str(support.get(o.get("edit_id", ""), "?")) if o["kind"] == "edit" else "",
                          "reworded": ", ".join(dict.fromkeys(reviewer(r["by"]) for r in o.get("rewords", []))),
                          "text": text} for i, (o, text) in enumerate(zip(origins, lines))],
                        columns=["line", "origin", "support", "reworded", "text"])


REVIEWERS = {"ui": "a reviewer in the app", "cli": "the command line", "user": "a reviewer"}
HOW_REMOVED = {"rejected": "hunk rejected in review", "deleted": "deleted", "replaced": "replaced by an edit"}


def deleted_frame(removed: list[dict[str, Any]]) -> pd.DataFrame:
    """The lines a version removed (see `provenance.deleted_lines`) as a table: the parent's line
    number, text, how and by whom it was removed, and where it came from."""
    def came_from(origin: Origin) -> str:
        return f"edit {origin['edit_id'][:12]}" if origin.get("edit_id") else str(origin["kind"])

    rows = [{"line": d["line"], "text": d["text"], "removed": HOW_REMOVED.get(d["how"], d["how"]),
             "by": reviewer(d["by"]), "edits": ", ".join(e[:12] for e in d["edits"]),
             "came from": came_from(d["origin"])}
            for d in removed]
    return pd.DataFrame(rows, columns=["line", "text", "removed", "by", "edits", "came from"])


def reviewer(actor: str) -> str:
    """How screens name who did something: the reviewer's name, or where it was done."""
    return REVIEWERS.get(actor, actor)


def _located(s: dict[str, Any]) -> tuple[tuple[int, int] | None, str | None]:
    """(span, match) of a quoted step: the stored span and verdict when it has them (offsets into
    its `text`), else grounding's own search; nothing for a quote grounding did not find."""
    if s.get("grounded") is False:
        return None, None
    text, start, end = s["text"] or "", s.get("start"), s.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text):
        return (start, end), s.get("match")
    found = find_quote(text, s["quote"] or "")
    return ((found.start, found.end), s.get("match") or found.kind) if found else (None, None)


def located_steps(steps: list[dict[str, Any]], context: int = 500) -> list[dict[str, Any]]:
    """The blame's quoted steps with the quote located in the step text and the step rendered as
    escaped HTML with the quote marked (`match`: exact, fuzzy or None when not located)."""
    out = []
    for s in steps:
        if s.get("role") is None and "run_steps" in s:  # the lesson cites a step the run does not have
            out.append({**s, "match": None, "html": missing_step_html(s["step_idx"], s["run_steps"] or 0)})
            continue
        span, match = _located(s)
        out.append({**s, "match": match, "html": quote_html(s["text"] or "", span, context)})
    return out
