"""The interface the pipeline needs from an LLM client: `LLMClient`, or a scripted fake in tests."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel


class StructuredClient(Protocol):
    """Structured (JSON-schema) calls; the answer's `.value` is an instance of `output`."""

    def structured(self, messages: list[dict[str, str]], output: type[BaseModel], *, schema_name: str,
                   run_id: str | None = None, max_tokens: int | None = None,
                   schema: dict[str, Any] | None = None) -> Any: ...
