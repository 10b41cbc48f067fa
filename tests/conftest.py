"""Shared fixtures: every test gets its own workspace file under a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace2skill.store import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TAU_BENCH = SHARED_DATA / "tau-bench" / "historical_trajectories" / "gpt-4o-airline.json"


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
