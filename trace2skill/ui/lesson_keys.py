"""Keyboard review on the Lessons screen: which lesson the evidence panel shows, moved with
Previous / Next (keys K / J, across pages too), the keys' caption, and the edit form opened and
focused with E. The keys are Streamlit's own button shortcuts: they do nothing while the reviewer
types in a box, and R is Streamlit's "rerun", so X rejects."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from trace2skill.models import Lesson

NEXT, PREVIOUS, APPROVE, REJECT, EDIT = "J", "K", "A", "X", "E"
INSPECT = "les_inspect"  # the lesson picker (a widget)
CURRENT = "les_current"  # the lesson the evidence panel shows: set by the picker, the keys and decisions
GOTO = "les_goto"  # where to go on the next run: a lesson id, "first" or "last"
PAGE = "les_page"
FOCUS = "les_focus_edit"  # the lesson whose edit form takes the keyboard on the next run
KEYS_CAPTION = ("Review with the keyboard: **J** next lesson · **K** previous · **A** approve · **X** reject · "
                "**E** edit. Approving or rejecting moves on to the next lesson. Keys do nothing while you type "
                "in a box (press Tab to leave it).")

_FOCUS_SCRIPT = """<script>
(() => {
  let tries = 0;
  const focus = () => {
    const box = document.querySelector('[class*="st-key-les_edit_title_"] input');
    if (box && box.offsetParent !== null && document.activeElement !== box) { box.focus(); box.select(); }
    if ((!box || document.activeElement !== box) && ++tries < 60) { setTimeout(focus, 50); }
  };
  focus();
})();
</script>"""


def edit_open_key(lesson_id: str) -> str:
    return f"les_edit_open_{lesson_id}"


def _current(options: Sequence[str]) -> str:
    """The lesson to show on this run. Kept apart from the picker's own state and given to it on
    every run: the picker's labels change when a title is edited, which would reset it."""
    goto = st.session_state.pop(GOTO, None)
    wanted = {"first": options[0], "last": options[-1]}.get(goto, goto)
    current = next((str(c) for c in (wanted, st.session_state.get(CURRENT)) if c in options), options[0])
    st.session_state[CURRENT] = st.session_state[INSPECT] = current
    return current


def _picked() -> None:
    st.session_state[CURRENT] = st.session_state[INSPECT]


def _move(options: list[str], step: int, page: int, pages: int) -> None:
    """Previous / Next: the neighbouring lesson, or the first (last) one of the next (previous) page."""
    current = st.session_state.get(CURRENT)
    target = (options.index(current) if current in options else 0) + step
    if 0 <= target < len(options):
        st.session_state[CURRENT] = options[target]
    elif target >= len(options) and page < pages:
        st.session_state[PAGE], st.session_state[GOTO] = page + 1, "first"
    elif target < 0 and page > 1:
        st.session_state[PAGE], st.session_state[GOTO] = page - 1, "last"


def choose_lesson(rows: list[Lesson], *, page: int, pages: int) -> tuple[str, str | None]:
    """The lesson picker with Previous / Next; returns the chosen lesson and the one to show after
    a decision on it (the next on this page, None at its end)."""
    options = [r.id for r in rows]
    index = options.index(_current(options))
    titles = {r.id: f"{r.title[:80]} · {r.id[:10]}" for r in rows}
    st.caption(KEYS_CAPTION)
    back, forward, pick, where = st.columns([1.6, 1.6, 5, 1.6], vertical_alignment="bottom")
    back.button("Previous", key="les_prev", shortcut=PREVIOUS, icon=":material/arrow_upward:", width="stretch",
                disabled=index == 0 and page == 1, on_click=_move, args=(options, -1, page, pages),
                help="The lesson above in the table (the last of the previous page at the top).")
    forward.button("Next", key="les_next", shortcut=NEXT, icon=":material/arrow_downward:", width="stretch",
                   disabled=index == len(options) - 1 and page == pages, on_click=_move,
                   args=(options, 1, page, pages),
                   help="The lesson below in the table (the first of the next page at the bottom).")
    chosen = pick.selectbox("Lesson", options, format_func=lambda i: titles[i], key=INSPECT,
                            on_change=_picked) or options[0]
    index = options.index(chosen)
    where.caption(f"{index + 1} of {len(options)} on page {page}")
    return chosen, options[index + 1] if index + 1 < len(options) else None


def open_editor(lesson_id: str) -> None:
    """E: open the lesson's edit form and put the keyboard in its title box."""
    st.session_state[edit_open_key(lesson_id)] = True
    st.session_state[FOCUS] = lesson_id


def focus_editor_if_asked(lesson_id: str) -> None:
    """After E, move the keyboard into the edit form's title box (a script in the page)."""
    if st.session_state.get(FOCUS) == lesson_id:
        st.session_state.pop(FOCUS)
        st.html(_FOCUS_SCRIPT, unsafe_allow_javascript=True)
