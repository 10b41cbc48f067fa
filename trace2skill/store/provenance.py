"""Line origins: for each file of a proposed version, the edit that wrote each line (see
`trace2skill.provenance`)."""

from __future__ import annotations

import json

from sqlite_utils import Database

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
