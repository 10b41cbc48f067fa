"""Trajectories: a filterable table (paginated in SQL) and a plain step viewer."""

import json

import pandas as pd
import streamlit as st

from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories, get_trajectory, list_trajectories
from trace2skill.ui.state import workspace

PAGE_SIZE = 50
ws = workspace()

st.title("Trajectories")
f1, f2, f3, f4 = st.columns(4)
outcome = f1.selectbox("Outcome", ["all", "success", "failure", "unknown"], key="traj_outcome")
formats = ["all", *[r[0] for r in ws.db.execute("SELECT DISTINCT source_format FROM trajectories ORDER BY 1")]]
source_format = f2.selectbox("Format", formats, key="traj_format")
signals = ["any", *[r[0] for r in ws.db.execute("SELECT DISTINCT kind FROM signals ORDER BY 1")]]
signal = f3.selectbox("Signal", signals, key="traj_signal")
search = f4.text_input("Search text", key="traj_search")

flt = TrajectoryFilter(
    outcome=None if outcome == "all" else outcome,
    source_format=None if source_format == "all" else source_format,
    signal=None if signal == "any" else signal,
    search=search or None,
)
total = count_trajectories(ws.db, flt)
pages = max(1, -(-total // PAGE_SIZE))
page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="traj_page")
rows = list_trajectories(ws.db, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
st.caption(f"{total} trajectories match")
table = pd.DataFrame(rows, columns=["id", "outcome", "source_format", "task_id", "n_steps", "n_errors",
                                    "signals", "task"])
event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                     selection_mode="single-row", key="traj_table")

selected = event.selection.rows if event else []
if selected:
    t = get_trajectory(ws.db, rows[selected[0]]["id"])
    st.subheader(f"Trajectory {t['id']}")
    st.text(f"{t['outcome']} · {t['source_format']} · {t['source_name']}")
    st.text(t["task"])
    for s in t["signals"]:
        st.warning(f"{s['kind']} at step {s['step_idx']}: {s['detail']}", icon="⚠️")
    for step in t["steps"]:
        label = f"[{step['idx']}] {step['role']}" + (" — error" if step["is_error"] else "")
        with st.expander(label, expanded=step["role"] != "system"):
            if step["text"]:
                st.text(step["text"])
            for call in step["tool_calls"]:
                st.code(f"{call['name']}({json.dumps(call['arguments'], ensure_ascii=False)})", language=None)
            for result in step["tool_results"]:
                st.code(result["content"][:4000] or "(empty)", language=None)
