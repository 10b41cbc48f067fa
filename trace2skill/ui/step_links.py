"""Links to one step of a trajectory, from any screen (Provenance, Lessons' evidence, signal tables,
search results): `?trajectory=ID&step=N` (and, for a quote, `&lesson=ID&quote=K`: the lesson and
which of its quotes to mark) on the Trajectories screen, which opens that trajectory at the step,
highlighted, with the quote marked, and scrolls to it.

Streamlit has no scroll API, and it drops an address's `#fragment` when a page changes its query
parameters: the step is rendered with the element id `step-N`, and one small script (our own text,
never data) scrolls it into view, on the run that followed the link only.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from trace2skill.analysis.grounding import step_text
from trace2skill.errors import NotFoundError
from trace2skill.models import StoredStep
from trace2skill.store import Workspace
from trace2skill.store.lessons import get_lesson
from trace2skill.ui.escape import quote_html, safe_label, words_html

TRAJECTORIES = "views/trajectories.py"
PARAMS = ("trajectory", "step", "lesson", "quote", "words")
FOCUS = "traj_focus"  # session state: the StepLink the step viewer lands on
SCROLL = "traj_focus_scroll"  # session state: scroll to it on this run
BASE = "traj_focus_base"  # session state: what the screen itself would have opened when the link was followed
PENDING = "t2s_step_link"  # session state: a link a button asked to follow
MARK_CONTEXT = 2000  # characters shown around a mark


@dataclass(frozen=True)
class StepLink:
    trajectory_id: str
    step: int
    lesson_id: str | None = None
    quote: int | None = None  # which of the lesson's quotes (0-based)
    words: str | None = None  # search words to mark in the step

    def params(self) -> dict[str, str]:
        out = {"trajectory": self.trajectory_id, "step": str(self.step)}
        if self.lesson_id is not None and self.quote is not None:
            out |= {"lesson": self.lesson_id, "quote": str(self.quote)}
        if self.words:
            out["words"] = self.words
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> StepLink | None:
        """The link in a page's query parameters; None when there is none (or it is malformed)."""
        trajectory, step = str(params.get("trajectory") or "").strip(), str(params.get("step") or "").strip()
        if not trajectory or not step.isdigit():
            return None
        lesson, quote = str(params.get("lesson") or "").strip(), str(params.get("quote") or "").strip()
        words = str(params.get("words") or "").strip()[:200] or None
        if lesson and quote.isdigit():
            return cls(trajectory, int(step), lesson, int(quote), words)
        return cls(trajectory, int(step), words=words)

    @property
    def anchor(self) -> str:
        return f"step-{self.step}"


# --------------------------------------------------------------------------- following a link


def step_button(container: Any, link: StepLink, label: str, key: str) -> None:
    """A button that opens the Trajectories screen at the step (call `follow_pending` later on the page)."""
    container.button(label, key=key, icon=":material/open_in_new:", on_click=_ask, args=(link,))


def _ask(link: StepLink) -> None:
    st.session_state[PENDING] = link


def follow_pending() -> None:
    """Switch to the Trajectories screen if a step button was pressed (a switch cannot happen in a callback)."""
    link = st.session_state.pop(PENDING, None)
    if link is not None:
        st.switch_page(TRAJECTORIES, query_params=link.params())


def step_page_link(container: Any, link: StepLink, label: str) -> None:
    """A link to the step on the Trajectories screen."""
    container.page_link(TRAJECTORIES, label=label, icon=":material/subdirectory_arrow_right:",
                        query_params=link.params())


def open_step(link: StepLink) -> None:
    """From a callback on the Trajectories screen itself: go to this step on the next run."""
    st.query_params.update(link.params())


def take_step_link() -> None:
    """On the Trajectories screen, before its widgets: the link in the address opens its trajectory
    (typed into the open-by-id box) at its step, scrolled to once. The parameters are then cleared,
    so following the same link again works the same way."""
    link = StepLink.from_params(st.query_params)
    if link is None:
        return
    for name in PARAMS:
        if name in st.query_params:
            del st.query_params[name]
    st.session_state["traj_open"] = link.trajectory_id
    st.session_state[FOCUS] = link
    st.session_state[SCROLL] = True
    st.session_state.pop(BASE, None)


def follow_link(chosen: str | None) -> str | None:
    """The trajectory to show: the one a link opened, until the reader picks another one (selects a
    row or types an id) than the screen showed when the link was followed."""
    link = st.session_state.get(FOCUS)
    if link is None:
        return chosen
    if BASE not in st.session_state:
        st.session_state[BASE] = chosen
    if chosen == st.session_state[BASE]:
        return link.trajectory_id
    for key in (FOCUS, BASE, SCROLL):
        st.session_state.pop(key, None)
    return chosen


def linked_step(trajectory_id: str) -> tuple[StepLink | None, bool]:
    """(the link into this trajectory, whether to scroll to it on this run)."""
    link = st.session_state.get(FOCUS)
    if link is None or not trajectory_id.startswith(link.trajectory_id):
        return None, False
    return link, bool(st.session_state.pop(SCROLL, False))


# --------------------------------------------------------------------------- the step it lands on


def quote_span(ws: Workspace, link: StepLink, step: StoredStep) -> tuple[tuple[int, int] | None, str]:
    """Where the link's quote sits in `step_text(step)`, and a sentence saying what is marked."""
    if link.lesson_id is None or link.quote is None:
        return None, f"You are at step {step.idx}."
    from trace2skill.ui.lesson_view import evidence_span  # here: lesson_view links to steps with this module

    try:
        lesson = get_lesson(ws.db, link.lesson_id)
    except NotFoundError:
        return None, f"Step {step.idx}: the lesson that quoted it is gone."
    if not 0 <= link.quote < len(lesson.evidence):
        return None, f"You are at step {step.idx}; the lesson has no quote {link.quote + 1}."
    span = evidence_span(lesson.evidence[link.quote], step)
    about = f"quote {link.quote + 1} of the lesson “{safe_label(lesson.title, 80)}”"
    if span is None:
        return None, f"You are at step {step.idx}; {about} was not found in this step."
    return span, f"You are at step {step.idx}; {about} is marked."


def focus_html(ws: Workspace, link: StepLink, step: StoredStep) -> tuple[str, str | None]:
    """The step a link landed on: its head (element id `step-N`: where you are, what is marked) and
    the step's text with the quote or the search words marked (escaped, cut to their neighbourhood),
    None when nothing is marked."""
    span, said = quote_span(ws, link, step)
    marked = None
    if span is not None:
        marked = quote_html(step_text(step), span, context=MARK_CONTEXT)
    elif link.words and link.lesson_id is None:
        words = [w.strip('"') for w in link.words.split()]
        marked = words_html(step_text(step), words, context=MARK_CONTEXT)
        said = f"You are at step {step.idx}; the words “{safe_label(link.words, 60)}” are marked where they occur."
    return f'<div id="{link.anchor}" class="t2s-box t2s-focus t2s-anchor">{html.escape(said)}</div>', marked


def scroll_to(anchor: str) -> None:
    """Scroll the element with this id into view (again after the page settles)."""
    if not anchor.replace("-", "").isalnum():
        return
    st.html(f"""<script>
(function () {{
  const go = () => {{
    const el = document.getElementById("{anchor}");
    if (el) el.scrollIntoView({{block: "start"}});
  }};
  go(); [200, 600, 1200, 2000].forEach((ms) => setTimeout(go, ms));
}})();
</script>""", unsafe_allow_javascript=True)
