"""LLMClient against the fake OpenAI-compatible server: parsing, logging, cache, retries, secrets."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from trace2skill.errors import LLMConfigError, LLMResponseError, LLMUnavailableError
from trace2skill.llm import LLMClient, LLMConfig, check_connection, estimate_tokens, strict_schema
from trace2skill.llm.fake_server import FakeLLMServer, Fault, scripted
from trace2skill.store import Workspace

MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "What is 2+2?"}]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(max_length=20)
    confidence: int = Field(ge=0, le=10)


class Item(BaseModel):
    name: str = Field(max_length=10)
    tags: list[str] = Field(default_factory=list, max_length=3)


class Nested(BaseModel):
    title: str = Field(default="", max_length=30, title="A title")
    items: list[Item] = Field(max_length=4)
    best: Item | None = None
    extra: dict[str, int] = Field(default_factory=dict)


class Tree(BaseModel):
    label: str
    children: list[Tree] = Field(default_factory=list, max_length=2)


GOOD = {"answer": "4", "confidence": 9}


class Sleeps(list):
    """Stands in for time.sleep: records the delays, sleeps not at all."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def config_for(server: FakeLLMServer, **overrides: Any) -> LLMConfig:
    params: dict[str, Any] = {"base_url": server.base_url, "model": "fake-model", "backoff_base_s": 0.01,
                              "backoff_cap_s": 0.05, **overrides}
    return LLMConfig(**params)


def rows(ws: Workspace) -> list[dict[str, Any]]:
    return list(ws.db.query("SELECT * FROM llm_calls ORDER BY created, rowid"))


def count(ws: Workspace) -> int:
    return ws.db.execute("SELECT count(*) FROM llm_calls").fetchone()[0]


def test_structured_output_parsed_and_logged_once(ws: Workspace) -> None:
    with FakeLLMServer(scripted([GOOD])) as server:
        client = LLMClient(ws, config_for(server))
        result = client.structured(MESSAGES, Answer, schema_name="answer")
    assert result.value == Answer(answer="4", confidence=9)
    assert result.cached is False and result.attempts == 1
    assert server.request_count == 1
    (row,) = rows(ws)
    assert row["id"] == result.call_id
    assert row["error"] is None and row["model"] == "fake-model" and row["run_id"] is None
    request = json.loads(row["request"])
    assert request["messages"] == MESSAGES
    assert request["temperature"] == 0.0 and request["max_tokens"] == 1024
    fmt = request["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "answer"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["answer"]["maxLength"] == 20
    # what the server received is what we logged
    assert server.requests[0]["response_format"] == fmt
    assert server.requests[0]["max_tokens"] == 1024
    response = json.loads(row["response"])
    assert json.loads(response["content"]) == GOOD and response["finish_reason"] == "stop"
    usage = json.loads(row["usage"])
    assert usage == result.usage and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert row["latency_s"] >= 0 and row["request_hash"] and len(row["request_hash"]) == 64


def test_repeat_is_a_cache_hit(ws: Workspace) -> None:
    with FakeLLMServer(scripted([GOOD, {"answer": "five", "confidence": 1}])) as server:
        client = LLMClient(ws, config_for(server))
        first = client.structured(MESSAGES, Answer, schema_name="answer")
        second = client.structured(MESSAGES, Answer, schema_name="answer")
        # a new client on the same workspace (a restart) also hits the cache
        third = LLMClient(ws, config_for(server)).structured(MESSAGES, Answer, schema_name="answer")
        assert server.request_count == 1
        assert count(ws) == 1
        assert second.cached is True and third.cached is True and second.attempts == 0
        assert second.value == first.value == third.value
        assert second.call_id == first.call_id
        # a different request (max_tokens, messages) is sent
        other = client.structured(MESSAGES, Answer, schema_name="answer", max_tokens=50)
        assert other.cached is False and other.value.answer == "five"
        assert server.request_count == 2 and count(ws) == 2
        assert server.requests[1]["max_tokens"] == 50


def test_identical_requests_in_flight_are_sent_once(ws: Workspace) -> None:
    with FakeLLMServer(scripted([GOOD]), latency_s=0.3) as server:
        client = LLMClient(ws, config_for(server))
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: client.structured(MESSAGES, Answer, schema_name="a"), range(8)))
    assert server.request_count == 1
    assert count(ws) == 1
    assert sorted(r.cached for r in results) == [False] + [True] * 7
    assert {r.value.answer for r in results} == {"4"}


