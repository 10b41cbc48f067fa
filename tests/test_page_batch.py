"""Extract screen (AppTest) in batch mode: "Run as batch" against the loopback server's batch API,
the run's batches on its panel; the embedded model offers no batch mode."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fakes import http_analyst_responder
from trace2skill import runs
from trace2skill.costs import get_prices, set_price, spend_of
from trace2skill.demo import load_demo
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.settings import set_setting
from trace2skill.store import Workspace
from trace2skill.store import batches as batch_store
from trace2skill.store import runs as run_store
from trace2skill.store.calls import run_usage

REPO = Path(__file__).resolve().parents[1]


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/extract.py")
    return at.run()


def test_run_as_batch_sends_one_batch_and_shows_it():
    ws = Workspace()
    load_demo(ws)
    at = _page()
    assert at.checkbox(key="ext_run_batch").disabled  # the embedded model answers live only
    with FakeLLMServer(http_analyst_responder, model="fake") as srv:
        set_setting(ws.db, "base_url", srv.base_url)
        set_setting(ws.db, "model", "fake")
        set_price(ws.db, "fake", prompt=2.0, completion=8.0)
        at = _page()
        at.number_input(key="ext_limit").set_value(3).run()
        at.checkbox(key="ext_run_batch").check().run()
        assert at.radio(key="ext_run_batch_retry").value == "batch"
        live = float(next(m.value for m in at.metric if m.label == "Cost (est.)").lstrip("$"))
        [said] = [c.value for c in at.caption if c.value.startswith("As a batch:")]
        assert said.startswith(f"As a batch: about ${live / 2:.4f} (50% of the live price")
        at.button(key="ext_start").click().run()
        assert not at.exception
        [run] = run_store.list_runs(ws.db, kind="extraction")
        assert run.config["batch"]["mode"] == "api"
        deadline = time.time() + 90
        while run_store.get_run(ws.db, run.id).status != "done":
            assert time.time() < deadline, run_store.get_run(ws.db, run.id)
            time.sleep(0.5)
        assert srv.request_count == 0 and srv.batch_api.created == 1
        billed = runs.spend(ws, run_store.get_run(ws.db, run.id))  # the cost meter: half price for a batch
        full = spend_of(run_usage(ws.db, run.id), get_prices(ws.db))
        assert full.usd > 0 and billed.usd == pytest.approx(full.usd / 2)
        at.run()
        [table] = [d for d in at.dataframe if "batch" in d.value.columns]
        row = table.value.iloc[0]
        assert (row["state"], row["calls"], row["answered"]) == ("answered", 3, 3)
        assert row["batch"] == batch_store.list_batches(ws.db, run_id=run.id)[0].id
        assert any(e.label.startswith("Batches: 1 batch, sent to the batch API") for e in at.expander)
