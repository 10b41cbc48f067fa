"""Review & diff: a proposal against its base (or any two versions), per file: hunks to accept or
reject, unified and side-by-side views, how many trajectories support each change, lint and spec
findings beside the file, the resulting text editable; then save a new version or export. The
proposal's edit budget (and what went over it) is shown with it; saving a result with markup, cut-off
or repeated text, or any error, asks for an explicit confirmation recorded with the save."""

import pandas as pd
import streamlit as st

from trace2skill.diff import accept_file_hunks, diff_files
from trace2skill.errors import Trace2SkillError
from trace2skill.models import content_hash
from trace2skill.skill import SkillFolder, export_dir, has_errors, lint_skill, to_zip, validate_skill
from trace2skill.store.skills import folder_of, get_version, list_proposals, list_skills, list_versions, save_version
from trace2skill.store.verifications import verified_ids
from trace2skill.ui.diff_view import (
    added_new_lines,
    hunk_support,
    hunk_text,
    line_support,
    run_trajectory_texts,
    side_by_side_frame,
    style_rows,
)
from trace2skill.ui.escape import safe_label
from trace2skill.ui.evaluation_view import render_evaluation, save_refused
from trace2skill.ui.pickers import version_labels
from trace2skill.ui.proposal_checks import confirm_findings, proposal_counters, render_edit_budget
from trace2skill.ui.state import workspace

MODES = ["Proposal vs its base", "Any two versions"]
FINDING_COLUMNS = ["severity", "code", "line", "message"]
STATUS_ICON = {"added": ":material/note_add:", "removed": ":material/delete:", "changed": ":material/edit_document:"}
ws = workspace()

st.title("Review & diff")
for kind in ("success", "info"):
    if f"rev_flash_{kind}" in st.session_state:
        getattr(st, kind)(st.session_state.pop(f"rev_flash_{kind}"), icon=":material/check_circle:")
goto = st.session_state.pop("rev_goto", None)
if goto:
    st.session_state["rev_mode"] = MODES[0]
    st.session_state["rev_version"] = goto
st.session_state.setdefault("rev_mode", MODES[0])
mode = st.segmented_control("Compare", MODES, required=True, key="rev_mode")

# ------------------------------------------------------------------ choose what to compare
if mode == MODES[0]:
    rows = list_proposals(ws.db)
    labels = {r.id: f"{r.skill} · {r.id[:12]} · {r.created}" + (f" · run {r.run_id}" if r.run_id else "")
              for r in rows}
    wanted = st.session_state.get("rev_version")
    if wanted and wanted not in labels:
        try:
            extra = get_version(ws.db, wanted)
            labels = {extra.id: f"{extra.skill} · {extra.id[:12]} · {extra.created}", **labels}
        except Trace2SkillError:
            st.session_state.pop("rev_version")
    if not labels:
        st.info("No proposals yet: run a consolidation, or compare any two versions.", icon=":material/info:")
        st.stop()
    new_id = st.selectbox("Proposal (newest first)", list(labels), format_func=labels.get, key="rev_version")
    new = get_version(ws.db, new_id)
    if not new.parent:
        st.info("This version has no parent to compare with.", icon=":material/info:")
        st.stop()
    old = get_version(ws.db, new.parent)
else:
    skills = [s["name"] for s in list_skills(ws.db)]
    if not skills:
        st.info("No skills yet.", icon=":material/info:")
        st.stop()
    skill_name = st.selectbox("Skill", skills, key="rev_skill")
    versions = list_versions(ws.db, skill_name)
    vlabels = version_labels(versions, latest=versions[0].id)
    c1, c2 = st.columns(2)
    old_id = c1.selectbox("Old version", list(vlabels), index=min(1, len(vlabels) - 1), format_func=vlabels.get,
                          key="rev_old")
    new_id = c2.selectbox("New version", list(vlabels), format_func=vlabels.get, key="rev_new")
    old, new = get_version(ws.db, old_id), get_version(ws.db, new_id)

skill = new.skill
old_files, new_files = old.files, new.files
diffs = diff_files(old_files, new_files)
st.caption(f"Skill {safe_label(skill)}: {old.id[:12]} ({old.source}) → {new.id[:12]} ({new.source}) · "
           f"{len(diffs)} changed file(s) · a save becomes a child of {new.id[:12]}")
render_edit_budget(proposal_counters(ws.db, new), key="rev_budget")
if not diffs:
    st.info("The two versions are identical.", icon=":material/info:")
    st.stop()

pair = f"{old.id}:{new.id}"


@st.cache_data(max_entries=8, show_spinner=False)
def run_texts(db_path: str, run_id: str) -> dict[str, str]:
    """The texts of a run's trajectories (they never change), for lint's copied-value check."""
    return run_trajectory_texts(ws.db, run_id)


