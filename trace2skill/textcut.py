"""Shortening text for people: never in the middle of a word, and always saying how much was left
out and where the whole text is. Every message, stored error and table cell that has to be bounded
goes through here, so no screen or command shows "…Invalid control character at" or "no valid an"."""

from __future__ import annotations

import re

LOGS_HINT = "see `trace2skill logs`"


def cut_words(text: str, limit: int, *, where: str | None = LOGS_HINT, fold: bool = False) -> str:
    """`text` whole when it fits in `limit` characters; else its beginning up to a word boundary,
    then "… (N more characters, <where>)" (or just "…" with `where=None`). With `fold`, runs of
    whitespace and line breaks become single spaces first (for one-line cells)."""
    text = " ".join(text.split()) if fold else text
    if len(text) <= limit:
        return text
    head = text[:limit]
    boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    if boundary >= limit // 2:  # a long run without spaces (a URL, base64) is cut where it must be
        head = head[:boundary]
    head = head.rstrip(" \t\n,;:")
    if where is None:
        return head + "…"
    return f"{head}… ({len(text) - len(head)} more characters, {where})"


_PERSONA = re.compile(r"^(?:you are|i am|i'm)\s+[\w.@-]+\s*[.,;:]\s*", re.IGNORECASE)
_WANT = re.compile(r"\b(?:(?:you|i)\s+)?(?:want|need|would like|wish)\s+to\s+", re.IGNORECASE)


def task_words(task: str, words: int = 8) -> str:
    """A task in a few words, to name a trajectory where its id would mean nothing to a person:
    a leading "You are <user>." is skipped and, when the task soon says what is wanted ("you want
    to …"), it starts there; then its first sentence, cut to `words` words ("…" when cut)."""
    text = _PERSONA.sub("", " ".join(task.split()))
    want = _WANT.search(text[:300])
    if want:
        text = text[want.end():]
    parts = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].split(" ")
    short = " ".join(parts[:words]).rstrip(" ,;:.")
    if not short:
        return "(no task text)"
    short = short[0].upper() + short[1:]
    return short + ("…" if len(parts) > words else "")
