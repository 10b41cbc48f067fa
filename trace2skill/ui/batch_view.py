"""Batch mode on the run screens: the "Run as batch" choice before a run starts, and on a run's
panel its batches (state, answers, when sent) and, for a run waiting on a batch file, the upload of
the engine's results that lets it go on."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm.batch import BatchOptions, ask_endpoint, at_endpoint
from trace2skill.llm.config import LLMConfig
from trace2skill.models import Run, utcnow
from trace2skill.runs.batch_mode import STATUS_WORDS, batch_of, ingest_results, remote_words
from trace2skill.settings import batch_price
from trace2skill.store import Workspace
from trace2skill.store import batches as batch_store
from trace2skill.store.batches import Batch
from trace2skill.ui.words import as_time, time_column, time_html

ASK_HELP = ("One question to the endpoint per open batch (10 s at most), to see whether it is still being answered, "
            "answered in full or ended. Nothing is stored and nothing is collected: Resume does that, without "
            "sending anything again.")
RETRY_WORDS = {"batch": "in a later, smaller batch", "live": "live, one call at a time"}
AS_OF_HELP = ("When the batch service last told us the state. A running run asks every few seconds; while nothing "
              "executes the run (interrupted, or cancelled after its process stopped), nobody asks again until it "
              "is resumed, so a batch 'being cancelled' or 'being answered' may have moved on since: 'Ask the "
              "endpoint now' below says how far it is.")


def batch_input(llm: LLMConfig, key: str) -> BatchOptions | None:
    """The "Run as batch" choice; None: live calls."""
    on = st.checkbox("Run as batch", key=key, disabled=llm.is_local,
                     help="Send the calls as batches through the endpoint's batch API (the OpenAI Batch API costs "
                          "half and answers within 24 hours) instead of one by one. The run waits for each batch; "
                          "if the app stops meanwhile, Resume picks the batches up again without sending anything "
                          "twice." + (" The embedded model answers live only." if llm.is_local else ""))
    if not on:
        return None
    retry = st.radio("Calls a batch could not run go again", list(RETRY_WORDS), format_func=RETRY_WORDS.__getitem__,
                     horizontal=True, key=f"{key}_retry")
    return BatchOptions(mode="api", retry="live" if retry == "live" else "batch")


def batch_cost_caption(ws: Workspace, live_usd: float) -> None:
    """Under a priced estimate, with "Run as batch" on: what the run costs at the batch price."""
    share = batch_price(ws.db)
    st.caption(f"As a batch: about ${live_usd * share:.4f} ({share:.0%} of the live price, as the run's cost meter "
               "counts it; change the share with `trace2skill settings set batch_price 0.5`).")


def waiting_for_file(ws: Workspace, run: Run) -> bool:
    """The run stopped because its requests were written to a batch file for another engine."""
    latest = batch_store.list_batches(ws.db, run_id=run.id, limit=1)
    return run.status == "stopped" and bool(latest) and latest[0].status == "written"


def batch_panel(ws: Workspace, run: Run, key: str, *, polled: bool = True) -> None:
    """The run's batches, newest first; for a run waiting on a batch file, where to bring its answers;
    for a run nothing executes (`polled` False), the endpoint can be asked how far its open batches are."""
    batches = batch_store.list_batches(ws.db, run_id=run.id, limit=200)
    options = batch_of(run)
    if not batches and options is None:
        return
    how = "written to files for another engine" if options and options.mode == "file" else "sent to the batch API"
    with st.expander(f"Batches: {plural(len(batches), 'batch')}, {how}", icon=":material/stacks:",
                     expanded=any(b.is_open for b in batches)):
        if waiting_for_file(ws, run):
            st.info(f"{run.error} Or upload the results file here.", icon=":material/upload_file:")
            _upload_results(ws, run, key)
        if not batches:
            st.caption("No batch yet: the first one goes out once the run has gathered its calls.")
            return
        frame = pd.DataFrame([{
            "batch": b.id, "state": STATUS_WORDS.get(b.status, b.status), "calls": b.requests,
            "answered": b.answered, "failed": b.failed, "at the service": b.remote_id or b.path or "",
            "sent": as_time(b.created), "state as of": as_time(b.updated or b.created),
            "finished": as_time(b.finished)} for b in batches])
        st.dataframe(frame, hide_index=True, width="stretch", key=f"{key}_batches",
                     column_config={"sent": time_column("sent"), "finished": time_column("finished"),
                                    "state as of": time_column("state as of", help=AS_OF_HELP)})
        if not polled and (askable := at_endpoint(batches)):
            _ask_endpoint(run, askable, key)


def _ask_endpoint(run: Run, batches: list[Batch], key: str) -> None:
    """Ask the endpoint how far the open batches of a run nothing executes are; said, not stored."""
    if st.button("Ask the endpoint now", key=f"{key}_ask_endpoint", icon=":material/sync:", help=ASK_HELP):
        with st.spinner("Asking the endpoint…"):
            st.session_state[f"{key}_asked"] = (utcnow(), [remote_words(s) for s in ask_endpoint(run, batches)])
    asked = st.session_state.get(f"{key}_asked")
    if asked:
        st.caption(f"The endpoint said, {time_html(asked[0])} (not stored: the table keeps what the run last saw):",
                   unsafe_allow_html=True)
        st.code("\n".join(asked[1]), language=None, wrap_lines=True)


def _upload_results(ws: Workspace, run: Run, key: str) -> None:
    upload = st.file_uploader("Results from your batch engine (JSONL)", type=["jsonl", "json"],
                              key=f"{key}_batch_results")
    if upload is None or not st.button("Store the answers", key=f"{key}_batch_ingest", icon=":material/input:"):
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.jsonl"
        path.write_bytes(upload.getvalue())
        try:
            got = ingest_results(ws, path)
        except Trace2SkillError as exc:
            st.error(str(exc), icon=":material/error:")
            return
    st.success(f"{plural(got.answers, 'answer')} stored" + (f", {len(got.bad)} lines were not results" if got.bad
                                                            else "") + ". Resume the run to go on.",
               icon=":material/check:")
