"""What a reviewer's save did to each line, so that provenance survives hand edits.

A reviewed result is made in two steps from a proposal P (a child of its base B): the hunk decisions
give the merged text M (P's lines where hunks were accepted, B's where they were rejected), then the
reviewer's hand edits give the saved text V. Provenance follows V's unchanged lines to P by a line
diff; for the other lines of V this module says where they come from:

* ``restored``: a base line a rejected hunk put back (its origin is the base's line); ``kept``: a
  line of P the diff to P did not line up (rare; its origin is P's line);
* ``reword``: a line the reviewer typed over another one — matched to the line it replaced within
  the same change block, by position and similarity (`trace2skill.fuzzy.line_similarity`, and a
  word of three letters or more in common unless the lines are very close), the order of lines kept;
* nothing: a line written by hand.

Lines of P missing from V (blank ones aside) are recorded as deleted: by a rejected hunk or by hand.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from trace2skill.fuzzy import line_similarity

SAME_PLACE_MIN = 0.4  # similarity for the line in the same place of a one-for-one replacement
ANYWHERE_MIN = 0.6  # similarity for any other pair of lines in one change block
CLOSE = 0.8  # lines this similar are a rewording even without a whole word in common ("Refund" -> "Refunds")
MAX_PAIRS = 40_000  # larger change blocks are matched by position only
_WORD = re.compile(r"[^\W_]{3,}")


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def equal_map(old: list[str], new: list[str]) -> dict[int, int]:
    """new line -> old line (0-based) for the lines a line diff keeps unchanged."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    out: dict[int, int] = {}
    for tag, a0, _a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out.update({b0 + k: a0 + k for k in range(b1 - b0)})
    return out


def _pair_block(old: list[str], new: list[str]) -> dict[int, tuple[int, float]]:
    """Order-keeping pairs (new -> old, similarity) of one change block with the largest total
    similarity, each pair at least SAME_PLACE_MIN (same place of an even block) or ANYWHERE_MIN."""
    m, n = len(old), len(new)
    even = m == n
    old_words, new_words = [_words(t) for t in old], [_words(t) for t in new]

    def score(i: int, j: int) -> float:
        if not old[i].strip() or not new[j].strip():
            return 0.0
        sim = line_similarity(old[i], new[j])
        if sim < CLOSE and not old_words[i] & new_words[j]:  # no word in common: new words, not a rewording
            return 0.0
        return sim if sim >= (SAME_PLACE_MIN if even and i == j else ANYWHERE_MIN) else 0.0

    if m * n > MAX_PAIRS:
        return {j: (j, s) for j in range(min(m, n)) if (s := score(j, j)) > 0} if even else {}
    best = [[0.0] * (n + 1) for _ in range(m + 1)]
    sims = [[score(i, j) for j in range(n)] for i in range(m)]
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            pair = sims[i][j] + best[i + 1][j + 1] if sims[i][j] > 0 else 0.0
            best[i][j] = max(pair, best[i + 1][j], best[i][j + 1])
    out: dict[int, tuple[int, float]] = {}
    i = j = 0
    while i < m and j < n:
        if sims[i][j] > 0 and best[i][j] == sims[i][j] + best[i + 1][j + 1]:
            out[j] = (i, round(sims[i][j], 3))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return out


def reworded(old: list[str], new: list[str]) -> dict[int, tuple[int, float]]:
    """new line -> (old line it replaced, similarity) for the lines of `new` that reword a line of
    `old` (0-based; unchanged lines are not listed)."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    out: dict[int, tuple[int, float]] = {}
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "replace":
            pairs = _pair_block(old[a0:a1], new[b0:b1])
            out.update({b0 + j: (a0 + i, s) for j, (i, s) in pairs.items()})
    return out


@dataclass(frozen=True)
class Link:
    """Where a line of the saved text comes from when it is not an unchanged line of the parent."""

    kind: Literal["reword", "restored", "kept"]
    version: str  # the version holding the line it comes from (the parent or the base)
    line: int  # 0-based line in that version's file
    text: str  # that line's text (for a reword: the words replaced)
    similarity: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "line": self.line, "text": self.text,
                "similarity": self.similarity}


@dataclass(frozen=True)
class Deleted:
    line: int  # 0-based line of the parent's file
    text: str
    how: Literal["rejected", "deleted"]  # by rejecting its hunk, or by hand

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text, "how": self.how}


@dataclass
class FileLinks:
    links: dict[int, Link] = field(default_factory=dict)  # 0-based line of the saved text -> link
    deleted: list[Deleted] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.links or self.deleted)


def _lines(text: str | None) -> list[str]:
    return (text or "").splitlines()


def review_links(parent: tuple[str, str | None], base: tuple[str | None, str | None], merged: str | None,
                 saved: str) -> FileLinks:
    """Links of one file of a reviewed save. `parent` and `base` are (version id, file text or
    None); `merged` is the text the hunk decisions gave before any hand edit (None: the parent's);
    `saved` the text saved."""
    parent_id, parent_text = parent
    base_id, base_text = base
    p, b, v = _lines(parent_text), _lines(base_text), _lines(saved)
    m = p if merged is None else _lines(merged)
    to_parent = equal_map(p, v)
    from_merged, rewords = equal_map(m, v), reworded(m, v)
    merged_to_parent = equal_map(p, m)
    merged_to_base = equal_map(b, m) if base_id else {}

    def source(k: int) -> tuple[str, int, str] | None:
        if k in merged_to_parent:
            return parent_id, merged_to_parent[k], p[merged_to_parent[k]]
        if base_id and k in merged_to_base:
            return base_id, merged_to_base[k], b[merged_to_base[k]]
        return None

    out = FileLinks()
    for line in range(len(v)):
        if line in to_parent:
            continue
        if line in from_merged and (found := source(from_merged[line])):
            # a base line a rejected hunk put back, or a parent line the diff placed differently
            out.links[line] = Link("restored" if found[0] != parent_id else "kept", *found)
        elif line in rewords and (found := source(rewords[line][0])):
            out.links[line] = Link("reword", *found, similarity=rewords[line][1])
    used = set(to_parent.values()) | {k.line for k in out.links.values() if k.version == parent_id}
    in_merged = set(merged_to_parent.values())
    for line, text in enumerate(p):
        if line not in used and text.strip():
            out.deleted.append(Deleted(line, text, "deleted" if line in in_merged else "rejected"))
    return out
