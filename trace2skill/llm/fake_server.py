"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks (standard library only).

Serves POST /v1/chat/completions, GET /v1/models, GET /health, and the batch API (/v1/files,
/v1/batches: `fake_batches.py`). With `prompt_cache=True` it acts
like an endpoint with prefix caching (see `PromptCache`): the start of a request that an earlier
request began with, to the character and across message boundaries, is reported as
`usage.prompt_tokens_details.cached_tokens`. What the assistant says comes
from a `responder(request_json)` callback: a str is the message content, a dict is JSON-encoded as
the content, a `ToolCalls` is an assistant turn calling tools, a `Fault` is answered as that HTTP error.
Fixed latency is slept per request (requests run concurrently, one thread each). Faults are drawn
from a seeded RNG in arrival order: HTTP 429 (Retry-After: 0), HTTP 500, a response slower than the
client's timeout, or a 200 whose content is not the requested JSON.
"""

from __future__ import annotations

import collections
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from trace2skill.llm.fake_batches import FakeBatchAPI
from trace2skill.llm.prefix_cache import PromptCache

FAULT_KINDS = ("429", "500", "timeout", "malformed")
MALFORMED_CONTENT = "Sure! Here is the answer you asked for: {not json"


@dataclass
class Fault:
    """An HTTP error answer (a responder may return one)."""

    status: int
    message: str = "injected fault"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ToolCalls:
    """An assistant turn that calls tools (a responder may return one): `calls` are (name, arguments)
    pairs; each gets the id `call_<n>` (n counts calls across the server's life)."""

    calls: list[tuple[str, dict[str, Any]]]
    content: str | None = None


Responder = Callable[[dict[str, Any]], "str | dict[str, Any] | ToolCalls | Fault"]


def example_for(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A small deterministic instance of a JSON schema (what a compliant model could answer)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_for(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return example_for(schema[union][0], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_for(sub, defs) for name, sub in props.items()}
    if kind == "array":
        return [example_for(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "x" * max(1, min(schema.get("minLength", 1), schema.get("maxLength", 1)))
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    return None


def schema_responder(request: dict[str, Any]) -> str | dict[str, Any]:
    """Default responder: a valid example of the requested JSON schema, or a plain greeting."""
    fmt = request.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema")
    return example_for(schema) if schema else "Hello from the fake server."


def scripted(replies: Iterable[str | dict[str, Any] | ToolCalls | Fault], *, repeat_last: bool = True) -> Responder:
    """A responder that plays `replies` in order (thread-safe); afterwards it repeats the last one
    (or answers HTTP 500 when `repeat_last` is False)."""
    queue = collections.deque(replies)
    lock = threading.Lock()
    last: list[Any] = [Fault(500, "script exhausted")]

    def respond(_: dict[str, Any]) -> str | dict[str, Any] | ToolCalls | Fault:
        with lock:
            if queue:
                last[0] = queue.popleft()
                return last[0]
            return last[0] if repeat_last else Fault(500, "script exhausted")

    return respond


class FakeLLMServer:
    """`with FakeLLMServer(latency_s=0.05, fault_rate=0.2, seed=1) as srv: ... srv.base_url`."""

    def __init__(self, responder: Responder | None = None, *, latency_s: float = 0.0,
                 fault_rate: float = 0.0, faults: Iterable[str] = FAULT_KINDS, seed: int = 0,
                 slow_s: float = 5.0, model: str = "fake-model", keep_requests: bool = True, port: int = 0,
                 prompt_cache: bool = False, cache_block_tokens: int = 1, cache_min_tokens: int = 0,
                 batch_run_s: float = 0.0):
        self.responder = responder or schema_responder
        self.prompt_cache = prompt_cache
        self.batch_api = FakeBatchAPI(self, run_s=batch_run_s)  # /v1/files and /v1/batches
        self._cache = PromptCache(block_tokens=cache_block_tokens, min_tokens=cache_min_tokens)
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.fault_kinds = tuple(faults)
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {FAULT_KINDS}")
        self.slow_s = slow_s
        self.model = model
        self.keep_requests = keep_requests
        self._port = port
        self.requests: list[dict[str, Any]] = []  # chat request bodies, in arrival order
        self.auth_headers: list[str | None] = []  # the Authorization header of each chat request
        self.request_count = 0
        self.fault_counts: collections.Counter[str] = collections.Counter()
        self.fault_log: list[str | None] = []  # per chat request: the fault injected, or None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def faults_injected(self) -> int:
        return sum(self.fault_counts.values())

    def start(self) -> FakeLLMServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 512  # listen backlog: the fleet opens up to 128+ connections at once
        httpd.server_bind()
        httpd.server_activate()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour
    def _draw_fault(self, body: dict[str, Any], auth: str | None) -> str | None:
        with self._lock:
            self.request_count += 1
            if self.keep_requests:
                self.requests.append(body)
                self.auth_headers.append(auth)
            fault = None
            if self.fault_rate > 0 and self._rng.random() < self.fault_rate and self.fault_kinds:
                fault = self._rng.choice(self.fault_kinds)
                self.fault_counts[fault] += 1
            if self.keep_requests:
                self.fault_log.append(fault)
            return fault

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def cached_tokens(self, messages: list[dict[str, Any]], model: str = "") -> int:
        """Prefix caching: the tokens of the longest start of this request an earlier request began
        with (see `PromptCache`; then this request is remembered too)."""
        return self._cache.lookup_and_add(messages, model)

    def completion(self, body: dict[str, Any], content: str, calls: ToolCalls | None = None) -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        prompt, completion = prompt_chars // 4 + 1, len(content) // 4 + 1
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}
        if self.prompt_cache:
            usage["prompt_tokens_details"] = {
                "cached_tokens": self.cached_tokens(body.get("messages", []), str(body.get("model") or ""))}
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls is not None:
            message["content"] = calls.content
            message["tool_calls"] = [
                {"id": f"call_{next(self._call_ids)}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}} for name, arguments in calls.calls]
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model") or self.model,
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls is not None else "stop",
                         "logprobs": None, "message": message}],
            "usage": usage,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real endpoint
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    fake: FakeLLMServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access logs
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = {429: "rate_limit_exceeded", 500: "server_error"}.get(status, "invalid_request_error")
        self._send(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _batch_route(self, method: str, raw: bytes = b"") -> bool:
        """Files and batches (the batch API, fake_batches.py): answered here when the path is theirs."""
        if not self.path.startswith(("/v1/files", "/v1/batches")):
            return False
        status, payload, content_type = self.fake.batch_api.handle(method, self.path, self.headers, raw)
        self._send(status, payload, content_type=content_type)
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0].rstrip("/")
        if self._batch_route("GET"):
            return
        if path in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        elif path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "trace2skill-fake"}]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self._batch_route("POST", raw):
            return
        if self.path.split("?", 1)[0].rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "request body is not JSON")
            return
        fake = self.fake
        fault = fake._draw_fault(body, self.headers.get("Authorization"))
        fake.wait(fake.latency_s)
        if fault == "429":
            self._error(429, "injected rate limit", {"Retry-After": "0"})
            return
        if fault == "500":
            self._error(500, "injected server error")
            return
        if fault == "timeout":
            fake.wait(fake.slow_s)
        try:
            reply = MALFORMED_CONTENT if fault == "malformed" else fake.responder(body)
        except Exception as exc:  # noqa: BLE001 - a broken responder is a 500, not a dead socket
            reply = Fault(500, f"responder failed: {type(exc).__name__}: {exc}")
        if isinstance(reply, Fault):
            self._error(reply.status, reply.message, reply.headers)
            return
        if isinstance(reply, ToolCalls):
            self._send(200, fake.completion(body, reply.content or "", reply))
            return
        content = reply if isinstance(reply, str) else json.dumps(reply)
        self._send(200, fake.completion(body, content))


def main(argv: list[str] | None = None) -> None:
    """`python -m trace2skill.llm.fake_server --latency 0.2 --fault-rate 0.2`: run it in its own
    process (benchmarks: keeps the server's work off the client's GIL). Prints the base URL."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", type=float, default=5.0)
    parser.add_argument("--prompt-cache", action="store_true", help="Report cached prefixes (see PromptCache).")
    parser.add_argument("--cache-block", type=int, default=1, help="Cached tokens in steps of this many.")
    parser.add_argument("--cache-min", type=int, default=0, help="Nothing is cached below this many tokens.")
    args = parser.parse_args(argv)
    server = FakeLLMServer(latency_s=args.latency, fault_rate=args.fault_rate, seed=args.seed,
                           slow_s=args.slow, keep_requests=False, port=args.port, prompt_cache=args.prompt_cache,
                           cache_block_tokens=args.cache_block, cache_min_tokens=args.cache_min).start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
