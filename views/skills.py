"""Skills: import a human-written skill (zip, folder files or a markdown document; lenient, with its
warnings shown), list skills, read any version's files (rendered or raw), its history, diff any two
versions, lock sections."""

from dataclasses import asdict

import pandas as pd
import streamlit as st

from trace2skill.diff import diff_files
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.skill import parse_sections, to_zip
from trace2skill.skill_git import export_to_git
from trace2skill.store.skills import (
    folder_of,
    get_version,
    latest_version,
    list_skills,
    list_versions,
    locked_sections,
    set_locked_sections,
)
from trace2skill.store.version_states import current_version_id
from trace2skill.ui.escape import safe_label
from trace2skill.ui.pickers import version_labels
from trace2skill.ui.review_panels import render_history
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.skill_text import render_skill_text
from trace2skill.ui.skill_upload import folder_from_files, folder_from_markdown, folder_from_zip, import_folder
from trace2skill.ui.state import workspace
from trace2skill.ui.words import library_row, time_column

SOURCES = ["Zip", "Folder files", "Markdown document"]
ws = workspace()

st.title("Skills")
if "sk_flash" in st.session_state:
    st.success(st.session_state.pop("sk_flash"), icon=":material/check_circle:")
st.session_state.setdefault("sk_upload_gen", 0)
gen = st.session_state["sk_upload_gen"]
skills = list_skills(ws.db)
report = st.session_state.get("sk_report")

# ------------------------------------------------------------------ import
with st.expander("Import a human-written skill", icon=":material/upload_file:", expanded=not skills or bool(report)):
    st.caption("Lenient: spec breaches and departures from our conventions (a flat layout, for one) are reported "
               "as warnings and the skill is stored anyway; unsafe paths, "
               "zip bombs and binary files are refused or skipped. Importing a skill that exists adds a version.")
    source = st.segmented_control("From", SOURCES, default=SOURCES[0], required=True, key="sk_source")
    uploads: list[tuple[str, bytes]] = []
    name = description = text = ""
    if source == "Zip":
        up = st.file_uploader("Skill folder as a .zip", type=["zip"], key=f"sk_zip_{gen}")
        uploads = [(up.name, up.getvalue())] if up else []
        name = st.text_input("Skill name (optional: else SKILL.md's name, else the zip's name)", key="sk_zip_name")
    elif source == "Folder files":
        whole = st.toggle("Pick a whole folder", key="sk_folder_mode",
                          help="Keeps the folder structure; otherwise pick SKILL.md and its files and they are "
                               "placed by type (references/, scripts/, assets/).")
        ups = st.file_uploader("SKILL.md and its files", accept_multiple_files="directory" if whole else True,
                               key=f"sk_files_{gen}_{int(whole)}")
        uploads = [(u.name, u.getvalue()) for u in ups or []]
        name = st.text_input("Skill name (optional: else SKILL.md's name)", key="sk_files_name")
    else:
        c1, c2 = st.columns([1, 2])
        name = c1.text_input("Skill name (lowercase, hyphens)", key="sk_md_name")
        description = c2.text_input("Description: what it does and when to use it", key="sk_md_description")
        up = st.file_uploader("Markdown document", type=["md", "markdown", "txt"], key=f"sk_md_{gen}")
        text = up.getvalue().decode("utf-8", errors="replace") if up else st.text_area(
            "…or paste the document", height=160, key="sk_md_text")
    ready = bool(uploads) if source != SOURCES[2] else bool(text.strip() and name.strip() and description.strip())
    if st.button("Import", type="primary", key="sk_import", disabled=not ready, icon=":material/input:"):
        try:
            if source == "Zip":
                folder = folder_from_zip(*uploads[0])
            elif source == "Folder files":
                folder = folder_from_files(uploads)
            else:
                folder = folder_from_markdown(name, description, text)
            imported = import_folder(ws.db, folder, name=name if source != SOURCES[2] else None)
        except (Trace2SkillError, UnicodeDecodeError) as exc:
            st.error("Import refused", icon=":material/error:")
            st.code(str(exc), language=None, wrap_lines=True)
        else:
            st.session_state["sk_report"] = asdict(imported)
            st.session_state["sk_upload_gen"] = gen + 1  # clears the uploader
            st.session_state["sk_skill"] = imported.skill
            st.rerun()
    if report:
        st.success(f"Imported {safe_label(report['skill'])} as version {report['version']} "
                   f"({plural(report['files'], 'file')}).",
                   icon=":material/check_circle:")
        if report["warnings"]:
            st.warning(f"{len(report['warnings'])} warning(s): the skill departs from the spec or our conventions "
                       "here and there; it is stored anyway (an export must still pass the Agent Skills spec).",
                       icon=":material/warning:")
            st.code("\n".join(report["warnings"]), language=None, wrap_lines=True)
        if st.button("Clear report", key="sk_clear_report", icon=":material/close:"):
            st.session_state.pop("sk_report")
            st.rerun()

