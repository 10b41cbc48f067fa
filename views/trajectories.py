"""Trajectories: upload and import (per-file report, generic mapping for unknown formats), a
filterable table paginated in SQL, and the step viewer of the selected trajectory."""

import pandas as pd
import streamlit as st

from trace2skill.errors import MappingError
from trace2skill.humanize import plural
from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories, distinct_values, list_trajectories
from trace2skill.ui.escape import safe_label
from trace2skill.ui.extract_pick import render_send_to_extract, row_to_open
from trace2skill.ui.import_preview import forget_previews, render_mapping_preview, render_upload_previews
from trace2skill.ui.imports_view import render_bulk_outcome, render_imports
from trace2skill.ui.outcome_rules_view import render_outcome_rules
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.search_view import SHARED_HELP, SHARED_LABEL, render_search_hits
from trace2skill.ui.session_view import (
    SESSION_COLUMN_HELP,
    SPLIT_HELP,
    SPLIT_LABEL,
    session_filter,
    session_words,
    split_uploaded,
)
from trace2skill.ui.split_view import render_split
from trace2skill.ui.state import workspace
from trace2skill.ui.step_links import follow_link, take_step_link
from trace2skill.ui.text_log_upload import render_text_log_form
from trace2skill.ui.trace_outcome import forget_outcome_choice, render_outcome_choice
from trace2skill.ui.trajectory_view import render_trajectory
from trace2skill.ui.uploads import (
    error_lines,
    first_record,
    guess_mapping,
    import_upload,
    import_with_mapping,
    preview,
    record_paths,
    report_row,
)
from trace2skill.ui.words import GLOSSARY, format_words, signal_words, trajectory_table_row

PAGE_SIZE = 50
ws = workspace()
take_step_link()  # ?trajectory=…&step=… (from Provenance, Lessons, signal tables, search results)
st.session_state.setdefault("traj_upload_gen", 0)
st.session_state.setdefault("traj_reports", [])

st.title("Trajectories")
if "traj_flash" in st.session_state:
    st.success(st.session_state.pop("traj_flash"), icon=":material/check_circle:")

