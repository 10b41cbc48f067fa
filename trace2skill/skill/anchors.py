"""Locate an edit's anchor text in a file: exactly, else fuzzily, else not at all.

1. Exact: the anchor (as given, then stripped of surrounding whitespace) occurs once in the
   searched region. Several occurrences are refused as ambiguous (the edit should name a section
   or quote more text) — a guess could put a lesson in the wrong place.
2. Fuzzy (anchors of at least ``FUZZY_MIN_CHARS``): the span of the region closest to the anchor
   by Levenshtein distance, accepted when within ``FUZZY_MAX_ERROR`` (25%) of the anchor's length
   and refused when a second place fits as well (`trace2skill.fuzzy.find_unique`).
3. Otherwise the anchor is reported as unmatched.
"""

from __future__ import annotations

from trace2skill.fuzzy import Match, Refusal, best_span, find_unique

__all__ = ["FUZZY_MAX_ERROR", "FUZZY_MIN_CHARS", "AnchorMatch", "best_span", "locate"]

FUZZY_MIN_CHARS = 8
FUZZY_MAX_ERROR = 0.25

AnchorMatch = Match  # start/end are offsets in the full text

_EMPTY = "the anchor is empty; quote existing text to place the edit"
_AMBIGUOUS = ("the anchor is close to several places in the target; quote more text or name a section so it "
              "matches one")
_NOT_FOUND = "the anchor text was not found (not exactly, nor within 25% edit distance)"


def _repeated(count: int) -> str:
    return f"the anchor occurs {count} times in the target; quote more text or name a section so it matches once"


def _reason(refusal: Refusal) -> str:
    if refusal.reason == "empty":
        return _EMPTY
    if refusal.reason == "repeated":
        return _repeated(refusal.count)
    return _AMBIGUOUS if refusal.reason == "ambiguous" else _NOT_FOUND


def locate(text: str, anchor: str, lo: int = 0, hi: int | None = None) -> AnchorMatch | str:
    """Find `anchor` in ``text[lo:hi]``; the match, or the reason it was not found."""
    region = text[lo:len(text) if hi is None else hi]
    core = anchor.strip()
    if not core:
        return _EMPTY
    count = region.count(anchor) if anchor != core else 0
    if count > 1:
        return _repeated(count)
    if count == 1:
        at = region.index(anchor)
        return AnchorMatch(lo + at, lo + at + len(anchor), "exact")
    found = find_unique(region, core, max_error=FUZZY_MAX_ERROR, fuzzy_min_chars=FUZZY_MIN_CHARS)
    if isinstance(found, Refusal):
        return _reason(found)
    return AnchorMatch(lo + found.start, lo + found.end, found.kind, found.distance)
