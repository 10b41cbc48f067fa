"""What a skill version's git commit says: the save's message as its subject, a provenance summary
(how many lines come from lessons, and of how many trajectories), who saved and who approved it,
and trailers naming the skill and the version. The author is the reviewer who saved the version.

Reviewers are names, not e-mail addresses: a name that is not an address gets a placeholder one
(``name@trace2skill.invalid``; the ``.invalid`` domain never delivers mail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlite_utils import Database

from trace2skill.humanize import plural
from trace2skill.models import Decision, SkillVersion
from trace2skill.provenance import line_origin
from trace2skill.store.decisions import list_decisions
from trace2skill.store.lessons import lesson_trajectories
from trace2skill.store.patches import run_edits
from trace2skill.store.version_states import version_states

APPROVING = ("save", "approve")  # decisions on a version that count as approving it
EMAIL_DOMAIN = "trace2skill.invalid"
SUBJECT_CHARS = 72
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


@dataclass(frozen=True)
class CommitText:
    """The commit message, who wrote it (the saver; None for a version nobody saved here, e.g. an
    imported one) and who approved it (oldest first)."""

    message: str
    author: str | None
    approvers: list[str]


def git_identity(name: str) -> tuple[str, str]:
    """(name, e-mail) git accepts for a reviewer: angle brackets and line breaks dropped, the name
    itself when it is an address, else a placeholder address made from it."""
    clean = " ".join(name.replace("<", " ").replace(">", " ").split()) or "unknown reviewer"
    if _EMAIL.fullmatch(clean):
        return clean, clean
    local = re.sub(r"[^a-z0-9._-]+", "-", clean.lower()).strip("-.") or "reviewer"
    return clean, f"{local}@{EMAIL_DOMAIN}"


def approvers(decisions: list[Decision]) -> list[str]:
    """The names that saved or approved the version, oldest first, each once."""
    return list(dict.fromkeys(d.actor for d in sorted(decisions, key=lambda d: d.id or 0) if d.action in APPROVING))


def provenance_summary(db: Database, version: SkillVersion) -> str:
    """One sentence: "12 of 80 lines come from 5 lessons of 3 trajectories" (blank lines not counted)."""
    by_run: dict[str, set[str]] = {}
    n_lines = from_edits = 0
    for file, text in version.files.items():
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            n_lines += 1
            origin = line_origin(db, version.id, file, i)
            if origin["kind"] == "edit":
                from_edits += 1
                by_run.setdefault(origin["run_id"], set()).add(origin["edit_id"])
    if not from_edits:
        return f"None of its {plural(n_lines, 'non-blank line')} comes from lessons: imported or written by hand."
    lessons: set[str] = set()
    for run_id, edit_ids in by_run.items():
        for edit in run_edits(db, run_id, edit_ids).values():
            lessons.update(edit.support)
    trajectories = set(lesson_trajectories(db, lessons).values())
    runs = ", ".join(sorted(by_run))
    return (f"{from_edits:,} of its {plural(n_lines, 'non-blank line')} come from {plural(len(lessons), 'lesson')} of "
            f"{plural(len(trajectories), 'trajectory')} (consolidation {'run' if len(by_run) == 1 else 'runs'} "
            f"{runs}).")


def _subject_and_body(text: str, fallback: str) -> tuple[str, str]:
    lines = text.strip().splitlines()
    if not lines:
        return fallback, ""
    subject = " ".join(lines[0].split())
    rest = "\n".join(lines[1:]).strip()
    if len(subject) > SUBJECT_CHARS:  # the whole first line goes to the body, cut words in the subject
        rest = (subject + ("\n\n" + rest if rest else "")).strip()
        subject = subject[:SUBJECT_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return subject, rest


def commit_text(db: Database, version: SkillVersion) -> CommitText:
    """The commit message of a version: the last save's message (else the version's) as subject."""
    decisions = list_decisions(db, "skill_version", version.id, limit=10_000)
    saves = [d for d in decisions if d.action == "save"]  # newest first
    said = next((str(d.detail.get("message") or "") for d in saves if d.detail.get("message")), "")
    subject, body = _subject_and_body(said or version.message, f"{version.skill}: version {version.id[:12]}")
    state = next((s for s in version_states(db, version.skill) if s.id == version.id), None)
    saver = state.saved_by if state else None
    names = approvers(decisions)
    if saver:
        who = f"Saved by {saver} on {(state.saved_at if state else '') or '?'}."
    else:
        who = f"Imported on {version.created}; nobody saved it in Trace2Skill."
    paragraphs = [subject, body,
                  f"Skill {version.skill}, version {version.id} (parent {version.parent or 'none'}).",
                  f"Provenance: {provenance_summary(db, version)}",
                  who + (f" Approved by {', '.join(names)}." if names else ""),
                  "\n".join([f"Trace2Skill-Skill: {version.skill}", f"Trace2Skill-Version: {version.id}",
                             *(f"Approved-by: {git_identity(n)[0]}" for n in names)])]
    return CommitText("\n\n".join(p for p in paragraphs if p) + "\n", saver, names)
