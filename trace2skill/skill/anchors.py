"""Locate an edit's anchor text in a file: exactly, else fuzzily, else not at all.

1. Exact: the anchor (as given, then stripped of surrounding whitespace) occurs once in the
   searched region. Several occurrences are refused as ambiguous (the edit should name a section
   or quote more text) — a guess could put a lesson in the wrong place.
2. Fuzzy (anchors of at least ``FUZZY_MIN_CHARS``; refused when a second place fits as well):
   diff-match-patch ``match_main`` (Bitap) finds a
   candidate. Bitap patterns are limited to ``Match_MaxBits`` = 32 characters, so a longer anchor
   is located by its first and last 32 characters (the tail searched near where the head says it
   should be). The candidate window is then verified by edit distance: a semi-global alignment
   finds the span of the text closest to the whole anchor, accepted when its Levenshtein distance
   is at most ``FUZZY_MAX_ERROR`` (25%) of the anchor's length.
3. Otherwise the anchor is reported as unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from diff_match_patch import diff_match_patch

MATCH_MAX_BITS = 32
FUZZY_MIN_CHARS = 8
FUZZY_MAX_ERROR = 0.25
BITAP_THRESHOLD = 0.4


@dataclass(frozen=True)
class AnchorMatch:
    start: int  # character offsets in the full text
    end: int
    kind: Literal["exact", "fuzzy"]
    distance: int = 0


def _dmp() -> diff_match_patch:
    dmp = diff_match_patch()
    dmp.Match_Threshold = BITAP_THRESHOLD
    dmp.Match_Distance = 1_000_000_000  # position in the text does not matter, only similarity
    dmp.Match_MaxBits = MATCH_MAX_BITS
    return dmp


def best_span(pattern: str, text: str) -> tuple[int, int, int]:
    """(distance, start, end) of the substring of `text` with the least edit distance to `pattern`
    (Sellers' semi-global alignment: skipping text before and after the span is free)."""
    m = len(pattern)
    prev = [0] * (len(text) + 1)
    for i in range(1, m + 1):
        cur = [i] + [0] * len(text)
        pc = pattern[i - 1]
        for j in range(1, len(text) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (pc != text[j - 1]))
        prev = cur
    end = min(range(len(text) + 1), key=lambda j: (prev[j], j))
    distance = prev[end]
    # The start: align the reversed pattern against the reversed text up to `end`.
    rp, rt = pattern[::-1], text[:end][::-1]
    prev = [0] * (len(rt) + 1)
    for i in range(1, m + 1):
        cur = [i] + [0] * len(rt)
        pc = rp[i - 1]
        for j in range(1, len(rt) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (pc != rt[j - 1]))
        prev = cur
    back = min(range(len(rt) + 1), key=lambda j: (prev[j], j))
    return distance, end - back, end


def _fuzzy(region: str, anchor: str) -> tuple[int, int, int] | None:
    dmp = _dmp()
    slack = int(len(anchor) * FUZZY_MAX_ERROR) + 1
    if len(anchor) <= MATCH_MAX_BITS:
        loc = dmp.match_main(region, anchor, 0)
        if loc < 0:
            return None
        lo, hi = loc - slack, loc + len(anchor) + slack
    else:
        head, tail = anchor[:MATCH_MAX_BITS], anchor[-MATCH_MAX_BITS:]
        h = dmp.match_main(region, head, 0)
        t = dmp.match_main(region, tail, max(h, 0) + len(anchor) - MATCH_MAX_BITS)
        if h < 0 and t < 0:
            return None
        start = h if h >= 0 else t + MATCH_MAX_BITS - len(anchor)
        end = t + MATCH_MAX_BITS if t >= 0 and t >= start else start + len(anchor)
        lo, hi = start - slack, end + slack
    lo, hi = max(lo, 0), min(hi, len(region))
    distance, s, e = best_span(anchor, region[lo:hi])
    if distance > FUZZY_MAX_ERROR * len(anchor):
        return None
    return distance, lo + s, lo + e


def locate(text: str, anchor: str, lo: int = 0, hi: int | None = None) -> AnchorMatch | str:
    """Find `anchor` in ``text[lo:hi]``; the match, or the reason it was not found."""
    hi = len(text) if hi is None else hi
    region = text[lo:hi]
    candidates = [anchor] if anchor == anchor.strip() else [anchor, anchor.strip()]
    if not anchor.strip():
        return "the anchor is empty; quote existing text to place the edit"
    for cand in candidates:
        count = region.count(cand)
        if count == 1:
            at = region.index(cand)
            return AnchorMatch(lo + at, lo + at + len(cand), "exact")
        if count > 1:
            return (f"the anchor occurs {count} times in the target; quote more text or name a section "
                    "so it matches once")
    core = anchor.strip()
    if len(core) >= FUZZY_MIN_CHARS:
        found = _fuzzy(region, core)
        if found is not None:
            distance, s, e = found
            masked = region[:s] + "\x00" * (e - s) + region[e:]
            other = _fuzzy(masked, core)
            if other is not None and other[0] <= distance:
                return ("the anchor is close to several places in the target; quote more text or name a "
                        "section so it matches one")
            return AnchorMatch(lo + s, lo + e, "fuzzy", distance)
    return "the anchor text was not found (not exactly, nor within 25% edit distance)"
