"""Shared fixtures: every test gets its own workspace file under a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace2skill.store import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TAU_BENCH = SHARED_DATA / "tau-bench" / "historical_trajectories" / "gpt-4o-airline.json"


@pytest.fixture(scope="session", autouse=True)
def _own_model_server(tmp_path_factory: pytest.TempPathFactory):
    """A test (or an app the e2e tests start) that uses the embedded model gets a shared server of
    the suite's own, never the one a user's app runs, and it is stopped when the session ends."""
    from trace2skill.llm.shared import ENV_IDLE_S, ENV_RUNTIME_DIR, stop_server

    folder = tmp_path_factory.mktemp("t2s-run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_RUNTIME_DIR, str(folder))
        patch.setenv(ENV_IDLE_S, "5")
        yield folder
        stop_server(folder)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("t2s-home")
    monkeypatch.setenv("TRACE2SKILL_HOME", str(home))
    monkeypatch.setenv("TRACE2SKILL_DB", str(home / "workspace.db"))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws.db")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"../shared/data not found at {SHARED_DATA}: the tests need the shared data beside the repo")
    return SHARED_DATA
