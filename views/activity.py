"""Activity: every decision made in this workspace — who, what, about which object, when — with
filters by reviewer, kind of object, object and date, and the whole selection as CSV."""

import pandas as pd
import streamlit as st

from trace2skill.activity import KIND_WORDS, rows, to_csv
from trace2skill.humanize import plural
from trace2skill.store.decisions import ActivityFilter, activity, activity_count, decision_kinds, known_reviewers
from trace2skill.ui.state import workspace
from trace2skill.ui.words import as_time, time_column

PAGE = 200
ws = workspace()

st.title("Activity")
st.caption("Every decision made here: lessons approved, rejected or edited, outcomes set, versions saved, "
           "sections locked, imports deleted — by whom and when, newest first.")
c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
reviewers = c1.multiselect("Reviewer", known_reviewers(ws.db, limit=200), key="act_reviewers")
kinds = c2.multiselect("Kind", decision_kinds(ws.db), format_func=lambda k: KIND_WORDS.get(k, k), key="act_kinds")
subject = c3.text_input("Object (its id, or the start of it)", key="act_subject")
days = c4.date_input("Between", value=(), key="act_days", format="YYYY-MM-DD")
picked = list(days) if isinstance(days, (list, tuple)) else [days]
flt = ActivityFilter(reviewers=tuple(reviewers), kinds=tuple(kinds), subject=subject.strip() or None,
                     since=picked[0].isoformat() if picked else None,
                     until=picked[-1].isoformat() if picked else None)
total = activity_count(ws.db, flt)
found = activity(ws.db, flt, limit=PAGE)
st.write(f"**{plural(total, 'decision')}**" + (f" (the newest {PAGE} below; the CSV holds them all)"
                                               if total > PAGE else ""))
if found:
    frame = pd.DataFrame(rows(found, words=True))
    frame["when"] = [as_time(d.created) for d in found]
    st.dataframe(frame, hide_index=True, width="stretch", key="act_table",
                 column_config={"when": time_column("when"),
                                "detail": st.column_config.TextColumn("detail", width="medium")})
    st.download_button("Download as CSV", to_csv(activity(ws.db, flt, limit=None)), file_name="activity.csv",
                       mime="text/csv", key="act_csv", icon=":material/download:")
else:
    st.caption("No decision matches." if total == 0 and (reviewers or kinds or subject or picked)
               else "No decisions yet.")
