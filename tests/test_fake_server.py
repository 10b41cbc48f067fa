"""The fake OpenAI-compatible server: concurrency, latency, seeded fault injection, response shape."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field

from trace2skill.llm import strict_schema
from trace2skill.llm.fake_server import MALFORMED_CONTENT, FakeLLMServer, Fault, example_for, scripted


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: int = Field(ge=2, le=100)
    quote: str = Field(min_length=3, max_length=200)


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a", "b"]
    items: list[Evidence] = Field(min_length=1, max_length=3)
    note: str | None = None
    flag: bool = True


def chat_body(content: str = "hi") -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}]}


def post(conn: http.client.HTTPConnection, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read()), dict(response.getheaders())


def test_latency_is_applied_concurrently() -> None:
    latency = 0.2
    with FakeLLMServer(latency_s=latency) as server:
        def one(_: int) -> float:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            started = time.monotonic()
            status, _, _ = post(conn, chat_body())
            conn.close()
            assert status == 200
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            each = list(pool.map(one, range(16)))
        total = time.monotonic() - started
        assert server.request_count == 16
    assert min(each) >= latency * 0.95  # every request waited its latency...
    assert total < 8 * latency  # ...at the same time (sequential would be 16 x 0.2 s)


def test_fault_injection_rate_and_determinism() -> None:
    def run(seed: int) -> tuple[list[str | None], list[int], list[str]]:
        statuses, contents = [], []
        with FakeLLMServer(scripted(['{"ok": true}']), fault_rate=0.2, seed=seed, slow_s=0.0) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for i in range(500):
                status, body, headers = post(conn, chat_body(str(i)))
                statuses.append(status)
                contents.append(body["choices"][0]["message"]["content"] if status == 200 else "")
                if status == 429:
                    assert headers["Retry-After"] == "0"
            conn.close()
            assert server.request_count == 500
            assert server.faults_injected == sum(f is not None for f in server.fault_log)
            return server.fault_log, statuses, contents

    log_a, statuses, contents = run(seed=7)
    log_b, _, _ = run(seed=7)
    log_c, _, _ = run(seed=8)
    assert log_a == log_b  # same seed, same faults in the same places
    assert log_a != log_c
    injected = sum(f is not None for f in log_a)
    assert 70 <= injected <= 130  # 20% of 500 = 100, +-3 standard deviations
    assert {f for f in log_a if f} == {"429", "500", "timeout", "malformed"}
    expected_status = {"429": 429, "500": 500, "timeout": 200, "malformed": 200, None: 200}
    assert statuses == [expected_status[f] for f in log_a]
    for fault, content in zip(log_a, contents):
        if fault == "malformed":
            assert content == MALFORMED_CONTENT
        elif fault in (None, "timeout"):
            assert content == '{"ok": true}'


def test_slow_fault_outlasts_client_timeout() -> None:
    with FakeLLMServer(fault_rate=1.0, faults=["timeout"], slow_s=2.0) as server:
        sdk = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.3)
        started = time.monotonic()
        try:
            sdk.chat.completions.create(**chat_body())
        except openai.APITimeoutError:
            timed_out = True
        else:
            timed_out = False
        assert timed_out and time.monotonic() - started < 1.5
        assert server.fault_counts["timeout"] == 1


def test_openai_sdk_parses_responses() -> None:
    schema = strict_schema(Report)
    fmt = {"type": "json_schema", "json_schema": {"name": "report", "schema": schema, "strict": True}}
    with FakeLLMServer(model="fake-1") as server:
        sdk = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        completion = sdk.chat.completions.create(model="fake-1", messages=[{"role": "user", "content": "go"}],
                                                 response_format=fmt)
        models = [m.id for m in sdk.models.list().data]
    assert models == ["fake-1"]
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens)
    report = Report.model_validate_json(completion.choices[0].message.content or "")
    assert report == Report(kind="a", items=[Evidence(step=2, quote="xxx")], note="x", flag=False)


def test_example_for_is_valid_for_recursive_refs() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/N"}}, "required": ["a"],
              "$defs": {"N": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/N"}}}}}}
    assert example_for(schema) == {"a": {"kids": []}}


def test_scripted_faults_and_health() -> None:
    replies = [Fault(418, "teapot"), "plain text", {"k": 1}]
    with FakeLLMServer(scripted(replies, repeat_last=False)) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        status, body, _ = post(conn, chat_body())
        assert status == 418 and body["error"]["message"] == "teapot"
        assert post(conn, chat_body())[1]["choices"][0]["message"]["content"] == "plain text"
        assert post(conn, chat_body())[1]["choices"][0]["message"]["content"] == '{"k": 1}'
        assert post(conn, chat_body())[0] == 500  # script exhausted
        conn.request("GET", "/health")
        health = conn.getresponse()
        assert health.status == 200 and json.loads(health.read()) == {"status": "ok"}
        conn.request("GET", "/nope")
        missing = conn.getresponse()
        assert missing.status == 404
        missing.read()
        conn.close()
        assert server.request_count == 4


def test_broken_responder_is_a_500() -> None:
    def broken(_: dict[str, Any]) -> str:
        raise KeyError("boom")

    with FakeLLMServer(broken) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        status, body, _ = post(conn, chat_body())
        conn.close()
    assert status == 500 and "KeyError" in body["error"]["message"]
