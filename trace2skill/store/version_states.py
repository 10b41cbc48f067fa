"""Draft or saved: a proposal is a draft until a reviewer saves it; a save (of the proposal as it is,
or of a reviewed result as a new version) makes that version the skill's current one.

Saves are the ``save`` decisions on skill versions: `save_version` records one for every version
saved by hand, and `mark_saved` for a version saved again as it is (a proposal accepted in full).
An imported version counts as saved when it is imported. The current version is the one saved (or
imported) last. Timestamps have one-second steps, so saves are ordered by the versions that existed
when they were made (the "horizon": the newest version row then; a version saved by hand is itself the
newest), a save after an import of the same horizon, and two saves by their decisions' order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from trace2skill.store.decisions import record_decision
from trace2skill.store.workspace import write_transaction

State = Literal["imported", "saved", "draft"]


@dataclass(frozen=True)
class VersionState:
    id: str
    source: str
    parent: str | None
    state: State
    saved_at: str | None  # when it was last saved (or imported)
    saved_by: str | None
    order: tuple[int, int, int]  # sorts saves: horizon, saved (1) or imported (0), decision id
    created: str | None = None  # when the version was made (imported or proposed)

    @property
    def label(self) -> str:
        """How the history names it: "proposal (draft)", "proposal (saved)", "saved" or "imported"."""
        if self.source == "proposal":
            return f"proposal ({'draft' if self.state == 'draft' else 'saved'})"
        return "imported" if self.state == "imported" else "saved"


_SQL = """SELECT v.id, v.source, v.parent, v.created, v.rowid AS row,
                 d.id AS decision, d.created AS decided, d.actor, d.detail
          FROM skill_versions v
          LEFT JOIN decisions d ON d.id = (SELECT max(x.id) FROM decisions x WHERE x.subject_type = 'skill_version'
                                           AND x.subject_id = v.id AND x.action = 'save')
          WHERE v.skill = ? ORDER BY v.rowid DESC"""


def version_states(db: Database, skill: str) -> list[VersionState]:
    """Every version of the skill, newest first, with its state and when it was last saved."""
    out = []
    for r in db.query(_SQL, [skill]):
        if r["decision"] is not None:
            state: State = "saved"
            horizon = json.loads(r["detail"] or "{}").get("horizon", r["row"])
            at, by, order = r["decided"], r["actor"], (int(horizon), 1, r["decision"])
        elif r["source"] == "import":
            state, at, by, order = "imported", r["created"], None, (r["row"], 0, 0)
        else:
            state, at, by, order = "draft", None, None, (0, 0, 0)
        out.append(VersionState(r["id"], r["source"], r["parent"], state, at, by, order, r["created"]))
    return out


def current_version_id(db: Database, skill: str) -> str | None:
    """The version saved (or imported) last; None when every version is a draft."""
    return current_of(version_states(db, skill))


def current_of(states: list[VersionState]) -> str | None:
    """`current_version_id` from states already read."""
    saved = [v for v in states if v.state != "draft"]
    return max(saved, key=lambda v: v.order).id if saved else None


def mark_saved(db: Database, version_id: str, *, actor: str, detail: dict[str, Any] | None = None) -> None:
    """Record that a reviewer saved this version as it is (it becomes the current version)."""
    with write_transaction(db):
        horizon = db.execute("SELECT max(rowid) FROM skill_versions").fetchone()[0]
        record_decision(db, "skill_version", version_id, "save", actor=actor, detail={**(detail or {}),
                                                                                      "horizon": horizon})
