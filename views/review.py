"""Review & diff: a proposal against its base (or any two versions), file by file. A proposal is a
draft until someone saves it: each hunk is accepted, rejected or left undecided (it then stays as
proposed), the result can be edited by hand, and Save makes the result the skill's current version —
the proposal itself when it is accepted in full as it is, else a new version whose reworded lines
keep the provenance of the lines they replaced. Unified and side-by-side views show the result
against the base, with a rendered preview, lint and spec findings beside each file, and the edit
budget; saving a result with markup, cut-off or repeated text, or any error, asks for an explicit
confirmation recorded with the save. Reviewers discuss each hunk and the whole proposal in comment
threads, approve the result, and a workspace with two-person approval refuses the save until two of
them did. Then export."""

from functools import partial

import pandas as pd
import streamlit as st

from trace2skill.comments import open_threads
from trace2skill.diff import accept_file_hunks, diff_files, unified_diff
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import ago, plural
from trace2skill.skill import SkillFolder, export_dir, has_errors, lint_skill, to_zip, validate_skill
from trace2skill.skill_review import count_decisions, kept_hunks
from trace2skill.store.skills import folder_of, get_version, list_proposals, list_skills, list_versions
from trace2skill.store.verifications import verified_ids
from trace2skill.store.version_states import current_version_id, version_states
from trace2skill.ui.approval_view import hunk_open_counts, render_hunk_comments
from trace2skill.ui.diff_view import (
    added_new_lines,
    hunk_support,
    line_support,
    run_trajectory_texts,
    support_spread,
)
from trace2skill.ui.escape import safe_label
from trace2skill.ui.evaluation_view import render_evaluation
from trace2skill.ui.live_select import live_selectbox
from trace2skill.ui.pickers import version_labels
from trace2skill.ui.proposal_checks import proposal_counters, render_edit_budget
from trace2skill.ui.review_draft import draft_items, keep_draft, keeps_drafts, restore_draft, saved
from trace2skill.ui.review_draft import hunk_key as draft_hunk_key
from trace2skill.ui.review_draft import text_key as draft_text_key
from trace2skill.ui.review_panels import (
    render_counts,
    render_hand_edits,
    render_history,
    render_hunk,
    render_preview,
    render_state,
    render_support_chart,
)
from trace2skill.ui.review_save import render_save
from trace2skill.ui.review_view import REVIEW_CSS, result_support, side_by_side_html
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.state import workspace

MODES = ["Proposal vs its base", "Any two versions"]
FINDING_COLUMNS = ["severity", "code", "line", "message"]
ws = workspace()

st.title("Review & diff")
st.html(REVIEW_CSS)
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
    state_of = {s.id: s.label for name in {r.skill for r in rows} for s in version_states(ws.db, name)}
    talk = open_threads(ws.db, "proposal", [r.id for r in rows])
    labels = {r.id: f"{r.skill} · {r.id[:12]} · {state_of.get(r.id, r.source)} · {ago(r.created)}"
              + (f" · run {r.run_id}" if r.run_id else "")
              + (f" · {talk[r.id]} open thread{'s' if talk[r.id] > 1 else ''}" if r.id in talk else "") for r in rows}
    wanted = st.session_state.get("rev_version")
    if wanted and wanted not in labels:
        try:
            extra = get_version(ws.db, wanted)
            labels = {extra.id: f"{extra.skill} · {extra.id[:12]} · {ago(extra.created)}", **labels}
        except Trace2SkillError:
            st.session_state.pop("rev_version")
    if not labels:
        st.info("No proposals yet: run a consolidation, or compare any two versions.", icon=":material/info:")
        st.stop()
    new_id = live_selectbox("Proposal (newest first)", labels, key="rev_version")
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
states = version_states(ws.db, skill)
current = current_version_id(ws.db, skill)
old_files, new_files = old.files, new.files
diffs = diff_files(old_files, new_files)
render_state(new, states, current)
st.caption(f"Skill {safe_label(skill)}: {old.id[:12]} ({old.source}) → {new.id[:12]} ({new.source}) · "
           f"{len(diffs)} changed file(s) · a changed result is saved as a child of {new.id[:12]}")
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
    return draft_hunk_key(pair, path, k)


def text_key(path: str, text: str) -> str:
    return draft_text_key(pair, path, text)