# ------------------------------------------------------------------ import
with st.expander("Import trajectory files", icon=":material/upload_file:",
                 expanded=count_trajectories(ws.db) == 0 or bool(st.session_state["traj_reports"])):
    st.caption("OpenAI chat, Anthropic messages, τ-bench results, SWE-agent .traj, OpenHands events, Claude Code "
               "sessions, ATIF, OpenTelemetry traces (GenAI or OpenInference spans) and OpenAI Agents SDK, "
               "Langfuse and LangSmith exports are detected "
               "automatically; anything else can be mapped field by field. "
               "Re-importing a trajectory adds nothing (ids are content hashes); one whose outcome the file now "
               "gives differently is relabelled. Each import is kept in the import history below, where it can "
               "be deleted.")
    files = st.file_uploader("Trajectory files (JSON, JSONL, or text logs read with a text mapping)",
                             type=["json", "jsonl", "ndjson", "traj", "log", "txt"], accept_multiple_files=True,
                             key=f"traj_upload_{st.session_state['traj_upload_gen']}")
    attributes = render_outcome_choice(ws, files) if files else {}
    if files:
        render_upload_previews(ws, files, attributes)
    split_new = st.checkbox(SPLIT_LABEL, key="traj_split_sessions", help=SPLIT_HELP)
    if st.button(f"Import {len(files or [])} file(s)", type="primary", disabled=not files, key="traj_import",
                 icon=":material/download:"):
        uploads = []
        with st.spinner("Importing…"):
            for f in files:
                upload = import_upload(ws, f.name, f.getvalue(), attributes.get(f.name), actor=ui_reviewer())
                if not upload.unrecognised and not upload.plain_text:
                    upload.data = b""  # only files waiting for a field or text mapping keep their bytes
                uploads.append(upload)
            if split_new:
                new_ids = [i for u in uploads for i in u.report.trajectory_ids]
                st.session_state["traj_flash"] = split_uploaded(ws, new_ids)
        st.session_state["traj_reports"] = uploads
        st.session_state["traj_upload_gen"] += 1  # clears the uploader
        forget_previews()
        forget_outcome_choice()
        st.rerun()

    uploads = st.session_state["traj_reports"]
    if uploads:
        n_imported = sum(u.report.imported for u in uploads)
        n_present = sum(u.report.duplicates for u in uploads)
        n_errors = sum(len(u.report.errors) for u in uploads)
        n_relabelled = sum(u.report.relabelled for u in uploads)
        n_waiting = sum(1 for u in uploads if u.waiting)
        summary = (f"Import report: {plural(n_imported, 'trajectory')} imported, {n_present} already present, "
                   f"{plural(n_errors, 'error')} in {plural(len(uploads), 'file')}."
                   + (f" {n_relabelled} already present now have the outcome the file gives (relabelled)."
                      if n_relabelled else "")
                   + (f" {plural(n_waiting, 'file')} {'waits' if n_waiting == 1 else 'wait'} for a mapping (below): "
                      f"nothing in {'it' if n_waiting == 1 else 'them'} is imported yet." if n_waiting else ""))
        if n_errors:
            st.warning(summary, icon=":material/warning:")
        elif n_waiting:
            st.info(summary, icon=":material/info:")
        else:
            st.success(summary, icon=":material/check_circle:")
        rows = [report_row(u) for u in uploads]
        for row in rows:  # in words, as the table of trajectories below names them
            row["format"] = format_words(row["format"])
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="traj_report_table")
        for u in uploads:
            if u.report.warnings:
                st.caption(f"Warnings for {safe_label(u.name)}")
                st.code("\n".join(u.report.warnings), language=None, wrap_lines=True)
            if u.report.errors:
                st.caption(f"Problems in {safe_label(u.name)}")
                st.code("\n".join(error_lines(u)), language=None, wrap_lines=True)
        if st.button("Clear report", key="traj_clear_report", icon=":material/close:"):
            st.session_state["traj_reports"] = []
            st.rerun()

    for n, u in enumerate(uploads):
        if u.plain_text:
            render_text_log_form(ws, uploads, n)
        if not u.unrecognised:
            continue
        record = first_record(u.data)
        with st.container(border=True):
            st.markdown(f"**Map the fields of {safe_label(u.name)}** (format not recognised)")
            left, right = st.columns(2)
            with left:
                st.caption("First record")
                st.code(preview(record), language="json")
                paths = record_paths(record)
                if paths:
                    st.caption("Fields found (dotted paths)")
                    st.code("\n".join(paths), language=None)
            with right:
                guess = guess_mapping(record)
                k = f"traj_map_{n}_"
                task = st.text_input("Task (required)", guess.get("task", ""), key=k + "task")
                steps = st.text_input("Steps: a list of messages or step objects", guess.get("steps", ""),
                                      key=k + "steps")
                transcript = st.text_input("…or transcript: one text field", guess.get("transcript", ""),
                                           key=k + "transcript")
                outcome = st.text_input("Outcome (true/false, success/failure, pass/fail…)", guess.get("outcome", ""),
                                        key=k + "outcome")
                reward = st.text_input("Reward (a number; ≥ threshold counts as success)", guess.get("reward", ""),
                                       key=k + "reward")
                threshold = st.number_input("Reward threshold", value=1.0, key=k + "threshold")
                truth = st.text_input("Ground truth", guess.get("ground_truth", ""), key=k + "truth")
                task_id = st.text_input("Task id", guess.get("task_id", ""), key=k + "task_id")
                model = st.text_input("Model", guess.get("model", ""), key=k + "model")
                with st.expander("Fields inside each step (when steps are not chat messages)"):
                    step_fields = {
                        "role": st.text_input("Role", "role", key=k + "sf_role"),
                        "text": st.text_input("Text", "text", key=k + "sf_text"),
                        "reasoning": st.text_input("Reasoning", "", key=k + "sf_reasoning"),
                        "tool": st.text_input("Tool name", "", key=k + "sf_tool"),
                        "arguments": st.text_input("Tool arguments", "", key=k + "sf_arguments"),
                        "observation": st.text_input("Observation", "", key=k + "sf_observation"),
                    }
                mapping = {"task": task, "steps": steps, "transcript": transcript, "outcome": outcome,
                           "reward": reward, "reward_threshold": threshold, "ground_truth": truth,
                           "task_id": task_id, "model": model,
                           "step_fields": {f: v for f, v in step_fields.items() if v}}
                render_mapping_preview(ws, u.name, u.data, mapping, k)
                if st.button("Import with this mapping", key=k + "import", type="primary", icon=":material/input:"):
                    try:
                        uploads[n] = import_with_mapping(ws, u.name, u.data, mapping, actor=ui_reviewer())
                    except MappingError as exc:
                        st.error(str(exc), icon=":material/error:")
                    else:
                        st.session_state["traj_reports"] = uploads
                        forget_previews()
                        st.rerun()

