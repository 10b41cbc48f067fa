"""`LLMClient`: structured output from any OpenAI-compatible endpoint, logged, cached and retried.

One client is shared by a pool of worker threads: the SDK client (and its httpx connection pool)
is thread-safe, each thread writes through its own SQLite connection (`Workspace.db`), and
identical requests in flight at the same time are sent once (the others wait and hit the cache).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import openai
import orjson
from pydantic import BaseModel, ValidationError

from trace2skill.errors import LLMConfigError, LLMResponseError, LLMUnavailableError
from trace2skill.humanize import plural
from trace2skill.llm import calllog
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.estimate import estimate_messages_tokens, estimate_tokens
from trace2skill.llm.schema import describe_validation_error, extract_json_text, strict_schema
from trace2skill.llm.scope import CallScope, Settle, current_scope, settle_nothing
from trace2skill.llm.transport import backoff_delay, classify, httpx, make_openai
from trace2skill.store import calls as call_store
from trace2skill.store.workspace import Workspace
from trace2skill.textcut import cut_words

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
MAX_ECHOED_ANSWER_CHARS = 4000  # how much of a bad answer is sent back with the correction


@dataclass(frozen=True)
class StructuredResult(Generic[T]):
    value: T
    usage: dict[str, int]  # tokens of the requests sent for this call (of the original, if cached)
    cached: bool
    call_id: str
    latency_s: float
    attempts: int = 0  # requests sent by this call (0 when cached)


@dataclass
class _Answer:
    content: str
    finish_reason: str | None
    usage: dict[str, int]
    latency_s: float
    raw: dict[str, Any] = field(default_factory=dict)


class LLMClient:
    """Structured calls against the endpoint in `config` (the embedded local model when its
    base_url is None; it is started lazily on the first call)."""

    def __init__(self, ws: Workspace, config: LLMConfig, *, transport: Any = None,
                 sleep: Any = time.sleep):
        self.ws = ws
        self._config = config
        self._transport = transport
        self._sleep = sleep
        self._resolved: LLMConfig | None = None
        self._sdk: openai.OpenAI | None = None
        self._init_lock = threading.Lock()
        self._locks_guard = threading.Lock()
        self._locks: dict[str, list[Any]] = {}
        self._schemas: dict[type[BaseModel], dict[str, Any]] = {}

    # ------------------------------------------------------------------ setup
    @property
    def config(self) -> LLMConfig:
        """The resolved config (starts the local server when none is configured)."""
        return self._setup()[0]

    def _setup(self) -> tuple[LLMConfig, openai.OpenAI]:
        resolved, sdk = self._resolved, self._sdk
        if resolved is not None and sdk is not None:
            return resolved, sdk
        with self._init_lock:
            if self._sdk is None:
                config = self._config
                if config.base_url is None:
                    from trace2skill.llm.local import resolve
                    config = resolve(config)
                if not config.model:
                    raise LLMConfigError(
                        f"no model name for {config.base_url}: set TRACE2SKILL_MODEL or pass --model")
                self._resolved, self._sdk = config, make_openai(config, transport=self._transport)
            assert self._resolved is not None
            return self._resolved, self._sdk

    def _offline_config(self) -> LLMConfig | None:
        """The config as given when this thread's run writes its requests to a batch file: no
        endpoint is reached (nor the local model started); the requests name the model given."""
        scope = current_scope()
        if scope is not None and scope.batch is not None and scope.batch.options.mode == "file" and self._config.model:
            return self._config
        return None

    def close(self) -> None:
        with self._init_lock:
            if self._sdk is not None:
                self._sdk.close()
                self._sdk = None

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _schema(self, output: type[BaseModel]) -> dict[str, Any]:
        schema = self._schemas.get(output)
        if schema is None:
            schema = self._schemas[output] = strict_schema(output)
        return schema

    # ------------------------------------------------------------------ the main call
    def structured(self, messages: list[dict[str, Any]], output: type[T], *, schema_name: str,
                   run_id: str | None = None, max_tokens: int | None = None,
                   schema: dict[str, Any] | None = None) -> StructuredResult[T]:
        """Ask for a JSON answer matching `output`; validated, logged in llm_calls and cached.

        `schema`, when given, is sent instead of `output`'s own strict schema: a narrower one that
        guides the endpoint's decoding, while the answer is still validated against `output`.

        Raises LLMResponseError when every answer was invalid, LLMUnavailableError when the
        endpoint kept failing or refused the request.
        """
        config = self._offline_config() or self._setup()[0]
        limit = max_tokens or config.max_tokens
        response_format = {"type": "json_schema",
                           "json_schema": {"name": schema_name, "schema": schema or self._schema(output),
                                           "strict": True}}
        key = calllog.request_hash(config.model or "", messages, response_format, config.temperature, limit)
        with self._request_lock(key):
            hit = self._from_cache(key, output, run_id)
            if hit is not None:
                return hit
            return self._ask(config, messages, output, response_format, key, run_id, limit, schema_name)

    def _from_cache(self, key: str, output: type[T], run_id: str | None) -> StructuredResult[T] | None:
        for row in call_store.cached_rows(self.ws, key):
            try:
                value = output.model_validate_json(extract_json_text(row["response"].get("content") or ""))
            except ValidationError:
                continue  # the output model changed since; not usable
            usage = {k: int(row["usage"].get(k, 0)) for k in ("prompt_tokens", "completion_tokens")}
            scope = current_scope()
            call_store.log_cache_hit(self.ws, row["id"], scope.run_id if scope and scope.run_id else run_id,
                                     scope.item_id if scope else None)
            return StructuredResult(value, usage, True, row["id"], float(row["latency_s"]), 0)
        return None

    def _ask(self, config: LLMConfig, messages: list[dict[str, Any]], output: type[T],
             response_format: dict[str, Any], key: str, run_id: str | None, limit: int,
             schema_name: str) -> StructuredResult[T]:
        conversation = list(messages)
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        sent, error = 0, ""
        asked = 0
        for round_ in range(config.validation_retries + 1):
            asked = round_ + 1
            request = {"model": config.model, "messages": conversation, "response_format": response_format,
                       "temperature": config.temperature, "max_tokens": limit, "round": round_}
            answer, call_id, tries = self._send(config, request, key, run_id)
            sent += tries
            for k in usage:
                usage[k] += answer.usage.get(k, 0)
            try:
                value = output.model_validate_json(extract_json_text(answer.content))
            except ValidationError as exc:
                error = describe_validation_error(exc)
                if answer.finish_reason == "length":
                    error = f"the answer was cut off at {limit} tokens ({error})"
                self._log(call_id, run_id, key, config, request, answer, f"invalid response: {error}")
                if answer.finish_reason == "length" and config.local:
                    break  # the embedded toy model runs on to the limit again: a re-ask costs a whole call for nothing
                briefly = "; answer more briefly" if answer.finish_reason == "length" else ""
                conversation = conversation + [
                    {"role": "assistant", "content": answer.content[:MAX_ECHOED_ANSWER_CHARS]},
                    {"role": "user", "content": f"Your answer was not valid: {error}{briefly}. "
                                                "Answer again with JSON only, matching the schema."},
                ]
                continue
            self._log(call_id, run_id, key, config, request, answer, None)
            return StructuredResult(value, usage, False, call_id, answer.latency_s, sent)
        raise LLMResponseError(
            f"{schema_name}: no valid answer from {config.model} after {plural(asked, 'attempt')}; "
            f"last problem: {error}", last_error=error, attempts=sent)

    # ------------------------------------------------------------------ transport
    def _send(self, config: LLMConfig, request: dict[str, Any], key: str,
              run_id: str | None) -> tuple[_Answer, str, int]:
        """Send until an answer arrives; failed attempts are logged here, the answer by the caller."""
        body = {"model": request["model"], "messages": request["messages"],
                "response_format": request["response_format"], "temperature": request["temperature"],
                config.max_tokens_param: request["max_tokens"]}
        if config.frequency_penalty is not None:
            body["frequency_penalty"] = config.frequency_penalty
        scope = current_scope()
        if scope is not None and scope.batch is not None:
            batched = self._send_batched(config, request, key, run_id, body, scope)
            if batched is not None:
                return batched
        _, sdk = self._setup()
        for attempt in range(config.max_retries + 1):
            settle = self._admit(scope, config, request)
            call_id, started = calllog.new_call_id(), time.monotonic()
            try:
                # The SDK's generic post: same auth, errors and pool as chat.completions.create, without
                # its per-call walk over the JSON schema (~2 ms) and model construction.
                response = sdk.post("/chat/completions", body=body, cast_to=httpx.Response,
                                    options={"timeout": config.timeout_s})
                answer = self._answer(response, request, time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised when unknown
                settle(None)
                latency = time.monotonic() - started
                if not isinstance(exc, openai.OpenAIError):
                    raise
                failure = classify(exc)
                self._log(call_id, run_id, key, config, request, None, failure.message, latency)
                if not failure.retryable:
                    raise LLMUnavailableError(f"{config.describe()} refused the request: {failure.message}",
                                              status=failure.status, attempts=attempt + 1) from exc
                if attempt == config.max_retries:
                    raise LLMUnavailableError(
                        f"{config.describe()} kept failing after {attempt + 1} attempts: {failure.message}",
                        status=failure.status, attempts=attempt + 1) from exc
                delay = backoff_delay(attempt, config, failure.retry_after_s)
                log.info("LLM call failed (%s); retry %d in %.2fs", failure.message, attempt + 1, delay)
                self._wait(scope, failure.message, delay)
                continue
            settle(answer.usage)
            return answer, call_id, attempt + 1
        raise AssertionError("unreachable")

    def _send_batched(self, config: LLMConfig, request: dict[str, Any], key: str, run_id: str | None,
                      body: dict[str, Any], scope: CallScope) -> tuple[_Answer, str, int] | None:
        """Send in the run's next batch and wait for the answer (see `llm/batch.py`). None when the
        batch could not run the request and the run chose to send such requests live."""
        batch = scope.batch
        assert batch is not None
        sdk = self._setup()[1] if batch.options.mode == "api" else None
        settle = self._admit(scope, config, request)
        call_id = calllog.new_call_id()
        try:
            outcome = batch.request(body, sdk, scope)
        except BaseException:
            settle(None)
            raise
        if outcome.body is not None:
            try:
                answer = self._answer_data(outcome.body, request, outcome.latency_s)
            except (AttributeError, IndexError, TypeError) as exc:
                settle(None)
                raise LLMUnavailableError(f"{config.describe()}: a batch answer is not a chat completion") from exc
            settle(answer.usage)
            return answer, call_id, 1
        settle(None)
        self._log(call_id, run_id, key, config, request, None, f"in a batch: {outcome.error}", outcome.latency_s)
        if outcome.go_live:
            return None
        raise LLMUnavailableError(f"{config.describe()}: the batch could not run the request: {outcome.error}",
                                  status=outcome.status, attempts=1)

    @staticmethod
    def _admit(scope: CallScope | None, config: LLMConfig, request: dict[str, Any]) -> Settle:
        """Before each request: a cancelled run, or one this request would take past its budget,
        sends nothing (RunCancelled / BudgetExceeded). Returns where the request's usage goes."""
        if scope is None:
            return settle_nothing
        settle = scope.admit(config.model or "", lambda: estimate_messages_tokens(request["messages"]),
                             int(request["max_tokens"]))
        scope.requests += 1
        return settle

    def _wait(self, scope: CallScope | None, error: str, delay: float) -> None:
        """Back off before a retry: reported to the run's item, cut short when the run is cancelled."""
        if scope is None:
            self._sleep(delay)
            return
        if scope.on_retry is not None:
            scope.on_retry(scope.requests, error, delay)
        if self._sleep is time.sleep:
            scope.wait(delay)
        else:  # an injected sleep (tests): honour it, then the cancel flag
            self._sleep(delay)
            scope.check()

    @staticmethod
    def _answer(response: Any, request: dict[str, Any], latency: float) -> _Answer:
        """The assistant message of a chat.completion body; a body of another shape is an APIError
        (retried like a transport failure)."""
        try:
            return LLMClient._answer_data(orjson.loads(response.content), request, latency)
        except (orjson.JSONDecodeError, AttributeError, IndexError, TypeError) as exc:
            body = cut_words(response.text, 200, where=None)
            raise openai.APIError(f"the endpoint answered 200 with a body that is not a chat completion: {body!r}",
                                  response.request, body=None) from exc

    @staticmethod
    def _answer_data(data: Any, request: dict[str, Any], latency: float) -> _Answer:
        """The assistant message of a chat.completion body (live or from a batch)."""
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        content = message.get("content") or ""
        if not isinstance(content, str):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if message.get("refusal") and not content:
            content = f"(refused: {message['refusal']})"
        usage_in = data.get("usage") or {}
        if usage_in.get("prompt_tokens") is not None:
            usage = {"prompt_tokens": int(usage_in.get("prompt_tokens") or 0),
                     "completion_tokens": int(usage_in.get("completion_tokens") or 0)}
            details = usage_in.get("prompt_tokens_details")
            if isinstance(details, dict) and details.get("cached_tokens"):  # served from the prompt cache
                usage["cached_tokens"] = int(details["cached_tokens"])
        else:
            usage = {"prompt_tokens": estimate_messages_tokens(request["messages"]),
                     "completion_tokens": estimate_tokens(content), "estimated": 1}
        finish = choice.get("finish_reason")
        raw = {"content": content, "finish_reason": finish, "id": data.get("id"), "model": data.get("model")}
        return _Answer(content, finish, usage, latency, raw)

    def _log(self, call_id: str, run_id: str | None, key: str, config: LLMConfig, request: dict[str, Any],
             answer: _Answer | None, error: str | None, latency: float | None = None) -> None:
        scope = current_scope()
        call_store.log_call(
            self.ws, call_id=call_id, run_id=(scope.run_id if scope and scope.run_id else run_id),
            item_id=scope.item_id if scope else None, request_hash=key, model=config.model or "",
            request=request, response=answer.raw if answer else None, usage=answer.usage if answer else None,
            latency_s=answer.latency_s if answer else latency, error=error,
            scrub=(config.api_key_value() or "",),
        )

    # ------------------------------------------------------------------ in-flight de-duplication
    def _request_lock(self, key: str) -> Any:
        return _KeyedLock(self, key)


class _KeyedLock:
    """Holds the per-request-hash lock; the registry entry is dropped when nobody waits on it."""

    def __init__(self, client: LLMClient, key: str):
        self.client, self.key = client, key

    def __enter__(self) -> None:
        with self.client._locks_guard:
            entry = self.client._locks.setdefault(self.key, [threading.Lock(), 0])
            entry[1] += 1
        self.entry = entry
        entry[0].acquire()

    def __exit__(self, *exc: object) -> None:
        self.entry[0].release()
        with self.client._locks_guard:
            self.entry[1] -= 1
            if self.entry[1] == 0:
                self.client._locks.pop(self.key, None)
