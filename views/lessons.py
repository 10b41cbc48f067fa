"""Lessons: review the analysts' lessons — an editable table of the current page (status, title,
content saved through the store, stale edits refused), bulk decisions over everything matching the
filters, near-duplicate groups settled at once, and one lesson's evidence beside the steps it
quotes, reviewed with the keyboard (J/K next/previous, A approve, X reject, E edit). Team review:
"My queue" (the lessons assigned to you), comment threads on the selected lesson (open threads
counted in the table), and the review queue panel (assign lessons, progress per reviewer)."""

from dataclasses import replace

import streamlit as st

from trace2skill.humanize import ago, plural
from trace2skill.models import LESSON_KINDS, LESSON_STATUSES
from trace2skill.settings import flag_policy, llm_config
from trace2skill.store.lessons import LessonFilter, count_lessons, lesson_ids, page_lessons
from trace2skill.store.runs import list_runs
from trace2skill.ui.lesson_charts import render_lesson_charts
from trace2skill.ui.lesson_groups import render_duplicate_groups
from trace2skill.ui.lesson_keys import choose_lesson
from trace2skill.ui.lesson_quality import QUALITY, VERIFICATION, bulk_decision, hidden_notice, nothing_matches_words
from trace2skill.ui.lesson_view import apply_edits, column_config, render_lesson, table_of
from trace2skill.ui.review_queue import queue_filter, render_assign, render_lesson_comments, with_threads
from trace2skill.ui.state import workspace
from trace2skill.ui.words import kind_words

PAGE_SIZE = 50
DUPLICATE_THRESHOLD = 0.8
ws = workspace()
st.session_state.setdefault("les_gen", 0)

# ------------------------------------------------------------------ save the previous run's edits
editor_key = f"les_editor_{st.session_state['les_gen']}"
edits = (st.session_state.get(editor_key) or {}).get("edited_rows") or {}
if edits:
    result = apply_edits(ws, st.session_state.get("les_shown", []), edits)
    st.session_state["les_gen"] += 1  # a fresh editor shows the saved rows
    editor_key = f"les_editor_{st.session_state['les_gen']}"
    if result.saved:
        st.session_state["les_flash"] = f"Saved {len(result.saved)} lesson{'s' if len(result.saved) != 1 else ''}."
    if result.refused:
        st.session_state["les_errors"] = result.refused

st.title("Lessons")
if "les_flash" in st.session_state:
    st.success(st.session_state.pop("les_flash"), icon=":material/check_circle:")
for message in st.session_state.pop("les_errors", []):
    st.error("A concurrent edit was refused" if "changed by" in message else "An edit was refused",
             icon=":material/sync_problem:")
    st.text(message)
render_lesson_charts(ws)

# ------------------------------------------------------------------ filters
f1, f2, f3, f4 = st.columns([2, 1, 1, 1])
search = f1.text_input("Search title, description and guidance", key="les_search")
kind = f2.selectbox("Kind", ["all", *LESSON_KINDS], key="les_kind",
                    format_func=lambda k: k if k == "all" else kind_words(k))
status = f3.selectbox("Status", ["all", *LESSON_STATUSES], key="les_status")
grounded = f4.selectbox("Grounded", ["any", "yes", "no", "unchecked"], key="les_grounded")
f5, f6, f7, f8 = st.columns([1, 1, 1, 1])
runs = {r.id: f"{r.id} · created {ago(r.created)}" for r in list_runs(ws.db, "extraction", 50, with_progress=False)}
run = f5.selectbox("Run", ["all", *runs], format_func=lambda r: runs.get(r, r), key="les_run")
trajectory = f6.text_input("Trajectory id", key="les_trajectory")
policy = flag_policy(ws.db, local_model=llm_config(ws.db).is_local)
st.session_state.setdefault("les_quality", "without flags" if policy != "flag" else "all")
quality = f7.selectbox("Quality flags", list(QUALITY), key="les_quality",
                       help="Problems code found in a lesson (repeated text, quotes not found, platitudes, …).")
verification = f8.selectbox("Replay verification", list(VERIFICATION), key="les_verification",
                            help="Whether re-running the task with the lesson fixed the failure (or kept the success).")
mine = queue_filter(ws)

flt = LessonFilter(
    status=None if status == "all" else status,
    kind=None if kind == "all" else kind,
    run_id=None if run == "all" else run,
    trajectory_id=trajectory.strip() or None,
    grounded={"yes": True, "no": False}.get(grounded),
    unchecked=grounded == "unchecked",
    search=search.strip() or None,
    flagged=QUALITY[quality],
    verification=VERIFICATION[verification],
    assigned_to=mine,
)
total = count_lessons(ws.db, flt)
hidden = hidden_notice(ws, flt, quality)
pages = max(1, -(-total // PAGE_SIZE))
if st.session_state.get("les_page", 1) > pages:
    st.session_state["les_page"] = 1
c1, c2, c3, c4 = st.columns([1, 2, 1, 1], vertical_alignment="bottom")
page = c1.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="les_page")
c2.caption(f"{plural(total, 'lesson')} {'matches' if total == 1 else 'match'}")
for col, status, verb, icon in ((c3, "approved", "Approve", ":material/done_all:"),
                                 (c4, "rejected", "Reject", ":material/remove_done:")):
    if col.button(f"{verb} all {total}", key=f"les_bulk_{verb.lower()}", disabled=not total, icon=icon,
                  help=f"{verb} every lesson matching the filters (all pages)."):
        st.session_state["les_flash"] = bulk_decision(ws, lesson_ids(ws.db, flt), status,
                                                      despite=bool(st.session_state.get("les_despite")))
        st.session_state["les_gen"] += 1
        st.rerun()
flagged_here = count_lessons(ws.db, replace(flt, flagged=True)) if QUALITY[quality] is not False else 0
if flagged_here:
    st.checkbox(f"Approve the {flagged_here} flagged lessons too: I checked their reasons", key="les_despite",
                help="Recorded with each decision. Without it, bulk approval leaves flagged lessons as they are.")

# ------------------------------------------------------------------ the editable page
rows = page_lessons(ws.db, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
st.session_state["les_shown"] = [(r.id, r.version) for r in rows]
if not rows:
    st.caption(nothing_matches_words(ws, hidden))
    st.stop()
st.caption("Edit status, title or guidance in the table; each change is saved at once and recorded as your "
           "decision. A row someone else saved meanwhile is refused, not overwritten.")
st.data_editor(with_threads(ws, table_of(rows), rows), key=editor_key, hide_index=True, width="stretch",
               column_config=column_config(),
               num_rows="fixed", disabled=["flags", "replay", "kind", "grounded", "evidence", "trajectory", "run", "id",
                                                  "version", "threads", "decided by"])

# ------------------------------------------------------------------ near-duplicates on this page
if st.toggle("Show near-duplicate groups on this page", key="les_dups",
             help=f"Embedding similarity of title + guidance ≥ {DUPLICATE_THRESHOLD}; settle a group at once"):
    render_duplicate_groups(ws, rows, DUPLICATE_THRESHOLD)

render_assign(ws, flt, rows, total)

# ------------------------------------------------------------------ one lesson and its evidence (keys: J K A X E)
st.subheader("Evidence")
chosen, after = choose_lesson(rows, page=int(page), pages=pages)
render_lesson(ws, chosen, after)
render_lesson_comments(ws, chosen)