render_imports(ws)

# ------------------------------------------------------------------ table
f1, f2, f3, f4, f5 = st.columns([1, 1, 1, 1, 2])
outcome = f1.selectbox("Outcome", ["all", "success", "failure", "unknown"], key="traj_outcome")
source_format = f2.selectbox("Format", ["all", *distinct_values(ws.db, "trajectories", "source_format")],
                             key="traj_format", format_func=lambda v: v if v == "all" else format_words(v))
model = f3.selectbox("Model", ["all", *distinct_values(ws.db, "trajectories", "model")], key="traj_model")
signal = f4.selectbox("Signal", ["any", *distinct_values(ws.db, "signals", "kind")], key="traj_signal",
                      format_func=lambda v: v if v == "any" else signal_words(v))
search = f5.text_input("Search text (task, steps, tool output)", key="traj_search")
include_shared = f5.checkbox(SHARED_LABEL, key="traj_search_shared", help=SHARED_HELP)
sessions = session_filter(ws, f1)

flt = TrajectoryFilter(
    outcome=None if outcome == "all" else outcome,
    source_format=None if source_format == "all" else source_format,
    model=None if model == "all" else model,
    signal=None if signal == "any" else signal,
    search=search or None,
    include_shared=include_shared,
    extra_where=sessions,
)
total = count_trajectories(ws.db, flt)
pages = max(1, -(-total // PAGE_SIZE))
if st.session_state.get("traj_page", 1) > pages:
    st.session_state["traj_page"] = 1
c1, c2 = st.columns([1, 4], vertical_alignment="bottom")
page = c1.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="traj_page")
c2.caption(f"{plural(total, 'trajectory')} {'matches' if total == 1 else 'match'}")
render_split(ws, flt, total)
render_bulk_outcome(ws, flt, total)
render_outcome_rules(ws, flt, total)
rows = list_trajectories(ws.db, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
render_search_hits(ws, flt, rows, total, offset=(page - 1) * PAGE_SIZE)
table = pd.DataFrame([trajectory_table_row(r.model_dump()) for r in rows],
                     columns=["id", "outcome", "split", "source_format", "model", "task_id", "n_steps", "n_errors",
                              "signals", "task"])
places = session_words(ws, [r.id for r in rows])
if places is not None:  # once a session is split: which row is a session, which a task cut from one
    table.insert(2, "session", places)
event = st.dataframe(
    table, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="traj_table",
    column_config={"id": st.column_config.TextColumn("id", width="small"),
                   "split": st.column_config.TextColumn("used for", width="small", help=GLOSSARY["held_out"]),
                   "session": st.column_config.TextColumn("session", help=SESSION_COLUMN_HELP),
                   "source_format": st.column_config.TextColumn("format"),
                   "task_id": st.column_config.TextColumn("task id"),
                   "n_steps": st.column_config.NumberColumn("steps"),
                   "n_errors": st.column_config.NumberColumn("errors", help="Steps that report an error"),
                   "task": st.column_config.TextColumn("task", width="large")})

selected = event.selection.rows if event else []
ticked = [rows[i].id for i in selected if i < len(rows)]
render_send_to_extract(ws, flt, total, ticked)
typed = st.text_input("…or open a trajectory by id (a unique prefix is enough)", key="traj_open")
if ticked:
    chosen = row_to_open(ticked)
elif typed.strip():
    chosen = typed.strip()
else:
    chosen = None
chosen = follow_link(chosen)
if chosen:
    st.divider()
    render_trajectory(ws, chosen)
else:
    st.caption("Select a row to read the trajectory step by step.")