def hunk_key(path: str, k: int) -> str:
    return f"rev_h:{pair}:{path}:{k}"


def set_all(value: bool) -> None:
    for fd in diffs:
        for h in fd.hunks:
            st.session_state[hunk_key(fd.path, h.index)] = value


bar = st.container(horizontal=True, vertical_alignment="center")
bar.button("Accept all", key="rev_accept_all", on_click=set_all, args=(True,), icon=":material/done_all:")
bar.button("Reject all", key="rev_reject_all", on_click=set_all, args=(False,), icon=":material/remove_done:")
use_texts = bar.toggle("Check copied values against the run's trajectories", value=True, key="rev_lint_runs",
                       disabled=not new.run_id)

# ------------------------------------------------------------------ per file
accepted: dict[str, list[int]] = {}
edited: dict[str, str] = {}
slots = {}
for fd in diffs:
    support = line_support(ws.db, new.id, fd.path, added_new_lines(fd))
    per_hunk = hunk_support(fd.hunks, support, verified_ids(ws.db, {x for s in support.values() for x in s.lessons}))
    with st.container(border=True):
        st.subheader(f"{safe_label(fd.path, 120)} · {fd.status}", divider="gray")
        left, right = st.columns([3, 2])
        with left:
            t_hunks, t_unified, t_side = st.tabs(["Hunks", "Unified", "Side by side"])
            with t_hunks:
                for h, hs in zip(fd.hunks, per_hunk):
                    key = hunk_key(fd.path, h.index)
                    st.session_state.setdefault(key, True)
                    row = st.container(horizontal=True, vertical_alignment="center")
                    row.checkbox(f"Accept hunk {h.index + 1} of {len(fd.hunks)}", key=key)
                    if hs.lines:
                        row.badge(f"supported by {hs.count} trajector{'y' if hs.count == 1 else 'ies'}",
                                  icon=":material/groups:", color="green" if hs.count > 1 else "orange")
                        row.badge(f"{hs.verified} of {len(hs.lessons)} lessons verified by replay",
                                  icon=":material/replay:", color="green" if hs.verified else "gray")
                        row.caption(f"{len(hs.edits)} edit(s): {', '.join(e[:10] for e in hs.edits)}")
                    elif not any(line.tag == "+" for line in h.lines):
                        row.caption("removes lines only: nothing new to trace (see the merge tree for the edit)")
                    else:
                        row.caption("no consolidation edit behind these lines (base or manual text)")
                    st.code(hunk_text(h), language="diff", wrap_lines=True)
            with t_unified:
                st.code(fd.unified(), language="diff", wrap_lines=True)
            with t_side:
                frame = side_by_side_frame(fd, support)
                st.dataframe(style_rows(frame), hide_index=True, width="stretch", key=f"rev_sbs:{pair}:{fd.path}",
                             column_config={"old": st.column_config.TextColumn("old", width="large"),
                                            "new": st.column_config.TextColumn("new", width="large"),
                                            "support": st.column_config.NumberColumn(
                                                "support", help="Distinct trajectories behind the edit that wrote "
                                                                "the line")})
        slots[fd.path] = right.container()
        accepted[fd.path] = [h.index for h in fd.hunks if st.session_state.get(hunk_key(fd.path, h.index), True)]
        merged = accept_file_hunks(old_files, new_files, {fd.path: accepted[fd.path]})
        if fd.path in merged:
            with st.expander("Resulting text (edit before saving)", icon=":material/edit:"):
                digest = content_hash(merged[fd.path])[:10]  # a new text area when the accepted hunks change
                edited[fd.path] = st.text_area(f"{safe_label(fd.path, 120)} as it will be saved", merged[fd.path],
                                               height=360, key=f"rev_text:{pair}:{fd.path}:{digest}")
        else:
            st.caption("This file will not be in the saved version.")

final = accept_file_hunks(old_files, new_files, accepted)
final.update({p: t for p, t in edited.items() if p in final})
try:
    folder = SkillFolder.from_files(final)
    folder.set_modes(new.modes)  # executable scripts stay executable in the export
except Trace2SkillError as exc:
    st.error("The result is not a readable skill", icon=":material/error:")
    st.code(str(exc), language=None, wrap_lines=True)
    st.stop()
texts = run_texts(str(ws.path), new.run_id) if use_texts and new.run_id else None
lint = lint_skill(folder, folder_of(old), trajectory_texts=texts)
validation = validate_skill(folder, strict=True, dirname=skill)
findings = [{"severity": f.severity, "code": f.code, "line": f.line, "message": f.message, "file": f.file,
             "check": check} for check, group in (("lint", lint), ("spec", validation)) for f in group]


