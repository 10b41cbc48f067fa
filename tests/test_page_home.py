"""Home screen (AppTest): counts, recent runs, LLM settings saved and shown, the connection test
against a real HTTP fake endpoint, the API key only from the environment, the local model status."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from trace2skill.errors import LocalModelMissingError
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import get_settings, set_setting
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store

REPO = Path(__file__).resolve().parents[1]


def _home() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_settings_are_saved_and_shown_again():
    at = _home()
    assert not at.exception
    at.text_input(key="home_base_url").input("http://127.0.0.1:9/v1")
    at.text_input(key="home_model").input("my-model")
    at.number_input(key="home_concurrency").set_value(16)
    at.button(key="home_save").click().run()
    assert not at.exception
    assert get_settings(Workspace().db) == {"base_url": "http://127.0.0.1:9/v1", "model": "my-model",
                                            "concurrency": "16"}
    assert any(s.value == "Settings saved." for s in at.success)
    assert "In use: my-model @ http://127.0.0.1:9/v1" in _texts(at)

    fresh = _home()  # a new browser session reads the stored values
    assert fresh.text_input(key="home_base_url").value == "http://127.0.0.1:9/v1"
    assert fresh.text_input(key="home_model").value == "my-model"
    assert fresh.number_input(key="home_concurrency").value == 16


def test_clearing_the_base_url_returns_to_the_local_model():
    set_setting(Workspace().db, "base_url", "http://127.0.0.1:9/v1")
    at = _home()
    at.text_input(key="home_base_url").input("")
    at.button(key="home_save").click().run()
    assert "base_url" not in get_settings(Workspace().db)
    assert any(t.endswith("SmolLM2-135M (the embedded local model)") for t in _texts(at))


def test_connection_test_against_a_fake_endpoint():
    with FakeLLMServer(model="fake") as server:
        db = Workspace().db
        set_setting(db, "base_url", server.base_url)
        set_setting(db, "model", "fake")
        at = _home()
        at.button(key="home_test").click().run()
        assert not at.exception
        assert [s.value for s in at.success] == ["Connection OK"]
        assert f"connected to {server.base_url}; model fake is available" in _texts(at)

        set_setting(db, "model", "not-served")
        at = _home()
        at.button(key="home_test").click().run()
        assert [e.value for e in at.error] == ["Connection failed"]
        assert any("does not list model 'not-served'" in t for t in _texts(at))


def test_api_key_comes_only_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = _home()
    assert any("OPENAI_API_KEY is not set" in c.value for c in at.caption)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-4242")
    at = _home()
    captions = [c.value for c in at.caption]
    assert any("OPENAI_API_KEY is set" in c for c in captions)
    everything = " ".join(captions + _texts(at) + [m.value for m in at.markdown] +
                          [t.value for t in at.text_input])
    assert "sk-test-secret-4242" not in everything
    at.button(key="home_save").click().run()
    assert "sk-test-secret-4242" not in str(get_settings(Workspace().db))


def test_counts_and_recent_runs():
    from trace2skill.demo import load_demo

    ws = Workspace()
    load_demo(ws)
    ids = [r[0] for r in ws.db.execute("SELECT id FROM trajectories LIMIT 4")]
    run_id = run_store.create_run(ws.db, "extraction", {}, ids)
    run_store.start_item(ws.db, run_id, ids[0])
    run_store.finish_item(ws.db, run_id, ids[0], "done")
    at = _home()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Trajectories"], metrics["Runs"], metrics["Skills"]) == ("200", "1", "1")
    runs = at.dataframe[0].value  # the first table: recent runs
    assert list(runs["run"]) == [run_id]
    assert runs["status"][0].startswith("queued (nothing is executing it")
    assert (runs["done"][0], runs["items"][0]) == (1, 4)
    assert runs["progress"][0] == pytest.approx(0.25)
    assert not any(i.value.startswith("The workspace is empty") for i in at.info)


def test_local_model_status_and_the_tiny_model_warning(monkeypatch: pytest.MonkeyPatch):
    at = _home()
    assert any("tiny model for trying the pipeline" in w.value for w in at.warning)

    def missing():
        raise LocalModelMissingError("the embedded local model is not installed (test)")

    monkeypatch.setattr("trace2skill.ui.local_model.find_local_model", missing)
    at = _home()
    assert any("not available" in m.value for m in at.markdown)
    assert "the embedded local model is not installed (test)" in _texts(at)


def test_the_context_window_is_saved_and_cleared():
    at = _home()
    assert at.number_input(key="home_context").value is None  # shown empty, "automatic": not a window of 0
    at.number_input(key="home_context").set_value(32768)
    at.button(key="home_save").click().run()
    assert not at.exception and get_settings(Workspace().db)["context_window"] == "32768"
    assert _home().number_input(key="home_context").value == 32768
    at.number_input(key="home_context").set_value(500)  # under any real model's window: refused, nothing saved
    at.button(key="home_save").click().run()
    assert any("context_window" in e.value for e in at.error)
    assert get_settings(Workspace().db)["context_window"] == "32768"
    at.number_input(key="home_context").set_value(None)  # emptied: back to automatic
    at.button(key="home_save").click().run()
    assert "context_window" not in get_settings(Workspace().db)
    assert _home().number_input(key="home_context").value is None


def test_first_run_says_how_long_and_starts_a_small_extraction():
    from tests.fakes import http_analyst_responder
    from trace2skill import runs
    from trace2skill.demo import load_demo

    ws = Workspace()
    load_demo(ws)
    at = _home()
    [info] = [i for i in at.info if "Your first run" in i.value]
    assert "Extract lessons from 4 failed runs with the airline-policy skill" in info.value
    assert "about 2 minutes on this machine (52 s a call, as measured on 2 idle cores)" in info.value
    assert at.button(key="home_first_run").label == "Extract from 4 failures"
    with FakeLLMServer(http_analyst_responder, model="fake") as srv:
        set_setting(ws.db, "base_url", srv.base_url)
        set_setting(ws.db, "model", "fake")
        at = _home()
        [info] = [i for i in at.info if "Your first run" in i.value]
        assert "from 20 failed runs" in info.value and "minute" not in info.value  # this endpoint: no pace yet
        at.button(key="home_first_run").click().run()
        assert not at.exception
        [run] = run_store.list_runs(ws.db)
        assert run.kind == "extraction" and run.progress.total == 20 and run.config["skill_version"]
        runs.wait(run.id, 60)
        assert run_store.get_run(ws.db, run.id).status == "done"
        at = _home()  # a run exists: the first-run box is gone
        assert not [i for i in at.info if "Your first run" in i.value]
