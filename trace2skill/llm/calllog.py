"""The LLM call log's keys: a request's hash (the cache key) and a call's id. The log itself (the
`llm_calls` table, which doubles as the response cache) is kept by `trace2skill.store.calls`.

All attempts of one logical call (transport retries, re-asks after an invalid answer) share the
request hash of the caller's original request, so a later identical request finds the attempt that
succeeded.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from trace2skill.models import canonical_json


def request_hash(model: str, messages: list[dict[str, Any]], response_format: dict[str, Any],
                 temperature: float, max_tokens: int) -> str:
    """sha256 of the canonical request; independent of base URL, key and timeouts."""
    payload = {
        "model": model,
        "messages": messages,
        "response_format": response_format,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def new_call_id() -> str:
    return uuid.uuid4().hex
