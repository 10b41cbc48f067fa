"""A toast when a background run ends, on whatever screen the user is (here: Lessons, while an
extraction started elsewhere runs against the loopback endpoint)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.fakes import http_analyst_responder
from tests.helpers import REPO
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.demo import load_demo
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.store import Workspace
from trace2skill.ui.run_toasts import ended_message


@pytest.fixture
def ws_env() -> Workspace:
    ws = Workspace()  # the workspace the app opens (TRACE2SKILL_DB of this test)
    yield ws
    ws.close()


def test_a_run_that_ends_while_the_user_is_elsewhere_says_so(ws_env):
    ws = ws_env
    load_demo(ws)
    ids = select_trajectories(ws, outcome="failure", limit=2)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/lessons.py")
    with FakeLLMServer(http_analyst_responder, latency_s=1.0) as server:
        run_id = create_extraction_run(ws, ids, ExtractionConfig(concurrency=1))
        runs.start_background(ws, run_id, LLMClient(ws, LLMConfig(base_url=server.base_url, model="fake")))
        at.run()
        assert not at.toast  # still running: nothing to say yet
        runs.wait(run_id, timeout=60)
        at.run()
    assert [t.value for t in at.toast] == [f"Extraction run {run_id} is done."]
    at.run()
    assert not at.toast  # said once


def test_the_words_of_each_ending():
    assert ended_message("consolidation", "con-1", "failed", "the endpoint refused") == \
        "Consolidation run con-1 failed: the endpoint refused"
    assert ended_message("verification", "ver-1", "stopped", None) == \
        "Verification run ver-1 stopped at its budget; raise it and resume."
    assert ended_message("extraction", "ext-1", "cancelled", None) == "Extraction run ext-1 cancelled."
    assert ended_message("extraction", "ext-1", "done", None, 3, 4) == (  # finished is not all well
        "Extraction run ext-1 finished, but 3 of 4 items failed: their last error is on the run's screen, and "
        "Resume retries them.")