def test_invalid_json_is_corrected_then_succeeds(ws: Workspace) -> None:
    with FakeLLMServer(scripted(["Sure! The answer is 4.", GOOD])) as server:
        result = LLMClient(ws, config_for(server)).structured(MESSAGES, Answer, schema_name="answer")
    assert result.value.answer == "4" and result.attempts == 2
    assert server.request_count == 2
    retry = server.requests[1]["messages"]
    assert retry[:2] == MESSAGES
    assert retry[2] == {"role": "assistant", "content": "Sure! The answer is 4."}
    assert retry[3]["role"] == "user" and retry[3]["content"].startswith("Your answer was not valid: ")
    assert "Invalid JSON" in retry[3]["content"] and "JSON only" in retry[3]["content"]
    first, second = rows(ws)
    assert first["error"].startswith("invalid response: ") and second["error"] is None
    assert first["request_hash"] == second["request_hash"]
    assert result.usage["completion_tokens"] == (json.loads(first["usage"])["completion_tokens"]
                                                 + json.loads(second["usage"])["completion_tokens"])


def test_schema_violation_names_the_field(ws: Workspace) -> None:
    too_long = {"answer": "x" * 30, "confidence": 9}
    with FakeLLMServer(scripted([too_long, GOOD])) as server:
        result = LLMClient(ws, config_for(server)).structured(MESSAGES, Answer, schema_name="answer")
    assert result.value == Answer(**GOOD)
    correction = server.requests[1]["messages"][-1]["content"]
    assert "answer:" in correction and "at most 20 characters" in correction


def test_fenced_json_is_accepted(ws: Workspace) -> None:
    with FakeLLMServer(scripted(["```json\n" + json.dumps(GOOD) + "\n```"])) as server:
        result = LLMClient(ws, config_for(server)).structured(MESSAGES, Answer, schema_name="answer")
    assert result.value.confidence == 9 and server.request_count == 1


def test_persistent_invalid_answer_raises_and_logs_every_attempt(ws: Workspace) -> None:
    with FakeLLMServer(scripted(["not json"])) as server:
        client = LLMClient(ws, config_for(server, validation_retries=2))
        with pytest.raises(LLMResponseError) as info:
            client.structured(MESSAGES, Answer, schema_name="answer")
        assert server.request_count == 3
    assert "Invalid JSON" in info.value.last_error and info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    logged = rows(ws)
    assert len(logged) == 3
    assert all(r["error"].startswith("invalid response: ") for r in logged)
    assert all(json.loads(r["response"])["content"] == "not json" for r in logged)
    # a failed call is not a cache entry: asking again sends again
    with FakeLLMServer(scripted([GOOD])) as server:
        again = LLMClient(ws, config_for(server)).structured(MESSAGES, Answer, schema_name="answer")
        assert again.cached is False and server.request_count == 1


def test_429_and_500_are_retried_with_backoff(ws: Workspace) -> None:
    sleeps = Sleeps()
    replies = [Fault(429, "slow down", {"Retry-After": "0"}), Fault(500, "boom"), GOOD]
    with FakeLLMServer(scripted(replies)) as server:
        client = LLMClient(ws, config_for(server, backoff_base_s=0.2, backoff_cap_s=10), sleep=sleeps)
        result = client.structured(MESSAGES, Answer, schema_name="answer")
    assert result.value.answer == "4" and result.attempts == 3
    assert server.request_count == 3
    assert sleeps[0] == 0.0  # Retry-After: 0 honoured
    assert 0.2 <= sleeps[1] <= 0.4  # second retry: base * 2, jittered into [half, full]
    errors = [r["error"] for r in rows(ws)]
    assert "HTTP 429" in errors[0] and "RateLimitError" in errors[0]
    assert "HTTP 500" in errors[1] and errors[2] is None
    assert rows(ws)[0]["response"] is None