def show_findings(rows: list[dict], key: str) -> None:
    errors = sum(r["severity"] == "error" for r in rows)
    if not rows:
        st.badge("lint and spec: no findings", icon=":material/verified:", color="green")
        return
    st.badge(f"{len(rows)} finding(s), {errors} error(s)", icon=":material/rule:", color="red" if errors else "orange")
    st.dataframe(pd.DataFrame(rows, columns=["check", *FINDING_COLUMNS]), hide_index=True, width="stretch", key=key,
                 column_config={"message": st.column_config.TextColumn("message", width="large")})


for n, (path, slot) in enumerate(slots.items()):
    with slot:
        st.caption("Lint and spec validation of the result")
        show_findings([f for f in findings if f["file"] == path], key=f"rev_findings_{n}")
others = [f for f in findings if f["file"] not in slots]
if others:
    st.caption("Findings in files without changes")
    st.dataframe(pd.DataFrame(others, columns=["file", "check", *FINDING_COLUMNS]), hide_index=True, width="stretch",
                 key="rev_findings_other")

# ------------------------------------------------------------------ held-out evaluation and save
render_evaluation(ws, new.id, old.id)
st.subheader("Save")
total = sum(len(fd.hunks) for fd in diffs)
kept = sum(len(v) for v in accepted.values())
hand = sum(1 for p, t in edited.items() if t != accept_file_hunks(old_files, new_files, accepted).get(p))
st.caption(f"{kept} of {total} hunks accepted" + (f"; {hand} file(s) edited by hand" if hand else "")
           + f". The new version's parent is {new.id[:12]}.")
message = st.text_input("Message", key="rev_message", placeholder=f"review of {new.id[:12]}")
st.toggle("Refuse to save when the held-out score regresses", key="rev_gate",
          help=f"Uses the latest complete A/B result of {new.id[:12]} against {old.id[:12]}.")
refused = save_refused(ws, new.id, old.id)
if refused:
    st.error(f"Saving is refused by the gate: {refused}", icon=":material/block:")
may_save, confirmed = confirm_findings([*lint, *validation], {id(f): "spec" for f in validation},
                                       key=f"rev_confirm:{pair}")
if st.button("Save as new version", type="primary", key="rev_save", icon=":material/save:",
             disabled=bool(refused) or not may_save):
    vid = save_version(ws.db, skill, final, source="manual", parent=new.id, confirmed=confirmed,
                       message=message.strip() or f"review of {new.id[:12]}: {kept} of {total} hunks accepted")
    if vid == new.id:
        st.session_state["rev_flash_info"] = "The result equals the version under review: nothing new to save."
    else:
        st.session_state["rev_flash_success"] = f"Saved version {vid} of {safe_label(skill)} (parent {new.id[:12]})."
    st.rerun()

with st.expander(f"History of {safe_label(skill)}", icon=":material/history:"):
    history = list_versions(ws.db, skill)
    st.dataframe(pd.DataFrame([v.model_dump() for v in history],
                              columns=["id", "source", "parent", "run_id", "message", "created"]),
                 hide_index=True, width="stretch", key="rev_history")

# ------------------------------------------------------------------ export
st.subheader("Export")
st.caption("Exports the result shown above (saved or not); refused only while it breaks the Agent Skills spec "
           "(what the reference validator refuses). Lint warnings never block an export.")
blocked = has_errors(validation)
if blocked:
    st.error("The result breaks the Agent Skills spec: fix it (edit the text above) before exporting.",
             icon=":material/block:")
    show_findings([f for f in findings if f["check"] == "spec" and f["severity"] == "error"], key="rev_export_errors")
c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
c1.download_button("Download zip", data=b"" if blocked else to_zip(folder, dirname=skill), file_name=f"{skill}.zip",
                   mime="application/zip", disabled=blocked, key="rev_download", icon=":material/download:")
target = c2.text_input("Export to folder: the skill is written to <folder>/<name>/", key="rev_export_path")
overwrite = c3.checkbox("Overwrite", key="rev_export_overwrite")
if st.button("Export to folder", key="rev_export", disabled=not target.strip(), icon=":material/folder_open:"):
    if blocked:
        st.error("Export refused: the result breaks the Agent Skills spec.", icon=":material/block:")
    else:
        try:
            written = export_dir(folder, target.strip(), overwrite=overwrite)
        except (Trace2SkillError, OSError) as exc:
            st.error("Export failed", icon=":material/error:")
            st.code(str(exc), language=None, wrap_lines=True)
        else:
            st.success("Exported the skill folder:", icon=":material/check_circle:")
            st.code(str(written), language=None)
