"""The Review & diff screen's decisions, kept as the reviewer's draft in the workspace
(`store.review_drafts`) until they save: each hunk's accept / reject and each file's hand edits,
under the session keys the screen's widgets use. Brought back once per browser session and
comparison; written whenever they change. Only a named reviewer has a draft (`keeps_drafts`)."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from trace2skill.models import content_hash
from trace2skill.reviewers import UNNAMED_APP_USER
from trace2skill.store import Workspace
from trace2skill.store.review_drafts import clear_draft, load_draft, save_draft

_SEP = "\x1f"  # between an item's parts (a path may hold ':')


def hunk_key(pair: str, path: str, index: int) -> str:
    """The session key of a hunk's decision ("accept", "reject" or None)."""
    return f"rev_h:{pair}:{path}:{index}"


def text_key(pair: str, path: str, text: str) -> str:
    """The session key of a file's text area: a new one when the kept hunks change its text."""
    return _text_key(pair, path, _text_id(text))


def _text_key(pair: str, path: str, text_id: str) -> str:
    return f"rev_text:{pair}:{path}:{text_id}"


def _text_id(text: str) -> str:
    return content_hash(text)[:10]


def draft_items(decisions: Mapping[str, Mapping[int, str | None]], merged: Mapping[str, str],
                edited: Mapping[str, str]) -> dict[str, str]:
    """The screen's decisions as draft items: decided hunks, and hand edits by the text they edit."""
    items = {_SEP.join(("hunk", path, str(k))): d for path, per in decisions.items() for k, d in per.items() if d}
    items.update({_SEP.join(("text", path, _text_id(merged[path]))): text for path, text in edited.items()})
    return items


def _synced(pair: str, reviewer: str) -> str:
    return f"rev_draft:{pair}:{reviewer}"


def keeps_drafts(reviewer: str) -> bool:
    """Whether this reviewer's work is kept as a draft: only a named one's. Unnamed browsers are all
    the same "app user (unnamed)": one draft for all of them would hand one person's decisions to
    another, so theirs last as long as the page."""
    return reviewer != UNNAMED_APP_USER


def restore_draft(ws: Workspace, old_id: str, new_id: str, reviewer: str, pair: str) -> int:
    """Put the reviewer's draft back into the session, once per session and comparison (decisions
    made in this session win); how many items came back."""
    if not keeps_drafts(reviewer) or _synced(pair, reviewer) in st.session_state:
        return 0
    items = load_draft(ws.db, old_id, new_id, reviewer)
    for item, value in items.items():
        kind, path, rest = item.split(_SEP, 2)
        key = hunk_key(pair, path, int(rest)) if kind == "hunk" else _text_key(pair, path, rest)
        st.session_state.setdefault(key, value)
    st.session_state[_synced(pair, reviewer)] = items
    return len(items)


def keep_draft(ws: Workspace, old_id: str, new_id: str, reviewer: str, pair: str, items: dict[str, str]) -> None:
    """Write the draft when it changed since it was last written or read."""
    if keeps_drafts(reviewer) and st.session_state.get(_synced(pair, reviewer)) != items:
        save_draft(ws.db, old_id, new_id, reviewer, items)
        st.session_state[_synced(pair, reviewer)] = items


def saved(ws: Workspace, old_id: str, new_id: str, reviewer: str, pair: str, items: dict[str, str]) -> None:
    """The result was saved: no draft any more (the decisions shown stay; changing them starts one)."""
    clear_draft(ws.db, old_id, new_id, reviewer)
    st.session_state[_synced(pair, reviewer)] = items
