"""What the screens' pickers list (no streamlit): labels for skill versions, and the consolidation
runs with what each consolidates into."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from trace2skill.humanize import ago
from trace2skill.models import SkillVersion
from trace2skill.store.runs import list_runs
from trace2skill.textcut import cut_words


def consolidation_runs(db: Database, limit: int = 30) -> list[dict[str, Any]]:
    """Consolidation run headers, newest first, with what they consolidate into."""
    return [{"id": r.id, "status": r.status, "created": r.created, "started": r.started, "finished": r.finished,
             "error": r.error, "base_version": r.config.get("base_version"), "new_skill": r.config.get("new_skill"),
             "lessons": len(r.config.get("lesson_ids") or [])}
            for r in list_runs(db, "consolidation", limit, with_progress=False)]


def version_labels(versions: list[SkillVersion], latest: str | None = None) -> dict[str, str]:
    """Plain-text picker labels for versions (id, source, created, a bit of the message)."""
    out = {}
    for v in versions:
        message = cut_words(v.message, 50, where=None, fold=True)
        tag = " (latest)" if v.id == latest else ""
        out[v.id] = f"{v.id[:12]}{tag} · {v.source} · {ago(v.created)}" + (f" · {message}" if message else "")
    return out
