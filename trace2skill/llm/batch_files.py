"""The batch JSONL format shared by the OpenAI Batch API and `vllm run-batch`.

Input, one request a line: `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`.
Output, one result a line: `{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error"}` — `error` set (and `response` null) for a request the engine could not run; a
`status_code` other than 200 carries the endpoint's error in `body`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from trace2skill.store.batches import Result

ENDPOINT: Final = "/v1/chat/completions"


def custom_id(body: dict[str, Any]) -> str:
    """The request's id in every batch: a hash of its body, so the same request is recognised
    when a resumed run asks it again."""
    return "t2s-" + hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]


def request_line(cid: str, body: dict[str, Any]) -> bytes:
    return orjson.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body}) + b"\n"


def request_lines(requests: Iterable[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(request_line(cid, body) for cid, body in requests)


@dataclass(frozen=True)
class BadLine:
    line_no: int
    problem: str


def parse_result(data: Any) -> Result:
    """One output line (already decoded) as a Result; ValueError when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
        raise ValueError("no custom_id")
    cid = data["custom_id"]
    error, response = data.get("error"), data.get("response")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        code = error.get("code") if isinstance(error, dict) else None
        return Result(cid, None, f"the batch could not run it: {message or code or 'no reason given'}",
                      _status(response) or _status_of_code(code))
    if not isinstance(response, dict) or not isinstance(response.get("body"), dict):
        raise ValueError("neither a response body nor an error")
    status, body = _status(response) or 200, response["body"]
    if status != 200:
        detail = body.get("error") if isinstance(body.get("error"), dict) else body
        message = detail.get("message") if isinstance(detail, dict) else None
        return Result(cid, None, f"HTTP {status}: {message or 'no message'}", status)
    if not isinstance(body.get("choices"), list):
        raise ValueError("the response body is not a chat completion (no choices)")
    return Result(cid, body)


def _status(response: Any) -> int | None:
    code = response.get("status_code") if isinstance(response, dict) else None
    return int(code) if isinstance(code, int) else None


def _status_of_code(code: Any) -> int | None:
    return 429 if code in ("rate_limit_exceeded", "batch_expired", "batch_cancelled") else None


def read_results(stream: Iterable[bytes]) -> Iterator[Result | BadLine]:
    """The results in an output file, a line at a time (blank lines skipped); a line that is not a
    result comes back as a BadLine naming its number and the problem."""
    for no, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            yield parse_result(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValueError) as exc:
            yield BadLine(no, str(exc) or type(exc).__name__)


def result_line(cid: str, *, body: dict[str, Any] | None = None, status: int = 200,
                error: dict[str, Any] | None = None, line_id: str = "") -> bytes:
    """One output line as an engine writes it (the loopback server's batch API uses this)."""
    response = None if error else {"status_code": status, "request_id": line_id, "body": body}
    return orjson.dumps({"id": line_id, "custom_id": cid, "response": response, "error": error}) + b"\n"
