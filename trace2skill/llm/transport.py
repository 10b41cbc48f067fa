"""The `openai` SDK client we build, and what to do when a request fails.

openai 3.x runs on `httpx2` (a fork of httpx with the same API); older SDKs use `httpx`. The SDK's
own retries are switched off (`max_retries=0`): we retry ourselves so that every attempt is logged.
The connection pool is sized for the extraction fleet (up to 128 threads at once).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

import openai

from trace2skill.llm.config import LLMConfig

try:  # openai >= 3
    import httpx2 as httpx
except ImportError:  # pragma: no cover - openai 1.x/2.x
    import httpx  # type: ignore[no-redef,import-not-found,unused-ignore]

NO_KEY_PLACEHOLDER = "sk-no-key-required"  # local servers ignore the key; the SDK insists on one


def make_openai(config: LLMConfig, *, transport: Any = None) -> openai.OpenAI:
    """An SDK client for a resolved config (base_url and model set). `transport`: an httpx(2)
    transport to use instead of the network (tests)."""
    keepalive = min(config.max_connections, 128)
    http_client = openai.DefaultHttpxClient(
        limits=httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=keepalive),
        timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
        transport=transport,
    )
    return openai.OpenAI(
        base_url=config.base_url,
        api_key=config.api_key_value() or NO_KEY_PLACEHOLDER,
        timeout=config.timeout_s,
        max_retries=0,
        http_client=http_client,
    )


@dataclass(frozen=True)
class Failure:
    """A failed request, classified."""

    retryable: bool
    status: int | None
    retry_after_s: float | None
    message: str


def classify(exc: Exception) -> Failure:
    """Retry 429, 5xx, 408, timeouts and connection errors; never other 4xx."""
    name = type(exc).__name__
    if isinstance(exc, openai.APITimeoutError):
        return Failure(True, None, None, f"{name}: request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return Failure(True, None, None, f"{name}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status == 429 or status == 408 or status >= 500
        after = retry_after(exc.response.headers) if retryable else None
        return Failure(retryable, status, after, f"{name}: HTTP {status}: {_short(exc.message)}")
    if isinstance(exc, openai.APIError):  # e.g. a 200 whose body is not a chat completion
        return Failure(True, None, None, f"{name}: {_short(str(exc))}")
    return Failure(False, None, None, f"{name}: {_short(str(exc))}")


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, retry-after seconds or HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, config: LLMConfig, server_hint: float | None,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter (half to full delay), or the server's bounded Retry-After."""
    if server_hint is not None:
        return min(server_hint, config.retry_after_cap_s)
    ceiling = min(config.backoff_cap_s, config.backoff_base_s * (2 ** attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


def _short(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
