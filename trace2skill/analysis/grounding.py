"""Evidence grounding: is each quoted piece of evidence really in the trajectory?

A quote is looked for in the step it cites, then anywhere in the run: first exactly (whitespace
folded, case ignored), then fuzzily with diff-match-patch (`match_main` finds where the quote's
start and end best fit; the window there must be within a small edit distance of the quote).
"""

from __future__ import annotations

import json
import re
from typing import Any

from diff_match_patch import diff_match_patch

from trace2skill.models import Evidence

FUZZY_MAX_ERROR = 0.2  # edits / quote length allowed for a fuzzy match
MIN_QUOTE_CHARS = 8  # shorter quotes ("ok", "yes") prove nothing
_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def step_text(step: dict[str, Any]) -> str:
    """All the text of a step a quote may come from (message, thought, calls, results)."""
    parts = [step.get("text") or "", step.get("reasoning") or ""]
    for call in step.get("tool_calls") or []:
        args = call.get("arguments")
        parts.append(f"{call['name']}({args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)})")
    parts.extend(r.get("content") or "" for r in step.get("tool_results") or [])
    return "\n".join(p for p in parts if p)


def _fuzzy(dmp: diff_match_patch, haystack: str, quote: str) -> bool:
    if not haystack or not quote:
        return False
    bits = dmp.Match_MaxBits
    start = dmp.match_main(haystack, quote[:bits], 0)
    if start < 0 and len(quote) > bits:
        end = dmp.match_main(haystack, quote[-bits:], max(0, len(haystack) - bits))
        start = end - (len(quote) - bits) if end >= 0 else -1
    if start < 0:
        return False
    start = max(0, start)
    window = haystack[start : start + len(quote)]
    distance = dmp.diff_levenshtein(dmp.diff_main(window, quote, False))
    return distance <= FUZZY_MAX_ERROR * len(quote)


def _matcher() -> diff_match_patch:
    dmp = diff_match_patch()
    dmp.Match_Threshold = 0.3
    dmp.Match_Distance = 100000  # the quote may be anywhere in a long step
    dmp.Diff_Timeout = 0.2
    return dmp


def ground(evidence: list[Evidence], steps: list[dict[str, Any]]) -> list[Evidence]:
    """Return the evidence with `grounded`/`match` set; a quote found in another step than the one
    cited is re-pointed to that step."""
    texts = {s["idx"]: _norm(step_text(s)) for s in steps}
    dmp = _matcher()
    checked: list[Evidence] = []
    for ev in evidence:
        quote = _norm(ev.quote)
        if len(quote) < MIN_QUOTE_CHARS:
            checked.append(ev.model_copy(update={"grounded": False, "match": "none"}))
            continue
        order = [ev.step_idx] + [i for i in texts if i != ev.step_idx]
        found = next(((i, "exact") for i in order if quote in texts.get(i, "")), None)
        if found is None:
            found = next(((i, "fuzzy") for i in order if _fuzzy(dmp, texts.get(i, ""), quote)), None)
        if found is None:
            checked.append(ev.model_copy(update={"grounded": False, "match": "none"}))
        else:
            checked.append(ev.model_copy(update={"step_idx": found[0], "grounded": True, "match": found[1]}))
    return checked
