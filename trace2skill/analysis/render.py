"""Compact, bounded rendering of a stored trajectory for an analyst's prompt.

Long observations are cut to head and tail with a marker saying how much was left out, and the
whole rendering is held under a character budget (middle steps are elided last), so the prompt for
any trajectory has a bounded size. Step numbers are kept so evidence can cite them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trace2skill.models import StoredStep

OBSERVATION_CHARS = 1200  # per tool result
TEXT_CHARS = 2000  # per message text
ARGS_CHARS = 600
SYSTEM_CHARS = 600  # system prompts are long and repeated; the skill is shown separately
BUDGET_CHARS = 16000  # the whole trajectory (≈ 4k tokens)


@dataclass
class Rendered:
    text: str
    raw_chars: int  # characters of the trajectory as stored
    chars: int  # characters after compaction

    @property
    def ratio(self) -> float:
        return self.raw_chars / self.chars if self.chars else 1.0


def head_tail(text: str, limit: int) -> str:
    """Keep the first and last parts of `text` with a marker for what was cut."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n… [{omitted} characters omitted] …\n{text[-tail:]}"


def _args(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def render_step(step: StoredStep, limit: int = OBSERVATION_CHARS) -> str:
    """One step; no single text is longer than about `limit` characters."""
    role = step.role
    lines = [f"[step {step.idx}] {role}" + (" (error)" if step.is_error else "")]
    if step.reasoning:
        lines.append("thought: " + head_tail(step.reasoning, min(TEXT_CHARS // 2, limit)))
    if step.text:
        lines.append(head_tail(step.text, min(SYSTEM_CHARS if role == "system" else TEXT_CHARS, limit)))
    for call in step.tool_calls:
        lines.append(f"call {call.name}({head_tail(_args(call.arguments), min(ARGS_CHARS, limit))})")
    for result in step.tool_results:
        flag = " ERROR" if result.is_error else ""
        lines.append(f"result{flag}: " + head_tail(result.content, min(OBSERVATION_CHARS, limit)))
    return "\n".join(lines)


def raw_size(steps: list[StoredStep]) -> int:
    total = 0
    for s in steps:
        total += len(s.text) + len(s.reasoning)
        total += sum(len(_args(c.arguments)) + len(c.name) for c in s.tool_calls)
        total += sum(len(r.content) for r in s.tool_results)
    return total


def render_trajectory(steps: list[StoredStep], budget: int = BUDGET_CHARS) -> Rendered:
    """Render steps within `budget` characters; if they do not fit, keep the first and last steps
    and replace a middle run with a marker (failures usually show early and late)."""
    blocks = [render_step(s, limit=max(200, budget // 8)) for s in steps]
    raw = raw_size(steps)
    if sum(len(b) + 2 for b in blocks) <= budget:
        text = "\n\n".join(blocks)
        return Rendered(text, raw, len(text))
    kept_head: list[str] = []
    kept_tail: list[str] = []
    used = 200  # room for the marker
    i, j = 0, len(blocks) - 1
    while i <= j:
        take_head = len(kept_head) <= len(kept_tail)
        block = blocks[i] if take_head else blocks[j]
        if used + len(block) + 2 > budget:
            break
        used += len(block) + 2
        if take_head:
            kept_head.append(block)
            i += 1
        else:
            kept_tail.insert(0, block)
            j -= 1
    omitted = j - i + 1
    if omitted > 0:
        first, last = steps[i].idx, steps[j].idx
        marker = f"… [steps {first}–{last} omitted: {omitted} steps] …"
        parts = [*kept_head, marker, *kept_tail]
    else:
        parts = [*kept_head, *kept_tail]
    text = "\n\n".join(parts)
    if len(text) > budget:  # a single enormous step: cut it down too
        text = head_tail(text, budget)
    return Rendered(text, raw, len(text))
