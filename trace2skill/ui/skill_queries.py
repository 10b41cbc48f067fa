"""Small store queries the Consolidate, Review, Provenance and Skills screens need (no streamlit).

Lists are bounded in SQL; id sets are passed as one JSON array (``json_each``), so a run with
thousands of lessons is still one query.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from sqlite_utils import Database


def approved_counts(db: Database) -> tuple[int, int]:
    """(approved lessons, distinct trajectories they come from)."""
    row = db.execute("SELECT count(*), count(DISTINCT trajectory_id) FROM lessons WHERE status = 'approved'").fetchone()
    return int(row[0]), int(row[1])


def consolidation_runs(db: Database, limit: int = 30) -> list[dict[str, Any]]:
    """Consolidation run headers, newest first, with what they consolidate into."""
    rows = list(db.query("SELECT id, status, config, created, started, finished, error FROM runs "
                         "WHERE kind = 'consolidation' ORDER BY created DESC, id DESC LIMIT ?", [limit]))
    for row in rows:
        config = json.loads(row.pop("config") or "{}")
        row["base_version"] = config.get("base_version")
        row["new_skill"] = config.get("new_skill")
        row["lessons"] = len(config.get("lesson_ids") or [])
    return rows


def version_skill(db: Database, version_id: str | None) -> str | None:
    row = db.execute("SELECT skill FROM skill_versions WHERE id = ?", [version_id]).fetchone() if version_id else None
    return row[0] if row else None


def proposals(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Proposed versions (newest first): id, skill, parent, run_id, message, created."""
    return list(db.query("SELECT id, skill, parent, run_id, message, created FROM skill_versions "
                         "WHERE source = 'proposal' ORDER BY rowid DESC LIMIT ?", [limit]))


def run_proposals(db: Database, run_id: str) -> list[dict[str, Any]]:
    """The proposal versions a run saved (a re-run adds one), newest first."""
    return list(db.query("SELECT id, skill, parent, message, created FROM skill_versions "
                         "WHERE run_id = ? AND source = 'proposal' ORDER BY rowid DESC", [run_id]))


def lesson_trajectories(db: Database, lesson_ids: Iterable[str]) -> dict[str, str]:
    """lesson id -> trajectory id."""
    ids = json.dumps(sorted(set(lesson_ids)))
    return {r[0]: r[1] for r in db.execute(
        "SELECT id, trajectory_id FROM lessons WHERE id IN (SELECT value FROM json_each(?))", [ids])}


def run_lesson_trajectories(db: Database, run_id: str) -> dict[str, str]:
    """lesson id -> trajectory id for the lessons a consolidation run used."""
    row = db.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()
    return lesson_trajectories(db, json.loads(row[0]).get("lesson_ids") or []) if row else {}


def run_edits(db: Database, run_id: str, edit_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored edits with these ids among a run's patches (id -> edit dict with its level)."""
    ids = json.dumps(sorted({i for i in edit_ids if i}))
    out: dict[str, dict[str, Any]] = {}
    for level, value in db.execute(
            "SELECT p.level, e.value FROM patches p, json_each(p.edits) e WHERE p.run_id = ? "
            "AND json_extract(e.value, '$.id') IN (SELECT value FROM json_each(?))", [run_id, ids]):
        edit = json.loads(value)
        out[edit["id"]] = {**edit, "level": level}
    return out


def trajectory_text(db: Database, trajectory_id: str) -> str:
    """A trajectory's task, step texts, tool arguments and tool results (what lint looks for values in)."""
    row = db.execute("SELECT task FROM trajectories WHERE id = ?", [trajectory_id]).fetchone()
    parts = [row[0] or ""] if row else []
    for text, calls, results in db.execute(
            "SELECT text, tool_calls, tool_results FROM steps WHERE trajectory_id = ? ORDER BY idx", [trajectory_id]):
        parts.append(text or "")
        parts += [json.dumps(c.get("arguments")) for c in json.loads(calls or "[]")]
        parts += [r.get("content", "") for r in json.loads(results or "[]")]
    return "\n".join(parts)


def version_labels(versions: list[dict[str, Any]], latest: str | None = None) -> dict[str, str]:
    """Plain-text picker labels for version rows (id, source, created, a bit of the message)."""
    out = {}
    for v in versions:
        message = " ".join((v.get("message") or "").split())[:50]
        tag = " (latest)" if v["id"] == latest else ""
        out[v["id"]] = f"{v['id'][:12]}{tag} · {v.get('source', 'proposal')} · {v['created']}" + (
            f" · {message}" if message else "")
    return out
