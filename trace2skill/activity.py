"""The activity log: every decision (who, what, about which object, when) in words, and as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from trace2skill.models import Decision

KIND_WORDS = {"lesson": "lesson", "trajectory": "trajectory", "skill_version": "skill version", "skill": "skill",
              "import": "import", "run": "run", "hunk": "hunk", "proposal": "proposal", "comment": "comment"}
ACTION_WORDS = {
    ("lesson", "approved"): "approved the lesson", ("lesson", "rejected"): "rejected the lesson",
    ("lesson", "proposed"): "sent the lesson back to proposed", ("lesson", "edit"): "edited the lesson",
    ("trajectory", "set_outcome"): "set the outcome", ("skill_version", "save"): "saved the version",
    ("skill_version", "approve"): "approved the proposal", ("skill", "lock_sections"): "changed the locked sections",
    ("import", "delete"): "deleted what the import added", ("trajectory", "set_split"): "moved the trajectory",
    ("split", "random_split"): "split the tasks at random",
    ("skill_version", "export_to_git"): "exported the version to git",
    ("skill_version", "import_from_git"): "imported the skill from git",
    ("trajectory", "split_session"): "split the session into tasks",
    ("queue", "assigned_lessons"): "assigned lessons", ("queue", "unassigned_lessons"): "took lessons off a queue",
    ("comment", "commented"): "commented", ("comment", "replied"): "replied",
    ("comment", "resolved"): "resolved a thread", ("comment", "reopened"): "reopened a thread",
    ("run", "include_heldout"): "used held-out lessons",
}


def what(d: Decision) -> str:
    """The decision in a few words: "approved the lesson", "set the outcome to success"."""
    words = ACTION_WORDS.get((d.subject_type, d.action), f"{d.action.replace('_', ' ')}")
    if d.subject_type == "trajectory" and d.action == "set_outcome" and d.detail.get("outcome"):
        words += f" to {d.detail['outcome']}"
    if d.action == "set_split":
        words += " to held-out" if d.detail.get("split") == "heldout" else " to evolve"
    if d.subject_type == "comment" and d.detail.get("on"):
        words += f" on a {KIND_WORDS.get(d.detail['on'], d.detail['on'])}: {d.detail.get('text', '')}"
    if d.subject_type == "skill" and d.action == "lock_sections":
        words += f" ({', '.join(d.detail.get('after') or []) or 'none'})"
    return words


COLUMNS = ["when", "reviewer", "what", "kind", "object", "detail"]

# What "what" already says, left out of the detail in words.
_SAID = {("trajectory", "set_outcome"): {"outcome"}, ("comment", "commented"): {"on", "text"},
         ("comment", "replied"): {"on", "text"}, ("comment", "resolved"): {"on", "text"},
         ("comment", "reopened"): {"on", "text"}, ("skill", "lock_sections"): {"after"},
         ("trajectory", "set_split"): {"split"}}
_KEY_WORDS = {"previous": "was", "previous_reward": "reward was", "from_version": "from version",
              "as_is": "as proposed", "first_steps": "first steps", "min_steps": "at least steps per task",
              "lesson_checks": "lesson checks", "heldout": "held-out runs", "evolve": "evolve runs",
              "heldout_tasks": "held-out tasks", "evolve_tasks": "evolve tasks", "before": "locked before",
              "subject": "about"}
_LIST_SHOWN = 3
_VALUE_CHARS = 80


def _value_words(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, list):
        shown = ", ".join(_value_words(v) for v in value[:_LIST_SHOWN])
        return shown if len(value) <= _LIST_SHOWN else f"{shown} and {len(value) - _LIST_SHOWN} more"
    if isinstance(value, dict):
        return "; ".join(f"{_KEY_WORDS.get(k, k.replace('_', ' '))} {_value_words(v)}" for k, v in value.items())
    text = str(value)
    return text if len(text) <= _VALUE_CHARS else text[:_VALUE_CHARS - 1] + "…"


def detail_words(d: Decision) -> str:
    """The decision's recorded detail in words ("was failure · reward 1.0"), less what `what` says."""
    said = _SAID.get((d.subject_type, d.action), set())
    return " · ".join(f"{_KEY_WORDS.get(key, key.replace('_', ' '))}: {_value_words(value)}"
                      for key, value in d.detail.items() if key not in said)


def rows(decisions: Iterable[Decision], *, words: bool = False) -> list[dict[str, str]]:
    """One row per decision; the detail as JSON (for files and programs) or, with `words`, in words."""
    return [{"when": d.created, "reviewer": d.actor, "what": what(d), "kind": KIND_WORDS.get(d.subject_type,
             d.subject_type), "object": d.subject_id,
             "detail": detail_words(d) if words else json.dumps(d.detail, ensure_ascii=False) if d.detail else ""}
            for d in decisions]


def to_csv(decisions: Iterable[Decision]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows(decisions))
    return out.getvalue()
