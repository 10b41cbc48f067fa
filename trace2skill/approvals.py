"""Two-person approval: the workspace's policy on how many reviewers approve a proposal before it
becomes a saved version (`required_approvals` in the workspace's settings).

- **1** (the default): one reviewer is enough, and the reviewer who saves is that reviewer: saving is
  approving. Approvals given beforehand are recorded and shown, never required.
- **2**: a save needs two distinct reviewers who approved *the result being saved*, and the author of
  the last edit cannot be the only approver. The saver's save does not count as an approval.

An approval is a decision ("skill_version", VERSION, "approve") by the reviewer, recording the
fingerprint of the result they approved: the version as it is, or the version with their hunk
decisions and hand edits. An approval of another result (other hunks rejected, other edits) does not
count for this one.

The **author of the last edit** is the person whose hand made the result what it is: the saver when
the result differs from the version under review (their hunk decisions or hand edits changed it);
otherwise the reviewer who saved that version by hand (a manual version); nobody for a proposal
written by a consolidation or an imported version, saved as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlite_utils import Database

from trace2skill.errors import ApprovalError
from trace2skill.models import SkillVersion, content_hash
from trace2skill.reviewers import check_name
from trace2skill.settings import required_approvals
from trace2skill.store import write_transaction
from trace2skill.store.decisions import decisions_about, list_decisions, record_decision
from trace2skill.store.skills import get_version

APPROVE = "approve"
HISTORY_LIMIT = 1000


def result_key(files: Mapping[str, str]) -> str:
    """The fingerprint of a result: its files and their text."""
    return content_hash({"files": dict(sorted(files.items()))})


@dataclass(frozen=True)
class Approval:
    actor: str
    result: str  # the fingerprint of the result approved
    created: str


def approvals(db: Database, version_id: str) -> list[Approval]:
    """Every approval of a version, oldest first (one per reviewer and result)."""
    seen: dict[tuple[str, str], Approval] = {}
    for d in reversed(list_decisions(db, "skill_version", version_id, limit=HISTORY_LIMIT)):
        if d.action == APPROVE:
            key = (d.actor, str(d.detail.get("result", "")))
            seen.setdefault(key, Approval(d.actor, key[1], d.created))
    return list(seen.values())


def _distinct(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def approvers(db: Database, version_id: str, files: Mapping[str, str]) -> list[str]:
    """Who approved this result of the version, in the order they did."""
    key = result_key(files)
    return _distinct([a.actor for a in approvals(db, version_id) if a.result == key])


def approve_version(db: Database, version_id: str, actor: str, files: Mapping[str, str] | None = None) -> bool:
    """Record `actor`'s approval of a version's result (`files`; None: the version as it is).
    False when they had already approved that same result (nothing new is recorded)."""
    actor = check_name(actor)
    version = get_version(db, version_id)
    result = dict(files) if files is not None else version.files
    if not result:
        raise ApprovalError("there is nothing to approve: the result has no files")
    key = result_key(result)
    with write_transaction(db):
        if any(a.actor == actor and a.result == key for a in approvals(db, version.id)):
            return False
        record_decision(db, "skill_version", version.id, APPROVE, actor=actor,
                        detail={"skill": version.skill, "result": key, "as_is": result == version.files})
    return True


def _maker(db: Database, version: SkillVersion) -> str | None:
    """Who saved a manual version by hand (the first save of it); None for proposals and imports."""
    if version.source != "manual":
        return None
    saves = [d for d in list_decisions(db, "skill_version", version.id, limit=HISTORY_LIMIT) if d.action == "save"]
    return saves[-1].actor if saves else None


def last_editor(db: Database, version: SkillVersion, files: Mapping[str, str], saver: str) -> str | None:
    """The author of the last edit of the result `files` of `version` (see the module's words)."""
    return saver if dict(files) != version.files else _maker(db, version)


@dataclass(frozen=True)
class SaveCheck:
    """What the policy says about saving one result of a version."""

    required: int
    approved_by: list[str]
    author: str | None
    other_results: list[str] = field(default_factory=list)  # approved another result of this version
    reason: str | None = None  # why the save is refused; None: it may be saved


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def save_check(db: Database, version: SkillVersion, files: Mapping[str, str], saver: str) -> SaveCheck:
    """Whether `saver` may save `files` as the result of reviewing `version`, and why not."""
    required = required_approvals(db)
    approved = approvers(db, version.id, files)
    others = [a for a in _distinct([a.actor for a in approvals(db, version.id)]) if a not in approved]
    author = last_editor(db, version, files, saver)
    reason = None
    if required > 1 and len(approved) < required:
        so_far = f"so far only {_names(approved)} has" if approved else "so far nobody has"
        reason = f"{required} reviewers must approve this result before it is saved, and {so_far}"
        if others:
            reason += f" ({_names(others)} approved a different result: other hunk decisions or edits)"
    elif required > 1 and author is not None and set(approved) == {author}:
        reason = f"{author} made the last edit, so someone else must approve it too"
    return SaveCheck(required, approved, author, others, reason)


def can_save(db: Database, version_id: str, saver: str, files: Mapping[str, str] | None = None) -> str | None:
    """Why `saver` may not save `files` (None: the version as it is) as the reviewed result of the
    version; None when the policy allows the save."""
    version = get_version(db, version_id)
    return save_check(db, version, version.files if files is None else files, saver).reason


def check_save(db: Database, version: SkillVersion, files: Mapping[str, str], saver: str) -> SaveCheck:
    """`save_check`, raising ApprovalError when the save is refused."""
    found = save_check(db, version, files, saver)
    if found.reason:
        raise ApprovalError(f"Not saved: {found.reason}.")
    return found


def approved_by(db: Database, version: SkillVersion) -> list[str]:
    """Who approved a version as it is: approvals of it, and, for a result saved from a proposal,
    the approvals of that result on its parent."""
    names = approvers(db, version.id, version.files)
    if version.parent:
        names += approvers(db, version.parent, version.files)
    return _distinct(names)


def history_approvers(db: Database, versions: list[tuple[str, str | None]]) -> dict[str, list[str]]:
    """`approved_by` for many (version id, parent id) at once, reading the files of only the versions
    whose own or parent's approvals could count."""
    ids = [v for pair in versions for v in pair if v]
    given: dict[str, list[Approval]] = {}
    for d in decisions_about(db, "skill_version", ids, APPROVE):
        given.setdefault(d.subject_id, []).append(Approval(d.actor, str(d.detail.get("result", "")), d.created))
    out: dict[str, list[str]] = {}
    for vid, parent in versions:
        found = given.get(vid, []) + (given.get(parent, []) if parent else [])
        if found:
            key = result_key(get_version(db, vid).files)
            out[vid] = _distinct([a.actor for a in found if a.result == key])
    return out
