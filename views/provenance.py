"""Provenance: pick a skill version and a file, click a line, and see where it came from — who
reworded it (a reviewer's rewording keeps the provenance of the line it replaced), the edit that
wrote it, the merge path down to the proposers, the supporting lessons and the trajectory steps they
quote (the quote marked inside the escaped step text); and the lines this version removed."""

import pandas as pd
import streamlit as st

from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.provenance import blame, deleted_lines
from trace2skill.store.skills import get_version, list_skills, list_versions, version_skill
from trace2skill.ui.escape import STYLE, safe_label
from trace2skill.ui.pickers import version_labels
from trace2skill.ui.provenance_view import deleted_frame, lines_frame, located_steps, reviewer
from trace2skill.ui.state import workspace
from trace2skill.ui.step_links import StepLink, follow_pending, step_button

MAX_STEPS = 30
ORIGIN_BADGE = {"edit": ("from a consolidation edit", ":material/merge:", "green"),
                "base": ("base text (imported or kept from the base)", ":material/description:", "blue"),
                "manual": ("written by hand", ":material/edit:", "orange")}
ws = workspace()

st.title("Provenance")
goto = st.session_state.pop("prov_goto", None)  # {"version": id, "file": path, "line": n} from another page
if goto:
    st.session_state["prov_skill"] = version_skill(ws.db, goto["version"])
    st.session_state["prov_version"] = goto["version"]
skills = [s["name"] for s in list_skills(ws.db)]
if not skills:
    st.info("No skills yet: import one on the Skills page.", icon=":material/info:")
    st.stop()
c1, c2, c3 = st.columns([1, 2, 1])
skill = c1.selectbox("Skill", skills, key="prov_skill")
versions = list_versions(ws.db, skill)
labels = version_labels(versions, latest=versions[0].id)
if st.session_state.get("prov_version") not in labels:
    st.session_state["prov_version"] = versions[0].id
version_id = c2.selectbox("Version (newest first)", list(labels), format_func=labels.get, key="prov_version")
version = get_version(ws.db, version_id)
files = list(version.files)
if goto and goto.get("file") in files:
    st.session_state["prov_file"] = goto["file"]
file = c3.selectbox("File", files, key="prov_file")

table = lines_frame(ws.db, version_id, file)
if table.empty:
    st.info("This file is empty.", icon=":material/info:")
    st.stop()
scope = (version_id, file)
if st.session_state.get("prov_scope") != scope:  # a new file: start on its first line from an edit
    st.session_state["prov_scope"] = scope
    written = table[(table["origin"] == "edit") & (table["text"].str.strip() != "")]
    st.session_state["prov_line"] = int(written["line"].iloc[0]) if len(written) else 1
if goto and goto.get("line"):
    st.session_state["prov_line"] = int(goto["line"])
counts = table["origin"].value_counts().to_dict()
reworded = int((table["reworded"] != "").sum())
st.caption(f"{len(table)} lines: {counts.get('edit', 0)} from consolidation edits, {counts.get('base', 0)} base text, "
           f"{counts.get('manual', 0)} written by hand" + (f"; {reworded} reworded by a reviewer" if reworded else "")
           + ". Click a row (or type a line number) to trace it.")
removed = deleted_frame(deleted_lines(ws.db, version_id, file))
if len(removed):
    with st.expander(f"{len(removed)} line(s) of the parent removed in this version", icon=":material/delete:",
                     key="prov_removed_box"):
        st.caption("Each removed line keeps its record: what removed it, who, and where the line came from.")
        st.dataframe(removed, hide_index=True, width="stretch", key="prov_removed",
                     column_config={"text": st.column_config.TextColumn("text", width="large")})
only_edits = st.toggle("Only lines from edits", key="prov_only_edits")
shown = table[table["origin"] == "edit"] if only_edits else table
shown_lines = [int(n) for n in shown["line"]]


def pick_row(lines: list[int]) -> None:
    rows = st.session_state["prov_table"].selection.rows
    if rows and rows[0] < len(lines):
        st.session_state["prov_line"] = lines[rows[0]]


current = st.session_state.get("prov_line", 1)
styled = shown.style.apply(lambda row: ["background-color: #fff3bf" if row["line"] == current else ""] * len(row),
                           axis=1)