# ------------------------------------------------------------------ library
st.subheader("Library")
if not skills:
    st.caption("No skills yet.")
    st.stop()
table = pd.DataFrame([library_row(ws.db, s) for s in skills],
                     columns=["skill", "description", "versions", "current version", "drafts to review",
                              "locked sections", "created"])
st.dataframe(table, hide_index=True, width="stretch", key="sk_table",
             column_config={"description": st.column_config.TextColumn("description", width="medium"),
                            "current version": st.column_config.TextColumn(
                                "current version", help="The version saved (or imported) last"),
                            "drafts to review": st.column_config.NumberColumn(
                                "drafts to review", help="Proposals nobody has saved yet (Review & diff)"),
                            "created": time_column("created")})
names = [s["name"] for s in skills]
if st.session_state.get("sk_skill") not in names:
    st.session_state["sk_skill"] = names[0]
skill = st.selectbox("Skill", names, key="sk_skill")
versions = list_versions(ws.db, skill)
labels = version_labels(versions, latest=versions[0].id)

text_tab, history, compare, locks = st.tabs(["Text", "History", "Diff two versions", "Locked sections"])
with text_tab:
    shown = st.selectbox("Version", list(labels), format_func=labels.get, key="sk_text_version")
    render_skill_text(get_version(ws.db, shown), key="sk_text")
with history:
    render_history(ws.db, skill, current_version_id(ws.db, skill), key="sk_history")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    chosen = c1.selectbox("Version to download or export", list(labels), format_func=labels.get,
                          key="sk_download_version")
    try:
        data = to_zip(folder_of(get_version(ws.db, chosen)), dirname=skill)
    except Trace2SkillError as exc:
        c2.caption("Cannot be zipped")
        st.code(str(exc), language=None)
    else:
        c2.download_button("Download zip", data=data, file_name=f"{skill}.zip", mime="application/zip",
                           key="sk_download", icon=":material/download:")
    g1, g2 = st.columns([3, 1], vertical_alignment="bottom")
    git_folder = g1.text_input("Git folder (on the machine that runs this app)", key="sk_git_folder",
                               placeholder="/srv/team-skills",
                               help="A folder inside a git repository: the version chosen above is committed there "
                                    "as <folder>/<skill name>/, written by who saved it and committed by you.")
    if g2.button("Export to a git folder", key="sk_git_export", disabled=not git_folder.strip(),
                 icon=":material/commit:"):
        try:
            done = export_to_git(ws.db, chosen, git_folder.strip(), committer=ui_reviewer())
        except Trace2SkillError as exc:
            st.error("Export to git refused", icon=":material/error:")
            st.code(str(exc), language=None, wrap_lines=True)
        else:
            st.session_state["sk_flash"] = (f"Committed version {chosen[:12]} to {done.repository / done.path} as "
                                            f"{done.commit[:12]}." if done.commit else
                                            f"Nothing to commit: {done.repository / done.path} already holds "
                                            f"version {chosen[:12]}.")
            st.rerun()

with compare:
    if len(versions) < 2:
        st.caption("Only one version so far.")
    else:
        c1, c2 = st.columns(2)
        old_id = c1.selectbox("Old version", list(labels), index=1, format_func=labels.get, key="sk_old")
        new_id = c2.selectbox("New version", list(labels), index=0, format_func=labels.get, key="sk_new")
        diffs = diff_files(get_version(ws.db, old_id).files, get_version(ws.db, new_id).files)
        if not diffs:
            st.caption("The two versions have the same files.")
        for fd in diffs:
            st.caption(f"{safe_label(fd.path, 120)} · {fd.status} · {len(fd.hunks)} hunk(s)")
            st.code(fd.unified(), language="diff", wrap_lines=True)

with locks:
    st.caption("A consolidation never changes a locked section of SKILL.md (its edits there are rejected and "
               "reported). Sections are those of the latest version; every change is recorded as a decision.")
    latest = latest_version(ws.db, skill)
    sections = [s.path_str for s in parse_sections(latest.files["SKILL.md"]) if s.level > 0] if latest else []
    current = locked_sections(ws.db, skill)
    options = list(dict.fromkeys([*sections, *current]))
    picked = st.multiselect("Locked sections", options, default=current, key=f"sk_locks_{skill}",
                            placeholder="No section locked")
    if st.button("Save locks", key="sk_save_locks", icon=":material/lock:", disabled=picked == current):
        saved = set_locked_sections(ws.db, skill, picked, actor=ui_reviewer())
        st.session_state["sk_flash"] = f"{len(saved)} locked section(s) saved for {safe_label(skill)}."
        st.rerun()
