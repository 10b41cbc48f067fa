"""Scoring a model's answer against the gold answer(s): exact, normalised, or numeric with a tolerance.

- exact: the texts are equal after trimming white space;
- normalised: equal after Unicode folding (accents dropped), lower-casing, dropping punctuation
  and a leading article, and collapsing white space ("The  Málaga CF." == "malaga cf");
- numeric: both read as numbers ("12,467", "$1.5", "40%", "3 km", "18 US dollars" read as 12467,
  1.5, 40, 3, 18; "1,8" is no number) and
  |answer - gold| <= tolerance * max(1, |gold|) (tolerance 0: equal up to float rounding).

A gold answer with several values (WikiTableQuestions' "Morocco|France|Spain") is a set: the answer
is split on "|", else ";", else "," and " and " (the first that gives as many parts as there are
gold values) and must hold the same values, in any order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from trace2skill.models import normalise_text as normalise

Method = Literal["exact", "normalised", "numeric", "none"]
FLOAT_EPS = 1e-9
_NUMBER = re.compile(r"^[$€£¥~≈]?\s*([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)\s*"
                     r"(%|[^\d\s]{1,12}(?:\s+[^\d\s]{1,12}){0,2})?$")  # a unit of up to three words
_SPLITS = (re.compile(r"\s*\|\s*"), re.compile(r"\s*;\s*"), re.compile(r"\s*(?:,|\band\b)\s*"))


@dataclass(frozen=True)
class Score:
    passed: bool
    method: Method  # how it matched (or "none")


def parse_number(text: str) -> float | None:
    """The number a short answer states ("12,467", "-3.5", "$20", "40%", "5 km"), else None."""
    match = _NUMBER.match(text.strip())
    if not match or not match.group(1) or not re.search(r"\d", match.group(1)):
        return None
    try:
        value = float(match.group(1).replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _one(answer: str, gold: str, tolerance: float) -> Method:
    if answer.strip() == gold.strip():
        return "exact"
    a, g = parse_number(answer), parse_number(gold)
    if a is not None and g is not None:
        return "numeric" if abs(a - g) <= max(tolerance * max(1.0, abs(g)), FLOAT_EPS) else "none"
    if normalise(answer) and normalise(answer) == normalise(gold):
        return "normalised"
    return "none"


WEAKEST_FIRST: tuple[Method, ...] = ("none", "numeric", "normalised")


def _weakest(methods: Sequence[Method]) -> Method:
    return next((m for m in WEAKEST_FIRST if m in methods), "exact")


def score_answer(answer: str, gold: Sequence[str], *, tolerance: float = 0.0) -> Score:
    """Does `answer` state the gold value(s)? See the module docstring for the rules."""
    values = [g for g in gold if g.strip()]
    if not values:
        return Score(False, "none")
    if len(values) == 1:
        method = _one(answer, values[0], tolerance)
        return Score(method != "none", method)
    splits = ([p for p in pattern.split(answer.strip()) if p] for pattern in _SPLITS)
    parts = next((p for p in splits if len(p) == len(values)), None)
    if parts is None:
        return Score(False, "none")
    remaining, methods = list(values), []
    for part in parts:
        found = next(((k, m) for k, g in enumerate(remaining) if (m := _one(part, g, tolerance)) != "none"), None)
        if found is None:
            return Score(False, "none")
        methods.append(found[1])
        remaining.pop(found[0])
    method = _weakest(methods)
    return Score(True, method)
