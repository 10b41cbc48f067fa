"""A comment thread widget: the threads on a lesson, a hunk or a proposal — each first comment with
its replies, a reply box and Resolve — and a box to start a new thread. Resolved threads are shown on
request. Comment text is untrusted: it reaches the page escaped, never as Markdown."""

from __future__ import annotations

import html

import streamlit as st

from trace2skill.comments import Thread, add_comment, reply, resolve, threads
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import ago, plural
from trace2skill.models import content_hash
from trace2skill.store import Workspace
from trace2skill.store.comments import Comment

BOX = ("border-left:3px solid {color};padding:.3rem .6rem;margin:.15rem 0 .15rem {indent};background:#f8f9fa;"
       "border-radius:.3rem;font-size:.9rem;")


def comment_html(c: Comment, *, indent: bool = False) -> str:
    """One comment: who, when, and the text (escaped, line breaks kept)."""
    style = BOX.format(color="#adb5bd" if indent else "#4263eb", indent="1.5rem" if indent else "0")
    return (f'<div class="t2s-comment" style="{style}"><b>{html.escape(c.author)}</b> '
            f'<span style="color:#868e96">· {html.escape(ago(c.created))}</span>'
            f'<div style="white-space:pre-wrap;word-break:break-word">{html.escape(c.text)}</div></div>')


def _error_key(key: str) -> str:
    return f"{key}_error"


def _failed(key: str, exc: Trace2SkillError) -> None:
    st.session_state[_error_key(key)] = str(exc)  # shown by the next run


def _add(ws: Workspace, key: str, who: str, subject_type: str, subject_id: str, text_key: str) -> None:
    try:
        add_comment(ws.db, subject_type, subject_id, st.session_state.get(text_key) or "", author=who)
    except Trace2SkillError as exc:
        _failed(key, exc)
    else:
        st.session_state[text_key] = ""


def _reply(ws: Workspace, key: str, who: str, comment_id: int, text_key: str) -> None:
    try:
        reply(ws.db, comment_id, st.session_state.get(text_key) or "", author=who)
    except Trace2SkillError as exc:
        _failed(key, exc)
    else:
        st.session_state[text_key] = ""


def _resolve(ws: Workspace, key: str, who: str, comment_id: int, resolved: bool) -> None:
    try:
        resolve(ws.db, comment_id, actor=who, resolved=resolved)
    except Trace2SkillError as exc:
        _failed(key, exc)


def _thread(ws: Workspace, t: Thread, key: str, who: str) -> None:
    tag = f"{key}_{t.first.id}"
    with st.container(border=True, key=f"t2s_thread_{tag}"):
        st.html(comment_html(t.first))
        for r in t.replies:
            st.html(comment_html(r, indent=True))
        if not t.open:
            st.caption(f"Resolved by {t.first.resolved_by} {ago(t.first.resolved_at)}")
            st.button("Reopen", key=f"{tag}_reopen", type="tertiary", icon=":material/undo:", on_click=_resolve,
                      args=(ws, key, who, t.first.id, False))
            return
        text_key = f"{tag}_reply"
        box, go, done = st.columns([5, 1, 1], vertical_alignment="bottom")
        box.text_input("Reply", key=text_key, placeholder="Reply to this thread", label_visibility="collapsed")
        go.button("Reply", key=f"{tag}_reply_go", icon=":material/reply:", on_click=_reply,
                  args=(ws, key, who, t.first.id, text_key))
        done.button("Resolve", key=f"{tag}_resolve", icon=":material/task_alt:", on_click=_resolve,
                    args=(ws, key, who, t.first.id, True))


def render_thread(ws: Workspace, subject_type: str, subject_id: str, *, who: str, key: str | None = None,
                  what: str = "this") -> None:
    """The threads on one subject and a box for a new comment, recorded as `who`'s."""
    key = key or f"cm_{subject_type}_{content_hash(subject_id, 10)}"
    found = threads(ws.db, subject_type, subject_id)
    if error := st.session_state.pop(_error_key(key), None):
        st.error(f"Not done: {error}", icon=":material/block:")
    open_ones = [t for t in found if t.open]
    closed = [t for t in found if not t.open]
    for t in open_ones:
        _thread(ws, t, key, who)
    if closed and st.toggle(f"Show {plural(len(closed), 'resolved thread')}", key=f"{key}_closed"):
        for t in closed:
            _thread(ws, t, key, who)
    text_key = f"{key}_new"
    st.text_area(f"Comment on {what}", key=text_key, height=80, placeholder="Start a thread: a question, a doubt, "
                 "a suggestion…")
    st.button("Comment", key=f"{key}_add", icon=":material/add_comment:", on_click=_add,
              args=(ws, key, who, subject_type, subject_id, text_key))


def threads_label(open_count: int, base: str = "Comments") -> str:
    """An expander's title: "Comments" or "Comments · 2 open threads"."""
    return base + (f" · {plural(open_count, 'open thread')}" if open_count else "")
