"""The Review & diff model: a proposal is a draft until a reviewer saves it. Each hunk is accepted,
rejected or undecided (an undecided hunk stays as proposed); the result is the accepted and
undecided hunks, plus the reviewer's hand edits. Saving makes that result the skill's current
version: the proposal itself when it was accepted in full as it is, else a new version whose parent
is the proposal — with the links of its reworded, restored and deleted lines (`trace2skill.rewords`),
so every line keeps its provenance. A save the workspace's approval policy refuses (two-person
approval: `trace2skill.approvals`) raises ApprovalError, and the approvals a save rests on are
recorded with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from trace2skill.approvals import check_save
from trace2skill.models import SkillVersion
from trace2skill.rewords import FileLinks, review_links
from trace2skill.store.provenance import save_line_links
from trace2skill.store.skills import save_version
from trace2skill.store.version_states import current_version_id, mark_saved, version_states

Decision = Literal["accept", "reject"]
DECISIONS: tuple[Decision, ...] = ("accept", "reject")


@dataclass(frozen=True)
class HunkCounts:
    accepted: int = 0
    rejected: int = 0
    undecided: int = 0

    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.undecided

    @property
    def kept(self) -> int:
        """Hunks in the result: the accepted and the undecided ones."""
        return self.accepted + self.undecided

    def text(self) -> str:
        return (f"{self.total} hunk{'' if self.total == 1 else 's'}: {self.accepted} accepted, "
                f"{self.rejected} rejected, {self.undecided} undecided")


def count_decisions(decisions: Iterable[str | None]) -> HunkCounts:
    values = list(decisions)
    return HunkCounts(values.count("accept"), values.count("reject"),
                      sum(1 for d in values if d not in DECISIONS))


def kept_hunks(decisions: Mapping[int, str | None]) -> list[int]:
    """The hunks in the result: every one not rejected (undecided ones stay as proposed)."""
    return [k for k, d in sorted(decisions.items()) if d != "reject"]


@dataclass(frozen=True)
class SaveOutcome:
    version_id: str
    kind: Literal["saved_as_is", "new_version", "saved_again", "already_current"]
    reworded: int = 0  # lines reworded by hand that keep their provenance
    deleted: int = 0  # lines of the proposal left out (their record kept)


def _links(reviewed: SkillVersion, base: SkillVersion | None, merged: Mapping[str, str],
           saved: Mapping[str, str]) -> dict[str, FileLinks]:
    out = {}
    for path, text in saved.items():
        found = review_links((reviewed.id, reviewed.files.get(path)),
                             (base.id if base else None, base.files.get(path) if base else None),
                             merged.get(path), text)
        if found:
            out[path] = found
    return out


def save_review(db: Database, reviewed: SkillVersion, base: SkillVersion | None, merged: Mapping[str, str],
                saved: Mapping[str, str], *, actor: str, message: str,
                confirmed: list[dict[str, Any]] | None = None) -> SaveOutcome:
    """Save the reviewed result of `reviewed` (compared with `base`): `merged` is the text the hunk
    decisions gave, `saved` the result with the reviewer's hand edits. It becomes the skill's
    current version."""
    skill = reviewed.skill
    current = current_version_id(db, skill)
    if dict(saved) == dict(reviewed.files) and current == reviewed.id:
        return SaveOutcome(reviewed.id, "already_current")
    policy = check_save(db, reviewed, saved, actor)
    approval = {"approved_by": policy.approved_by, "required_approvals": policy.required}
    if dict(saved) == dict(reviewed.files):
        mark_saved(db, reviewed.id, actor=actor, detail={"skill": skill, "as_is": True, "message": message,
                                                          **approval})
        return SaveOutcome(reviewed.id, "saved_as_is")
    known = {v.id for v in version_states(db, skill)}
    vid = save_version(db, skill, saved, source="manual", parent=reviewed.id, message=message, actor=actor,
                       confirmed=confirmed, detail=approval)
    links = _links(reviewed, base, merged, saved)
    save_line_links(db, vid, {p: ({k: v.as_json() for k, v in fl.links.items()}, [d.as_json() for d in fl.deleted])
                              for p, fl in links.items()}, actor)
    reworded = sum(1 for fl in links.values() for link in fl.links.values() if link.kind == "reword")
    deleted = sum(len(fl.deleted) for fl in links.values())
    if vid not in known:
        return SaveOutcome(vid, "new_version", reworded, deleted)
    if current == vid:
        return SaveOutcome(vid, "already_current", reworded, deleted)
    mark_saved(db, vid, actor=actor, detail={"skill": skill, "again": True, "message": message, **approval})
    return SaveOutcome(vid, "saved_again", reworded, deleted)