def test_retry_after_is_bounded(ws: Workspace) -> None:
    sleeps = Sleeps()
    with FakeLLMServer(scripted([Fault(429, "later", {"Retry-After": "3600"}), GOOD])) as server:
        client = LLMClient(ws, config_for(server, retry_after_cap_s=0.5), sleep=sleeps)
        client.structured(MESSAGES, Answer, schema_name="answer")
    assert sleeps == [0.5]


def test_timeout_is_retried(ws: Workspace) -> None:
    calls = []

    def slow_first(_: dict[str, Any]) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.5)
        return GOOD

    with FakeLLMServer(slow_first) as server:
        client = LLMClient(ws, config_for(server, timeout_s=0.4))
        result = client.structured(MESSAGES, Answer, schema_name="answer")
    assert result.value.answer == "4" and len(calls) == 2
    first, second = rows(ws)
    assert "timed out" in first["error"] and first["latency_s"] >= 0.35
    assert second["error"] is None


def test_400_is_not_retried(ws: Workspace) -> None:
    with FakeLLMServer(scripted([Fault(400, "unsupported response_format"), GOOD])) as server:
        client = LLMClient(ws, config_for(server))
        with pytest.raises(LLMUnavailableError) as info:
            client.structured(MESSAGES, Answer, schema_name="answer")
        assert server.request_count == 1
    assert info.value.status == 400 and info.value.attempts == 1
    assert "unsupported response_format" in str(info.value)
    (row,) = rows(ws)
    assert "HTTP 400" in row["error"]


def test_transport_failures_give_up_after_max_retries(ws: Workspace) -> None:
    sleeps = Sleeps()
    with FakeLLMServer(scripted([Fault(503, "overloaded")])) as server:
        client = LLMClient(ws, config_for(server, max_retries=2), sleep=sleeps)
        with pytest.raises(LLMUnavailableError) as info:
            client.structured(MESSAGES, Answer, schema_name="answer")
        assert server.request_count == 3
    assert info.value.status == 503 and info.value.attempts == 3 and len(sleeps) == 2
    assert count(ws) == 3


def test_connection_refused_is_retried_then_reported(ws: Workspace) -> None:
    server = FakeLLMServer().start()
    url = server.base_url
    server.stop()
    client = LLMClient(ws, LLMConfig(base_url=url, model="m", max_retries=1), sleep=Sleeps())
    with pytest.raises(LLMUnavailableError, match="kept failing after 2 attempts"):
        client.structured(MESSAGES, Answer, schema_name="answer")
    assert [("APIConnectionError" in r["error"]) for r in rows(ws)] == [True, True]