left, right = st.columns([1, 1])
with left:
    line = st.number_input("Line", min_value=1, max_value=len(table), key="prov_line")
    st.dataframe(styled, hide_index=True, width="stretch", height=520, key="prov_table", selection_mode="single-row",
                 on_select=lambda: pick_row(shown_lines),
                 column_config={"line": st.column_config.NumberColumn("line", width="small"),
                                "origin": st.column_config.TextColumn("origin", width="small"),
                                "support": st.column_config.TextColumn(
                                    "support", width="small", help="Distinct trajectories behind the edit"),
                                "reworded": st.column_config.TextColumn(
                                    "reworded", width="small", help="Who reworded the line (its provenance is kept)"),
                                "text": st.column_config.TextColumn("text", width="large")})

with right:
    try:
        found = blame(ws.db, version_id, file, int(line))
    except Trace2SkillError as exc:
        st.error("Cannot trace this line", icon=":material/error:")
        st.code(str(exc), language=None)
        st.stop()
    origin = found["origin"]
    st.subheader(f"Line {int(line)}")
    st.code(found["text"] or " ", language=None, wrap_lines=True)
    text, icon, color = ORIGIN_BADGE[origin["kind"]]
    badges = st.container(horizontal=True)
    for r in found["rewords"]:
        badges.badge(f"reworded by {safe_label(reviewer(r['by']))}", icon=":material/edit_note:", color="violet")
    badges.badge(text, icon=icon, color=color)
    for r in found["rewords"]:
        st.caption(f"Reworded by {safe_label(reviewer(r['by']))} in version {r['version'][:12]}; it replaced line "
                   f"{r['replaced_line'] + 1} of version {r['replaced_version'][:12]}, which read:")
        st.code(r["replaced"] or " ", language=None, wrap_lines=True)
    if origin["kind"] == "edit":
        behind = [plural(len(found.get("trajectories", [])), "trajectory"), plural(len(found["lessons"]), "lesson")]
        badges.badge(" · ".join(behind),
                     icon=":material/groups:", color="violet")
        st.caption(f"Edit {origin['edit_id']} of consolidation run {origin['run_id']}, applied in version "
                   f"{origin['version'][:12]}.")
    else:
        st.caption(f"From version {origin['version'][:12]}, line {origin['line'] + 1}.")

if origin["kind"] != "edit":
    st.stop()

st.subheader("Merge path")
st.caption("From the root patch's edit down to the proposer edits it derives from (level 0 = one trajectory's patch).")
path = pd.DataFrame(found["merge_path"], columns=["level", "op", "section", "content", "rationale", "edit_id"])
st.dataframe(path, hide_index=True, width="stretch", key="prov_path",
             column_config={"content": st.column_config.TextColumn("content", width="large"),
                            "rationale": st.column_config.TextColumn("rationale", width="medium")})

st.subheader("Supporting lessons")
lessons = pd.DataFrame(found["lessons"], columns=["title", "kind", "status", "trajectory_id", "content", "id"])
st.dataframe(lessons, hide_index=True, width="stretch", key="prov_lessons",
             column_config={"content": st.column_config.TextColumn("content", width="large")})

st.subheader("Quoted trajectory steps")
steps = located_steps(found["steps"][:MAX_STEPS])
if len(found["steps"]) > MAX_STEPS:
    st.caption(f"Showing {MAX_STEPS} of {len(found['steps'])} quoted steps.")
if not steps:
    st.caption("The supporting lessons quote no steps.")
st.html(STYLE)


for n, s in enumerate(steps):
    with st.container(border=True):
        head = st.container(horizontal=True, vertical_alignment="center")
        head.text(f"Trajectory {s['trajectory_id']} · step {s['step_idx']} · {s['role'] or 'missing step'}")
        if s["grounded"] is True:
            head.badge("grounded", icon=":material/verified:", color="green")
        elif s["grounded"] is False:
            head.badge("ungrounded", icon=":material/report:", color="red")
        else:
            head.badge("not checked", icon=":material/help:", color="gray")
        if s["match"] is None and s["role"] is not None:
            head.badge("quote not found in the step", icon=":material/search_off:", color="orange")
        step_button(head, StepLink(s["trajectory_id"], s["step_idx"], s.get("lesson_id"), s.get("quote_no")),
                    f"Open step {s['step_idx']}", key=f"prov_open_{n}")
        st.html(s["html"])
follow_pending()
