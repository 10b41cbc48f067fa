"""The minimal app: home page renders counts, the demo loads, the trajectories table fills."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]


def _app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60)


def test_home_on_empty_workspace_then_load_demo():
    at = _app().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trajectories"] == "0"
    at.button(key="home_load_demo").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Trajectories"], metrics["Successes"], metrics["Failures"]) == ("200", "84", "116")


def test_trajectories_page_lists_and_filters():
    from trace2skill.demo import load_demo
    from trace2skill.store import Workspace

    load_demo(Workspace())
    at = _app()
    at.switch_page("views/trajectories.py")
    at.run()
    assert not at.exception
    assert any("200 trajectories match" in c.value for c in at.caption)
    at.selectbox(key="traj_outcome").select("success").run()
    assert any("84 trajectories match" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 50
