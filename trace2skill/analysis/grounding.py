"""Evidence grounding: is each quoted piece of evidence really in the trajectory?

A quote is looked for in the step it cites, then anywhere in the run: first exactly (case and
whitespace folded), then fuzzily (`trace2skill.fuzzy`: within ``FUZZY_MAX_ERROR`` edits per
character). Where it matched is recorded (offsets into `step_text` of the step), so the screens
highlight the very span that was checked; `find_quote`/`locate_in_step` are the same search for
evidence stored before offsets were.
"""

from __future__ import annotations

import json

from trace2skill.fuzzy import Match, find
from trace2skill.models import Evidence, StoredStep

FUZZY_MAX_ERROR = 0.2  # edits / quote length allowed for a fuzzy match
MIN_QUOTE_CHARS = 8  # shorter quotes ("ok", "yes") prove nothing


def step_text(step: StoredStep) -> str:
    """All the text of a step a quote may come from (message, thought, calls, results)."""
    parts = [step.text, step.reasoning]
    for call in step.tool_calls:
        args = call.arguments
        parts.append(f"{call.name}({args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)})")
    parts.extend(r.content for r in step.tool_results)
    return "\n".join(p for p in parts if p)


def find_quote(text: str, quote: str, max_error: float = FUZZY_MAX_ERROR) -> Match | None:
    """Where `quote` sits in `text` by the grounding rules (``max_error=0``: exact matches only)."""
    return find(text, quote, max_error=max_error, fold=True, min_chars=MIN_QUOTE_CHARS)


def locate_in_step(step: StoredStep, quote: str) -> Match | None:
    """Where `quote` sits in `step_text(step)`, exactly as `ground` would find it there."""
    return find_quote(step_text(step), quote)


def _ground_one(ev: Evidence, texts: dict[int, str]) -> Evidence:
    order = [ev.step_idx, *(i for i in texts if i != ev.step_idx)]
    for max_error in (0.0, FUZZY_MAX_ERROR):  # exact anywhere beats fuzzy in the cited step
        for idx in order:
            found = find_quote(texts[idx], ev.quote, max_error) if idx in texts else None
            if found is not None:
                return ev.model_copy(update={"step_idx": idx, "grounded": True, "match": found.kind,
                                             "start": found.start, "end": found.end})
    return ev.model_copy(update={"grounded": False, "match": "none", "start": None, "end": None})


def ground(evidence: list[Evidence], steps: list[StoredStep]) -> list[Evidence]:
    """Return the evidence with `grounded`/`match` and the matched span (`start`/`end` in
    `step_text` of its step) set; a quote found in another step than the one cited is re-pointed
    to that step."""
    texts = {s.idx: step_text(s) for s in steps}
    return [_ground_one(ev, texts) for ev in evidence]
