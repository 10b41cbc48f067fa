"""Line origins: for each file of a proposed version, the edit that wrote each line; and line links:
for each file of a reviewer's save, the lines it reworded, restored or deleted, and who saved it
(see `trace2skill.provenance` and `trace2skill.rewords`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from trace2skill.models import utcnow
from trace2skill.store.workspace import write_transaction

Origins = list[str | None]  # per line (0-based): the id of the edit that wrote it, None for other lines


def save_line_origins(db: Database, version_id: str, origins: dict[str, Origins], run_id: str | None) -> None:
    with write_transaction(db):
        db.table("line_origins").upsert_all(
            [{"version_id": version_id, "file": f, "run_id": run_id, "origins": json.dumps(o)}
             for f, o in origins.items()], pk=("version_id", "file"))


def stored_origins(db: Database, version_id: str, file: str) -> tuple[Origins, str | None] | None:
    """(origins, run id) stored for a version's file; None when apply recorded none for it."""
    row = db.execute("SELECT origins, run_id FROM line_origins WHERE version_id = ? AND file = ?",
                     [version_id, file]).fetchone()
    return (json.loads(row[0]), row[1]) if row else None


def written_edits(db: Database, version_id: str) -> set[str]:
    """Ids of the edits that wrote any line of the version (in any file)."""
    rows = db.execute("SELECT origins FROM line_origins WHERE version_id = ?", [version_id])
    return {o for (origins,) in rows for o in json.loads(origins) if o}


@dataclass(frozen=True)
class LineLinks:
    """One file of a reviewer's save: line (0-based) -> link ({"kind", "version", "line", "text",
    "similarity"}), the parent's deleted lines ({"line", "text", "how"}), and who saved it."""

    actor: str
    links: dict[int, dict[str, Any]]
    deleted: list[dict[str, Any]]


def save_line_links(db: Database, version_id: str, files: dict[str, tuple[dict[int, dict[str, Any]],
                                                                       list[dict[str, Any]]]],
                    actor: str) -> None:
    """Record the links of a saved version's files; a version saved again keeps its first record."""
    with write_transaction(db):
        for file, (links, deleted) in files.items():
            db.execute("INSERT OR IGNORE INTO line_links (version_id, file, actor, links, deleted, created) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [version_id, file, actor, json.dumps({str(k): v for k, v in links.items()}, ensure_ascii=False),
                        json.dumps(deleted, ensure_ascii=False), utcnow()])


def stored_links(db: Database, version_id: str, file: str) -> LineLinks | None:
    row = db.execute("SELECT actor, links, deleted FROM line_links WHERE version_id = ? AND file = ?",
                     [version_id, file]).fetchone()
    if row is None:
        return None
    return LineLinks(row[0], {int(k): v for k, v in json.loads(row[1]).items()}, json.loads(row[2]))