def test_api_key_never_stored(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-SECRET-7f3a9c1e5b"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    # the server echoes the key in an error message (OpenAI does this, partly masked)
    replies = [Fault(500, f"bad key {secret}"), "not json", GOOD]
    with FakeLLMServer(scripted(replies)) as server:
        config = LLMConfig.from_env(base_url=server.base_url, model="fake-model", backoff_base_s=0.0)
        LLMClient(ws, config).structured(MESSAGES, Answer, schema_name="answer")
        assert server.auth_headers == [f"Bearer {secret}"] * 3  # the key was really in play
    assert secret not in repr(config) and secret not in json.dumps(config.model_dump())
    assert "api_key" not in config.model_dump()
    logged = rows(ws)
    assert len(logged) == 3 and "***" in logged[0]["error"]
    for row in logged:
        for column, value in row.items():
            assert secret not in str(value), column
    ws.db.execute("PRAGMA wal_checkpoint(FULL)")
    assert secret.encode() not in ws.path.read_bytes()


def test_run_id_is_recorded(ws: Workspace) -> None:
    ws.db["runs"].insert({"id": "run-1", "kind": "extraction", "created": "2025-01-01T00:00:00+00:00"})
    with FakeLLMServer(scripted([GOOD])) as server:
        LLMClient(ws, config_for(server)).structured(MESSAGES, Answer, schema_name="a", run_id="run-1")
    assert [r["run_id"] for r in rows(ws)] == ["run-1"]


def test_many_threads_distinct_requests(ws: Workspace) -> None:
    def echo(request: dict[str, Any]) -> dict[str, Any]:
        question = request["messages"][-1]["content"]
        return {"answer": question, "confidence": int(question.split()[-1]) % 10}

    with FakeLLMServer(echo, latency_s=0.05) as server:
        client = LLMClient(ws, config_for(server))

        def ask(i: int) -> tuple[int, Answer]:
            messages = [{"role": "user", "content": f"question {i}"}]
            return i, client.structured(messages, Answer, schema_name="answer").value

        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(ask, range(64)))
        assert server.request_count == 64
    assert all(value == Answer(answer=f"question {i}", confidence=i % 10) for i, value in results)
    assert count(ws) == 64
    assert ws.db.execute("SELECT count(DISTINCT request_hash) FROM llm_calls WHERE error IS NULL").fetchone()[0] == 64


def test_missing_model_name_is_a_config_error(ws: Workspace) -> None:
    with pytest.raises(LLMConfigError, match="TRACE2SKILL_MODEL"):
        LLMClient(ws, LLMConfig(base_url="http://127.0.0.1:9/v1")).structured(MESSAGES, Answer, schema_name="a")


def test_mock_transport_is_used(ws: Workspace) -> None:
    import httpx2

    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(GOOD)}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}})

    client = LLMClient(ws, LLMConfig(base_url="http://nowhere.invalid/v1", model="m"),
                       transport=httpx2.MockTransport(handler))
    result = client.structured(MESSAGES, Answer, schema_name="answer")
    assert result.usage == {"prompt_tokens": 11, "completion_tokens": 5}
    assert len(seen) == 1 and seen[0]["model"] == "m"


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://example.test/v1")
    monkeypatch.setenv("TRACE2SKILL_MODEL", "model-a")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    config = LLMConfig.from_env(timeout_s=5)
    assert (config.base_url, config.model, config.timeout_s, config.api_key_value()) == (
        "http://example.test/v1", "model-a", 5, "sk-abc")
    assert LLMConfig.from_env(base_url="http://other/v1", model="b").base_url == "http://other/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    bare = LLMConfig.from_env()
    assert bare.base_url is None and bare.is_local and bare.api_key is None
    with pytest.raises(TypeError):
        LLMConfig.from_env(api_key="sk-x")