# The result: every hunk not rejected, then the hand edits (read before the widgets are drawn), from
# this session or, on a first visit, from the reviewer's draft (kept until they save).
me = ui_reviewer()
restored = restore_draft(ws, old.id, new.id, me, pair)
decisions = {fd.path: {h.index: st.session_state.get(hunk_key(fd.path, h.index)) for h in fd.hunks} for fd in diffs}
merged = accept_file_hunks(old_files, new_files, {p: kept_hunks(d) for p, d in decisions.items()})
edited = {p: v for p in merged if isinstance(v := st.session_state.get(text_key(p, merged[p])), str) and v != merged[p]}
final = {**merged, **edited}
draft = draft_items(decisions, merged, edited)
keep_draft(ws, old.id, new.id, me, pair, draft)
if restored:
    st.info(f"Your {plural(restored, 'decision')} from earlier on this comparison {'is' if restored == 1 else 'are'} "
            "back (hunks decided, files edited by hand): they are kept as a draft until you save.",
            icon=":material/history:")
elif not keeps_drafts(me):
    st.caption("Give your name in the sidebar to keep your decisions as a draft until you save: without it they "
               "last only as long as this page, since everyone unnamed would share one draft.")


def set_all(value: str | None, locked: set[str]) -> None:
    for fd in diffs:
        if fd.path not in locked:  # a file edited by hand keeps its decisions
            for h in fd.hunks:
                st.session_state[hunk_key(fd.path, h.index)] = value


bar = st.container(horizontal=True, vertical_alignment="center")
for label, value, icon in (("Accept all", "accept", ":material/done_all:"), ("Reject all", "reject",
                                                                              ":material/remove_done:"),
                           ("Clear decisions", None, ":material/restart_alt:")):
    bar.button(label, key=f"rev_{label.split()[0].lower()}_all", on_click=set_all, args=(value, set(edited)),
               icon=icon)
use_texts = bar.toggle("Check copied values against the run's trajectories", value=True, key="rev_lint_runs",
                       disabled=not new.run_id)
counts = count_decisions(d for per in decisions.values() for d in per.values())
render_counts(counts)
supports = {}  # per file: each added line's support, and each hunk's
for fd in diffs:
    support = line_support(ws.db, new.id, fd.path, added_new_lines(fd))
    supports[fd.path] = support, hunk_support(fd.hunks, support,
                                              verified_ids(ws.db, {x for s in support.values() for x in s.lessons}))
render_support_chart(support_spread(hs for _, per_hunk in supports.values() for hs in per_hunk))

# ------------------------------------------------------------------ per file
slots = {}
hunk_talk = hunk_open_counts(ws, old.id, new.id)
for n, fd in enumerate(diffs):
    support, per_hunk = supports[fd.path]
    result = final.get(fd.path)
    with st.container(border=True):
        st.subheader(f"{safe_label(fd.path, 120)} · {fd.status}", divider="gray")
        left, right = st.columns([3, 2])
        with left:
            t_hunks, t_unified, t_side = st.tabs(["Hunks", "Unified", "Side by side"])
            with t_hunks:
                if fd.path in edited:
                    render_hand_edits(fd.path, merged[fd.path], edited[fd.path], key=f"rev_discard:{pair}:{fd.path}",
                                      discard=partial(st.session_state.pop, text_key(fd.path, merged[fd.path]), None))
                for h, hs in zip(fd.hunks, per_hunk):
                    render_hunk(h, hs, len(fd.hunks), decisions[fd.path][h.index], hunk_key(fd.path, h.index),
                                f"{n}-{h.index}", locked=fd.path in edited)
                    render_hunk_comments(ws, old.id, new.id, fd.path, h.index, hunk_talk, me)
            with t_unified:
                st.caption(f"The result as it will be saved, against {old.id[:12]}: rejected hunks left out, your "
                           "edits in.")
                st.code(unified_diff(fd.old_text, result or "", old_name="/dev/null" if fd.status == "added"
                                     else f"a/{fd.path}", new_name="/dev/null" if result is None else f"b/{fd.path}")
                        or "(no differences: the result keeps this file as it was)", language="diff", wrap_lines=True)
            with t_side:
                notes = result_support((old.id, fd.old_text), (new.id, fd.new_text), merged.get(fd.path, ""),
                                       result or "", support)
                st.html(side_by_side_html(fd.old_text, result or "", notes, old_title=f"{old.id[:12]} ({old.source})",
                                          new_title="result"))
            if fd.path in merged:
                with st.expander("Resulting text (edit before saving)", icon=":material/edit:",
                                 expanded=fd.path in edited, key=f"rev_edit:{pair}:{fd.path}"):
                    st.text_area(f"{safe_label(fd.path, 120)} as it will be saved", merged[fd.path], height=360,
                                 key=text_key(fd.path, merged[fd.path]))
            else:
                st.caption("This file will not be in the saved version.")
        with right:
            render_preview(fd.path, result, key=f"rev_preview-{n}")
            slots[fd.path] = st.container()

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
render_save(ws, new, old, merged, final, counts, edited, lint, validation, pair,
            on_saved=partial(saved, ws, old.id, new.id, me, pair, draft))

with st.expander(f"History of {safe_label(skill)}", icon=":material/history:"):
    render_history(ws.db, skill, current)

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
