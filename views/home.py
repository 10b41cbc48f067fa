"""Home: what the workspace holds, recent runs, the LLM settings, and the demo data for a first run."""

import os

import pandas as pd
import streamlit as st

from trace2skill import runs
from trace2skill.costs import short_spend
from trace2skill.demo import load_demo
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm import check_connection
from trace2skill.llm.config import ENV_API_KEY
from trace2skill.settings import effective_settings, get_settings, llm_config, set_setting
from trace2skill.store.runs import list_runs
from trace2skill.store.stats import workspace_stats
from trace2skill.ui.costs_view import price_editor
from trace2skill.ui.first_run import first_run
from trace2skill.ui.local_model import local_model_status
from trace2skill.ui.state import workspace
from trace2skill.ui.words import as_time, format_words, signal_words, time_column

ws = workspace()
stats = workspace_stats(ws.db)

st.title("Trace2Skill")
st.write("Turn agent trajectories — successes and failures — into a reviewed Agent Skill.")

# ------------------------------------------------------------------ counts
cols = st.columns(5)
cols[0].metric("Trajectories", stats["trajectories"])
cols[1].metric("Successes", stats["outcomes"]["success"])
cols[2].metric("Failures", stats["outcomes"]["failure"])
cols[3].metric("Unknown outcome", stats["outcomes"]["unknown"])
cols[4].metric("Lessons", sum(stats["lessons"].values()))
cols = st.columns(5)
cols[0].metric("Proposed lessons", stats["lessons"]["proposed"])
cols[1].metric("Approved lessons", stats["lessons"]["approved"])
cols[2].metric("Rejected lessons", stats["lessons"]["rejected"])
cols[3].metric("Runs", stats["runs"])
cols[4].metric("Skills", stats["skills"])

if stats["trajectories"] == 0:
    st.info("The workspace is empty. Load the bundled demo: 200 real τ-bench airline runs (GPT-4o), with the "
            "airline policy as the human-written skill to deepen.", icon=":material/info:")
    if st.button("Load demo data", type="primary", key="home_load_demo", icon=":material/download:"):
        with st.spinner("Importing demo trajectories…"):
            report = load_demo(ws)
        st.session_state["home_demo_report"] = f"Imported {plural(report.imported, 'trajectory')}."
        st.rerun()
if "home_demo_report" in st.session_state:
    st.success(st.session_state.pop("home_demo_report"), icon=":material/check_circle:")
if stats["trajectories"] and not stats["runs"]:
    first_run(ws, llm_config(ws.db))

# ------------------------------------------------------------------ recent runs
st.subheader("Recent runs")
recent = list_runs(ws.db, limit=5)
if recent:
    states = [runs.describe(ws, r.id, running_here=runs.running_here(r.id)) for r in recent]
    table = pd.DataFrame([{
        "run": s.run.id, "kind": s.run.kind, "status": s.headline, "progress": s.run.progress.fraction_done,
        "done": s.run.progress.done, "failed": s.run.progress.failed, "cancelled": s.run.progress.cancelled,
        "items": s.run.progress.total, "spent": short_spend(runs.spend(ws, s.run)), "created": as_time(s.run.created),
    } for s in states])
    st.dataframe(table, hide_index=True, width="stretch", key="home_runs", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent",
                                                    help="Share of the run's items done"),
        "created": time_column("created")})
else:
    st.caption("No runs yet: start one on the Extract page.")

left, right = st.columns(2)
with left:
    st.subheader("Formats")
    st.dataframe(pd.DataFrame([(format_words(k), n) for k, n in stats["formats"].items()],
                              columns=["format", "trajectories"]),
                 hide_index=True, width="stretch")
with right:
    st.subheader("Signals")
    st.dataframe(pd.DataFrame([(signal_words(k), n) for k, n in stats["signals"].items()],
                              columns=["signal", "trajectories"]),
                 hide_index=True, width="stretch")