def test_strict_schema_inlines_and_closes() -> None:
    schema = strict_schema(Nested)
    assert "$defs" not in schema and "title" not in schema
    assert schema["required"] == ["title", "items", "best", "extra"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["title"] == {"type": "string", "maxLength": 30}  # default/title dropped
    items = schema["properties"]["items"]
    assert items["maxItems"] == 4
    assert items["items"]["required"] == ["name", "tags"] and items["items"]["additionalProperties"] is False
    assert items["items"]["properties"]["tags"]["maxItems"] == 3
    best = schema["properties"]["best"]["anyOf"]
    assert best[0]["properties"]["name"]["maxLength"] == 10 and best[1] == {"type": "null"}
    assert schema["properties"]["extra"]["additionalProperties"] == {"type": "integer"}  # dicts stay open


def test_strict_schema_keeps_recursive_defs() -> None:
    schema = strict_schema(Tree)
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Tree"}
    assert schema["$defs"]["Tree"]["required"] == ["label", "children"]
    assert schema["$defs"]["Tree"]["additionalProperties"] is False


def test_estimates() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("hello world") == 3  # 2 pieces * 1.05, rounded up
    assert estimate_tokens("get_user(id=12345)") == 10  # get _ user ( id = 123 45 ) -> 9 pieces
    # prices are the workspace's price table now (tests/test_costs.py), not LLMConfig fields
    assert "price_prompt_per_1k" not in LLMConfig.model_fields


def test_check_connection() -> None:
    with FakeLLMServer(model="served-model") as server:
        ok, message = check_connection(LLMConfig(base_url=server.base_url, model="served-model"))
        assert ok is True and "served-model" in message
        ok, message = check_connection(LLMConfig(base_url=server.base_url, model="other"))
        assert ok is False and "does not list model 'other'" in message and "served-model" in message
        url = server.base_url
    ok, message = check_connection(LLMConfig(base_url=url, model="served-model", timeout_s=2))
    assert ok is False and message.startswith("cannot reach")


def test_concurrent_writers_share_one_client(tmp_path: Any) -> None:
    """Worker threads each use their own connection of the same workspace."""
    ws = Workspace(tmp_path / "w.db")
    barrier = threading.Barrier(4)
    with FakeLLMServer() as server:  # default responder: a valid example of the schema
        client = LLMClient(ws, config_for(server))

        def ask(i: int) -> str:
            barrier.wait()
            return client.structured([{"role": "user", "content": str(i)}], Answer, schema_name="a").value.answer

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(ask, range(4)))
    assert answers == ["x"] * 4
    assert count(ws) == 4


def test_fault_injected_endpoint_every_fault_is_one_logged_error(ws: Workspace) -> None:
    """20-30% of calls fail (429, 500, too slow, malformed): every call still ends valid, and each
    injected fault is exactly one logged error row."""
    with FakeLLMServer(fault_rate=0.3, seed=3, slow_s=1.0) as server:
        client = LLMClient(ws, config_for(server, timeout_s=0.3, max_retries=6, validation_retries=4))
        values = [client.structured([{"role": "user", "content": f"q{i}"}], Answer, schema_name="a").value
                  for i in range(40)]
        assert values == [Answer(answer="x", confidence=0)] * 40
        faults = server.faults_injected
        assert faults >= 5 and set(server.fault_counts) == {"429", "500", "timeout", "malformed"}
        assert count(ws) == server.request_count == 40 + faults
    errors = ws.db.execute("SELECT count(*) FROM llm_calls WHERE error IS NOT NULL").fetchone()[0]
    assert errors == faults
    kinds = [r["error"] for r in rows(ws) if r["error"]]
    assert sum("timed out" in e for e in kinds) == server.fault_counts["timeout"]
    assert sum(e.startswith("invalid response") for e in kinds) == server.fault_counts["malformed"]


@pytest.mark.parametrize("local", [True, False])
def test_an_answer_cut_off_is_asked_again_except_on_the_embedded_model(ws: Workspace, local: bool) -> None:
    import httpx2

    sent = []

    asked: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(1)
        asked.append(json.loads(request.content)["messages"][-1]["content"])
        return httpx2.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content": '{"answer": "Skills_Skills_Skills'}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 64, "total_tokens": 75}})

    config = LLMConfig(base_url="http://nowhere.invalid/v1", model="m", local=local, validation_retries=2)
    client = LLMClient(ws, config, transport=httpx2.MockTransport(handler))
    with pytest.raises(LLMResponseError, match="cut off") as info:
        client.structured(MESSAGES, Answer, schema_name="answer")
    # the toy model runs on to the limit again: one call, not three
    assert len(sent) == (1 if local else 3)
    assert f"after {len(sent)} attempt" in str(info.value)
    assert "answer more briefly" not in str(info.value)  # said to the model when it is asked again, not to people
    if not local:
        assert "cut off at" in asked[-1] and asked[-1].endswith("; answer more briefly. Answer again with JSON only, "
                                                                 "matching the schema.")
