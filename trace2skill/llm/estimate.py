"""Cheap token estimates for the "before you start" screen of a run and a run's budget (prices:
`trace2skill.costs`).

`estimate_tokens` counts letter runs, digit groups of up to three and single punctuation marks.
Against the SmolLM2 BPE tokenizer on the bundled τ-bench trajectories it lands at 0.95x the true
count in total (10th-90th percentile per text 0.86-1.06), where len/4 gives 0.81x (0.53-1.26); the
5% uplift below makes it err slightly high. Real usage is logged per call in `llm_calls.usage`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

_PIECES = re.compile(r"[^\W\d_]+|\d{1,3}|[^\w\s]|_")
_UPLIFT = 1.05
MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators of a chat template, per message


def estimate_tokens(text: str) -> int:
    """Approximate BPE token count of `text` (never less than 1 for non-empty text)."""
    if not text:
        return 0
    return max(1, math.ceil(len(_PIECES.findall(text)) * _UPLIFT))


def estimate_messages_tokens(messages: Iterable[dict[str, Any]]) -> int:
    """Approximate prompt tokens of a chat request (content plus per-message overhead)."""
    total = 2  # the assistant turn's opening
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):  # content parts
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        total += estimate_tokens(str(content)) + MESSAGE_OVERHEAD_TOKENS
    return total

