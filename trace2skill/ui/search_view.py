"""The Trajectories screen's search results: where each listed trajectory matched (its task or final
answer, and its best-matching step), the matched words marked, each step one click away; and how
many more trajectories mention the words only in shared text (system prompts, the policy)."""

from __future__ import annotations

import html
from dataclasses import replace

import streamlit as st

from trace2skill.humanize import plural
from trace2skill.models import TrajectoryRow
from trace2skill.store import Workspace
from trace2skill.store.search import MARK, SearchHit, search_hits
from trace2skill.store.trajectories import TrajectoryFilter, count_trajectories
from trace2skill.ui.escape import safe_label
from trace2skill.ui.step_links import StepLink, step_page_link

SHARED_LABEL = "Include system prompts and shared text"
SHARED_HELP = ("A search leaves out system prompts and text that more than half of the runs carry word for word "
               "(such as the policy every run starts with): they say nothing about what one run did.")
STYLE = """<style>
.t2s-hit{font-size:0.9rem;line-height:1.45;word-break:break-word;}
.t2s-hit .t2s-where{color:#495057;font-size:0.8rem;}
.t2s-hit mark{background:#ffe066;padding:0 1px;border-radius:2px;}
</style>"""


def marked_html(snippet: str) -> str:
    """A search snippet as HTML: everything escaped, the matched words in <mark>."""
    start, end = MARK
    return html.escape(snippet).replace(start, "<mark>").replace(end, "</mark>")


def hit_html(rank: int, row: TrajectoryRow, hit: SearchHit | None) -> str:
    head = (f'<div class="t2s-where">#{rank} · trajectory {html.escape(row.id[:12])} · {html.escape(row.outcome)}'
            f" · {plural(row.n_steps, 'step')}</div>")
    parts = [head]
    if hit is not None and hit.task:
        parts.append(f'<div><span class="t2s-where">task or final answer:</span> {marked_html(hit.task)}</div>')
    if hit is not None and hit.step is not None:
        parts.append(f'<div><span class="t2s-where">step {hit.step_idx} ({html.escape(hit.role or "?")}):</span> '
                     f"{marked_html(hit.step)}</div>")
    return f'<div class="t2s-hit">{"".join(parts)}</div>'


def render_search_hits(ws: Workspace, flt: TrajectoryFilter, rows: list[TrajectoryRow], total: int,
                       offset: int = 0) -> None:
    """Under a search, above the table: the hidden-by-shared-text count and this page's matches."""
    if not flt.search:
        return
    if not flt.include_shared:
        more = count_trajectories(ws.db, replace(flt, include_shared=True)) - total
        if more > 0:
            st.caption(f"{more} more trajector{'y mentions' if more == 1 else 'ies mention'} "
                       f"“{safe_label(flt.search, 40)}” only in system prompts or shared text; tick "
                       f"“{SHARED_LABEL}” to list {'it' if more == 1 else 'them'} too.")
    if not rows:
        return
    hits = search_hits(ws.db, [r.id for r in rows], flt.search, include_shared=flt.include_shared)
    st.html(STYLE)
    title = f"Best matches first: where the words were found ({len(rows)} on this page)"
    with (st.expander(title, expanded=True, icon=":material/manage_search:"),
          st.container(height=420, key="traj_hits")):
        for n, row in enumerate(rows):
            hit = hits.get(row.id)
            with st.container(border=True, key=f"traj_hit_{n}"):
                st.html(hit_html(offset + n + 1, row, hit))
                if hit is not None and hit.step_idx is not None:
                    step_page_link(st, StepLink(row.id, hit.step_idx, words=flt.search), f"Open step {hit.step_idx}")
