"""The one fuzzy matcher: where does a needle (an edit's anchor, a lesson's quote) sit in a text?

1. Exact: the needle occurs in the text as is, or, with ``fold=True``, after both are lower-cased
   with whitespace runs folded to one space (offsets are still reported in the original text).
2. Fuzzy: rapidfuzz's ``partial_ratio_alignment`` finds the window of the text that best fits the
   needle (no length limit, unlike diff-match-patch's 32-character Bitap). Around that window an
   exact semi-global Levenshtein alignment (``best_span``: skipping text before and after the span
   is free) picks the span closest to the whole needle, accepted when its edit distance is at most
   ``max_error`` times the needle's length.

`find` answers "where is it, if anywhere" (evidence grounding, the screens' highlights);
`find_unique` also refuses a needle that occurs several times or fits two places equally well
(edit anchors, where a guess could put a lesson in the wrong place). `line_similarity` compares
two whole lines (a reviewer's rewording against the line it replaced).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

_SPACE = re.compile(r"\s+")
_MASK = "\x00"  # hides a found span when looking for a second one


@dataclass(frozen=True)
class Match:
    start: int  # offsets in the original text
    end: int
    kind: Literal["exact", "fuzzy"]
    distance: int = 0  # edits between the needle and text[start:end] (both folded when folding)


@dataclass(frozen=True)
class Refusal:
    """Why `find_unique` found no single place."""

    reason: Literal["empty", "repeated", "ambiguous", "not_found"]
    count: int = 0  # exact occurrences, for "repeated"


def fold_text(text: str) -> str:
    """Lower-cased, whitespace runs folded to one space; one character per character of
    ``_SPACE.sub(" ", text)`` (characters whose lower case is longer are kept as they are)."""
    spaced = _SPACE.sub(" ", text)
    lowered = spaced.lower()
    if len(lowered) == len(spaced):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in spaced)


@dataclass(frozen=True)
class _Haystack:
    original: str
    text: str  # what is compared: the original, or its folded form
    folded: bool

    def _to_original(self, pos: int) -> int:
        """The original index of the compared character at `pos`."""
        if not self.folded:
            return pos
        shift = 0
        for run in _SPACE.finditer(self.original):
            at = run.start() - shift  # where the run's single space sits in the folded text
            if pos <= at:
                return run.start() if pos == at else pos + shift
            shift += len(run.group()) - 1
        return pos + shift

    def match(self, start: int, end: int, kind: Literal["exact", "fuzzy"], distance: int = 0) -> Match:
        if end <= start:
            at = self._to_original(start) if start < len(self.text) else len(self.original)
            return Match(at, at, kind, distance)
        return Match(self._to_original(start), self._to_original(end - 1) + 1, kind, distance)


def _prepare(text: str, needle: str, fold: bool) -> tuple[_Haystack, str]:
    if fold:
        return _Haystack(text, fold_text(text), True), fold_text(needle).strip()
    return _Haystack(text, text, False), needle


def best_span(needle: str, text: str, max_distance: int | None = None) -> tuple[int, int, int] | None:
    """(distance, start, end) of the substring of `text` with the least Levenshtein distance to
    `needle` (semi-global: skipping text before and after the span is free); on ties the earliest
    end, then the shortest span. None when no span is within `max_distance` (default: any)."""
    n = len(needle)
    limit = n if max_distance is None else min(max_distance, n)
    best: tuple[int, int, int] | None = None
    for end in range(len(text) + 1):  # spans more than `limit` longer or shorter cannot do
        for start in range(end - max(0, n - limit), max(-1, end - n - limit - 1), -1):
            distance = Levenshtein.distance(needle, text[start:end], score_cutoff=limit)
            if distance <= limit:
                best, limit = (distance, start, end), distance - 1
                if limit < 0:
                    return best
    return best


def _fuzzy(text: str, needle: str, max_error: float) -> tuple[int, int, int] | None:
    """(distance, start, end) of the best fuzzy place of `needle` in `text`, or None."""
    allowed = int(max_error * len(needle))
    if allowed < 1 or not text:
        return None
    lo, hi = 0, len(text)
    if len(needle) <= len(text):
        # A span within `allowed` edits makes some needle-long window's Indel distance at most
        # 3 * allowed, so windows scoring lower cannot hold a match.
        cutoff = max(0.0, 100 * (1 - 1.5 * allowed / len(needle)) - 1e-6)
        window = fuzz.partial_ratio_alignment(needle, text, score_cutoff=cutoff)
        if window is None:
            return None
        # The window's own distance bounds the best span's: a tighter search around it.
        allowed = min(allowed, Levenshtein.distance(needle, text[window.dest_start:window.dest_end]))
        lo, hi = max(0, window.dest_start - allowed), min(len(text), window.dest_end + allowed)
    found = best_span(needle, text[lo:hi], allowed)
    return None if found is None else (found[0], lo + found[1], lo + found[2])


def find(text: str, needle: str, *, max_error: float, fold: bool, min_chars: int = 0) -> Match | None:
    """Where `needle` sits in `text`: exactly (first occurrence), else within ``max_error`` edits
    per needle character (``max_error=0`` looks for exact matches only). Needles shorter than
    `min_chars` (after folding) are never found."""
    hay, pin = _prepare(text, needle, fold)
    if not pin or len(pin) < min_chars:
        return None
    at = hay.text.find(pin)
    if at >= 0:
        return hay.match(at, at + len(pin), "exact")
    found = _fuzzy(hay.text, pin, max_error)
    return None if found is None else hay.match(found[1], found[2], "fuzzy", found[0])


def find_unique(text: str, needle: str, *, max_error: float, fold: bool = False,
                fuzzy_min_chars: int = 0) -> Match | Refusal:
    """Like `find`, but refuses a needle that occurs several times exactly, or (when it is not
    there exactly) fits a second place as well as the best one. Needles shorter than
    `fuzzy_min_chars` are only looked for exactly."""
    hay, pin = _prepare(text, needle, fold)
    if not pin.strip():
        return Refusal("empty")
    count = hay.text.count(pin)
    if count > 1:
        return Refusal("repeated", count)
    if count == 1:
        at = hay.text.index(pin)
        return hay.match(at, at + len(pin), "exact")
    found = _fuzzy(hay.text, pin, max_error) if len(pin) >= fuzzy_min_chars else None
    if found is None:
        return Refusal("not_found")
    distance, start, end = found
    other = _fuzzy(hay.text[:start] + _MASK * (end - start) + hay.text[end:], pin, max_error)
    if other is not None and other[0] <= distance:
        return Refusal("ambiguous")
    return hay.match(start, end, "fuzzy", distance)


def line_similarity(a: str, b: str) -> float:
    """How alike two lines read, 0 to 1: the better of rapidfuzz's plain ratio and its token-sort
    ratio on the folded texts (a rewording that keeps the words but reorders them still scores
    high). Blank lines are like nothing."""
    x, y = fold_text(a).strip(), fold_text(b).strip()
    if not x or not y:
        return 0.0
    return max(fuzz.ratio(x, y), fuzz.token_sort_ratio(x, y)) / 100
