"""Quality flags, by code, before any human sees a lesson: each says what is wrong and why, so a
reviewer (or the workspace policy) can set the lesson aside.

- ``repeated_text``: the same sentence (or a long run of the same words) more than once — the
  embedded toy model's "The user ID is 23198. The user ID is 23198. …".
- ``template_text``: markup or template text that does not belong in guidance: raw HTML tags,
  ``{{…}}`` placeholders, JSON fragments.
- ``empty``: no real guidance (a few words, or only punctuation).
- ``platitude``: advice that carries no information ("be careful", "double-check everything").
- ``ungrounded``: none of its quotes was found in the trajectory.
- ``copied``: the guidance is text copied from the trajectory, not a rule drawn from it.
- ``run_values``: ids, codes, amounts, dates or names that appear in this run and in no other
  task's runs (runs of one task share its values).
- ``rejected_before``: nearly the same as a lesson a reviewer already rejected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from trace2skill.models import LessonFlag
from trace2skill.skill.lint import VALUE_PATTERNS

LABELS = {
    "repeated_text": "repeated text",
    "template_text": "markup or template text",
    "empty": "empty guidance",
    "platitude": "a platitude",
    "ungrounded": "quotes not found in the run",
    "copied": "copied from the run",
    "run_values": "values from this run only",
    "rejected_before": "like a rejected lesson",
}
MIN_WORDS = 4
SHINGLE = 6  # words per shingle when comparing with the trajectory
COPIED_SHARE = 0.7
NEAR_DUPLICATE = 0.85  # cosine similarity (MiniLM) to a rejected lesson

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[A-Za-z0-9']+")
_HTML = re.compile(r"</?\s*[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?>")
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\$\{[^}]*\}")
_JSON = re.compile(r"[{\[]\s*\"[^\"]{1,60}\"\s*:|\"\s*:\s*[{\[\"]")
PLATITUDES = [re.compile(p, re.IGNORECASE) for p in (
    r"^\W*(?:always\s+)?be\s+(?:careful|thorough|attentive|precise|accurate|diligent|helpful)\b",
    r"\bdouble[- ]check\s+(?:everything|all|your\s+work)\b",
    r"^\W*pay\s+(?:close\s+)?attention\b",
    r"^\W*(?:always\s+)?follow\s+(?:the|all)\s+(?:rules|instructions|policy|policies|guidelines)\W*$",
    r"^\W*(?:make\s+sure\s+to\s+|always\s+)?do\s+(?:your|a)\s+best\b",
    r"^\W*think\s+(?:carefully|step by step)\W*$",
    r"^\W*avoid\s+(?:mistakes|errors)\W*$",
)]


Flag = LessonFlag


def label(code: str) -> str:
    """A flag in the reviewers' words."""
    return LABELS.get(code, code.replace("_", " "))


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def repeated_text(text: str) -> Flag | None:
    sentences = [" ".join(words(s)) for s in _SENTENCE.split(text)]
    counts = Counter(s for s in sentences if len(s.split()) >= 3)
    twice = [s for s, n in counts.items() if n > 1]
    if twice:
        return Flag(code="repeated_text",
                    reason=f"the sentence {twice[0][:60]!r} appears {counts[twice[0]]} times")
    ws = words(text)
    grams = [" ".join(ws[i:i + 4]) for i in range(len(ws) - 3)]
    if len(grams) >= 12:
        distinct = len(set(grams)) / len(grams)
        if distinct < 0.5:
            return Flag(code="repeated_text",
                        reason=f"only {distinct:.0%} of its word sequences are different: it repeats itself")
    return None


def template_text(text: str) -> Flag | None:
    for pattern, what in ((_PLACEHOLDER, "a template placeholder"), (_HTML, "raw HTML"), (_JSON, "a JSON fragment")):
        found = pattern.search(text)
        if found:
            return Flag(code="template_text", reason=f"{what} ({found.group(0)[:40]!r}) is not guidance")
    return None


def empty(text: str) -> Flag | None:
    n = len(words(text))
    return Flag(code="empty", reason=f"only {n} word{'s' if n != 1 else ''} of guidance") if n < MIN_WORDS else None


def platitude(text: str) -> Flag | None:
    if len(words(text)) > 14:
        return None  # long enough to say something specific
    found = next((p.search(text) for p in PLATITUDES if p.search(text)), None)
    if found is None:
        return None
    return Flag(code="platitude", reason=f"{found.group(0).strip()!r} says nothing a capable agent does not know")


def copied(text: str, trajectory_text: str) -> Flag | None:
    ws = words(text)
    if len(ws) < SHINGLE + 2 or not trajectory_text:
        return None
    haystack = " ".join(words(trajectory_text))
    shingles = [" ".join(ws[i:i + SHINGLE]) for i in range(len(ws) - SHINGLE + 1)]
    share = sum(1 for s in shingles if s in haystack) / len(shingles)
    if share >= COPIED_SHARE:
        return Flag(code="copied", reason=f"{share:.0%} of it is copied word for word from the trajectory")
    return None


def run_values(text: str, trajectory_text: str, runs_with: Callable[[str], int]) -> Flag | None:
    """Values of the lesson that occur in its own trajectory and in no other task's (`runs_with(value)`
    says in the runs of how many tasks of the workspace a value occurs)."""
    for kind, pattern in VALUE_PATTERNS.items():
        for m in pattern.finditer(text):
            value = m.group(0)
            if value in trajectory_text and runs_with(value) <= 1:
                return Flag(code="run_values",
                            reason=f"{kind} {value!r} belongs to this run's task only; write the general rule")
    return None


def ungrounded(grounded: bool | None, quotes: int) -> Flag | None:
    if grounded is False:
        if quotes == 0:
            return Flag(code="ungrounded", reason="it quotes nothing from the trajectory")
        what = "its quote was" if quotes == 1 else f"none of its {quotes} quotes was"
        return Flag(code="ungrounded", reason=f"{what} found in the trajectory")
    return None


def lesson_text(title: str, description: str, content: str) -> str:
    return "\n".join(part for part in (title, description, content) if part)


def text_flags(title: str, description: str, content: str) -> list[Flag]:
    """The flags that need nothing but the lesson's own words."""
    whole = lesson_text(title, description, content)
    found = [repeated_text(whole), template_text(whole), empty(content), platitude(content)]
    return [f for f in found if f is not None]


def unique(flags: Iterable[Flag | None]) -> list[Flag]:
    """One flag per code, in order."""
    seen: dict[str, Flag] = {}
    for flag in flags:
        if flag is not None and flag.code not in seen:
            seen[flag.code] = flag
    return list(seen.values())