# ------------------------------------------------------------------ LLM settings
st.subheader("Language model")
stored = get_settings(ws.db)
st.session_state.setdefault("home_base_url", stored.get("base_url", ""))
st.session_state.setdefault("home_model", stored.get("model", ""))
st.session_state.setdefault("home_concurrency", int(stored.get("concurrency") or 8))
st.session_state.setdefault("home_context", int(stored.get("context_window") or 0) or None)

with st.container(border=True):
    st.caption("Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server, LiteLLM). Leave the base URL "
               "empty to use the embedded local model.")
    c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
    c1.text_input("Endpoint base URL", key="home_base_url", placeholder="http://localhost:8000/v1")
    c2.text_input("Model", key="home_model", placeholder="gpt-4o-mini")
    c3.number_input("Default concurrency", min_value=1, max_value=512, key="home_concurrency")
    c4.number_input("Context window (tokens)", min_value=0, step=1024, key="home_context", placeholder="automatic",
                    help="How many tokens the model reads at once; prompts (and the skill in them) are sized "
                         "to it. Left empty (automatic): 8,192 for the embedded model, else a size any current "
                         "model holds.")
    if os.environ.get(ENV_API_KEY):
        st.caption(f":material/key: API key: {ENV_API_KEY} is set in the environment (its value is never shown "
                   "or stored).")
    else:
        st.caption(f":material/key_off: API key: {ENV_API_KEY} is not set. The key is read only from the "
                   f"{ENV_API_KEY} environment variable and never stored in the workspace; local servers "
                   "usually need none.")
    buttons = st.container(horizontal=True)
    if buttons.button("Save settings", key="home_save", type="primary", icon=":material/save:"):
        try:
            window = int(st.session_state["home_context"] or 0)
            set_setting(ws.db, "context_window", str(window) if window else None)
            set_setting(ws.db, "base_url", st.session_state["home_base_url"].strip() or None)
            set_setting(ws.db, "model", st.session_state["home_model"].strip() or None)
            set_setting(ws.db, "concurrency", str(int(st.session_state["home_concurrency"])))
        except Trace2SkillError as exc:
            st.error(f"Not saved: {exc}", icon=":material/error:")
        else:
            st.session_state["home_saved"] = True
            st.session_state.pop("home_conn", None)
            st.rerun()
    if buttons.button("Test connection", key="home_test", icon=":material/network_check:"):
        with st.spinner("Contacting the endpoint…"):
            st.session_state["home_conn"] = check_connection(llm_config(ws.db))
    if st.session_state.pop("home_saved", False):
        st.success("Settings saved.", icon=":material/check_circle:")
    config = llm_config(ws.db)
    st.text(f"In use: {config.describe()}")
    overridden = [k for k, e in effective_settings(ws.db).items() if e.source == "environment"]
    if overridden:
        st.caption(f":material/info: Set in the environment, which wins over the values saved here: "
                   f"{', '.join(overridden)}.")
    if "home_conn" in st.session_state:
        ok, message = st.session_state["home_conn"]
        if ok:
            st.success("Connection OK", icon=":material/check_circle:")
        else:
            st.error("Connection failed", icon=":material/error:")
        st.text(message)
    st.markdown("**Prices**")
    price_editor(ws)

with st.container(border=True):
    found, detail = local_model_status()
    if found:
        st.markdown(":material/memory: **Embedded local model:** SmolLM2-135M-Instruct is installed"
                    + (" (in use: no endpoint is configured)." if config.is_local
                       else " (not in use: an endpoint is configured)."))
        st.text(detail)
    else:
        st.markdown(":material/memory: **Embedded local model:** not available.")
        st.text(detail)
    st.warning("SmolLM2-135M is a tiny model for trying the pipeline end to end, not for real lessons: for lessons "
               "worth reviewing, configure a capable model above.", icon=":material/warning:")
