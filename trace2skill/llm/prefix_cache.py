"""Prefix caching as an endpoint does it, for the loopback server: how many prompt tokens of a
request an endpoint with automatic prefix caching would report as cached
(`usage.prompt_tokens_details.cached_tokens`).
"""

from __future__ import annotations

import bisect
import json
import threading
from typing import Any

CHARS_PER_TOKEN = 4  # the loopback server's token estimate, as for prompt_tokens


def common_start(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class PromptCache:
    """What an endpoint with automatic prefix caching would report as cached.

    A request is read as one text: the model, then each message's role (and its other fields) and
    its content. The cached part of a new request is the longest start it shares with any earlier
    request, to the character and across message boundaries; its tokens are the content characters
    in it divided by 4 (the server's estimate of prompt tokens), rounded down to a multiple of
    `block_tokens`, and nothing is cached below `min_tokens`. OpenAI caches in steps of 128 tokens
    from 1,024 tokens on (`block_tokens=128, min_tokens=1024`); the defaults (1 and 0) count every
    shared token. The cache never forgets (a real one evicts after minutes of disuse).
    """

    def __init__(self, *, block_tokens: int = 1, min_tokens: int = 0):
        if block_tokens < 1 or min_tokens < 0:
            raise ValueError("block_tokens must be at least 1 and min_tokens at least 0")
        self.block_tokens, self.min_tokens = block_tokens, min_tokens
        self._texts: list[str] = []  # every request seen, as text, sorted
        self._lock = threading.Lock()

    @staticmethod
    def _read(messages: list[dict[str, Any]], model: str) -> tuple[str, list[tuple[int, int]]]:
        """The request as one text, and where each message's content lies in it (start, length)."""
        parts, spans, at = [model, "\x00"], [], len(model) + 1
        for message in messages:
            head = "\x1e" + json.dumps({k: v for k, v in message.items() if k != "content"}, sort_keys=True) + "\x1f"
            content = str(message.get("content") or "")
            spans.append((at + len(head), len(content)))
            parts += [head, content]
            at += len(head) + len(content)
        return "".join(parts), spans

    def lookup_and_add(self, messages: list[dict[str, Any]], model: str = "") -> int:
        """The cached tokens of this request; then it is remembered for later requests."""
        text, spans = self._read(messages, model)
        with self._lock:
            # The longest start shared with any earlier text is shared with a neighbour in sorted order.
            at = bisect.bisect_left(self._texts, text)
            shared = max((common_start(text, self._texts[k]) for k in (at - 1, at) if 0 <= k < len(self._texts)),
                         default=0)
            self._texts.insert(at, text)
        content = sum(max(0, min(length, shared - start)) for start, length in spans)
        tokens = content // CHARS_PER_TOKEN // self.block_tokens * self.block_tokens
        return tokens if tokens >= self.min_tokens else 0
