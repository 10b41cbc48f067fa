"""LLM settings: which endpoint and model, timeouts, retries, sampling. (Prices are the workspace's
price table: `trace2skill.costs`.)

`base_url=None` means "the embedded local model" (see `trace2skill.llm.local.resolve`). The API key
is read only from the environment (OPENAI_API_KEY); it is excluded from `model_dump()` and `repr()`
so a config can be stored with a run without leaking it.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_MODEL = "TRACE2SKILL_MODEL"
EMBEDDED_MODEL = "SmolLM2-135M"  # what the embedded server (llm/local.py) runs


class LLMConfig(BaseModel):
    """Everything the client needs to talk to one OpenAI-compatible endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None  # None: the embedded local llama.cpp server
    model: str | None = None  # None with the local server: its own model name
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)  # transport retries per request
    validation_retries: int = Field(default=2, ge=0, le=10)  # re-asks after an invalid answer
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_cap_s: float = Field(default=30.0, ge=0)
    retry_after_cap_s: float = Field(default=60.0, ge=0)  # longest Retry-After we honour
    temperature: float = Field(default=0.0, ge=0, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)  # set for the local toy model
    max_tokens: int = Field(default=1024, ge=1)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_connections: int = Field(default=256, ge=1)  # httpx pool; the fleet runs up to 128 threads
    local: bool = False  # set by resolve(): this config points at the embedded toy model

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, **overrides: Any) -> LLMConfig:
        """Settings from arguments first, then OPENAI_BASE_URL / TRACE2SKILL_MODEL / OPENAI_API_KEY."""
        if "api_key" in overrides:
            raise TypeError("api_key is read from the OPENAI_API_KEY environment variable only")
        key = os.environ.get(ENV_API_KEY) or None
        return cls(
            base_url=(base_url or os.environ.get(ENV_BASE_URL) or None),
            model=(model or os.environ.get(ENV_MODEL) or None),
            api_key=SecretStr(key) if key else None,
            **overrides,
        )

    @classmethod
    def for_endpoint(cls, base_url: str | None, model: str | None, **overrides: Any) -> LLMConfig:
        """Exactly this endpoint and model (None base URL: the embedded local model), whatever the
        environment says; only the key comes from OPENAI_API_KEY. For a run that continues on the
        endpoint it started with."""
        if "api_key" in overrides:
            raise TypeError("api_key is read from the OPENAI_API_KEY environment variable only")
        key = os.environ.get(ENV_API_KEY) or None
        return cls(base_url=base_url or None, model=model or None, api_key=SecretStr(key) if key else None,
                   **overrides)

    @property
    def is_local(self) -> bool:
        """True when no endpoint is configured or it was resolved to the embedded server."""
        return self.base_url is None or self.local

    def api_key_value(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def describe(self) -> str:
        """One line for logs and the UI (never the key): "gpt-4o-mini @ https://...", "SmolLM2-135M
        (the embedded local model)"."""
        if self.is_local:
            return f"{self.model or EMBEDDED_MODEL} (the embedded local model)"
        return f"{self.model or '(the endpoint’s default model)'} @ {self.base_url}"
