"""Escaped rendering helpers: untrusted text (trajectories, tool output, lessons) only ever reaches
HTML through `html.escape`, and never reaches Markdown at all. Pure functions (no streamlit)."""

from __future__ import annotations

import html
import re

from trace2skill.textcut import cut_words
from trace2skill.ui.words import signal_words

_LABEL_SAFE = re.compile(r"[^A-Za-z0-9 _.:/@+-]")

STYLE = """<style>
.t2s-box{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:0.85rem;white-space:pre-wrap;
  word-break:break-word;border-radius:0.5rem;padding:0.5rem 0.75rem;margin:0.15rem 0;}
.t2s-signal{background:#fff4e5;border-left:4px solid #f08c00;color:#5c3c00;}
.t2s-quote{background:#f1f3f5;border-left:4px solid #868e96;color:#212529;max-height:24rem;overflow:auto;}
.t2s-quote mark{background:#ffe066;padding:0 1px;border-radius:2px;}
.t2s-missing{background:#fff5f5;border-left:4px solid #e03131;color:#5c0000;}
.t2s-focus{background:#fff9db;border-left:4px solid #f59f00;color:#3d2e00;}
.t2s-anchor{scroll-margin-top:5rem;}
.st-key-t2s_focus_step{outline:3px solid #fab005;outline-offset:6px;border-radius:0.5rem;}
</style>"""


def safe_label(text: object, limit: int = 60) -> str:
    """Text fit for a widget label or expander title (those render Markdown): only plain
    characters are kept, so no Markdown or HTML from the data can take effect."""
    cleaned = cut_words(_LABEL_SAFE.sub("", str(text)), limit, where=None, fold=True)
    return cleaned.strip() or "?"


def signal_html(kind: str, step_idx: int | None, detail: str) -> str:
    where = f"step {step_idx}" if step_idx is not None else "whole run"
    words = signal_words(kind)
    return (f'<div class="t2s-box t2s-signal"><b>{html.escape(words)}</b> · {html.escape(where)}'
            f"<br>{html.escape(detail)}</div>")


def missing_step(step_idx: int, n_steps: int) -> str:
    """The words for a step a quote or link names that the run does not have (steps count from 0)."""
    return f"Step {step_idx} does not exist: this run has {n_steps} step{'' if n_steps == 1 else 's'}."


def missing_step_html(step_idx: int, n_steps: int) -> str:
    return f'<div class="t2s-box t2s-missing">{html.escape(missing_step(step_idx, n_steps))}</div>'


def quote_html(text: str, span: tuple[int, int] | None, context: int = 600) -> str:
    """The step text with the quoted span marked, everything escaped; long text is cut to the
    neighbourhood of the quote."""
    if span is None:
        shown = text if len(text) <= 2 * context else text[: 2 * context] + "…"
        return f'<div class="t2s-box t2s-quote">{html.escape(shown)}</div>'
    start, end = span
    lo, hi = max(0, start - context), min(len(text), end + context)
    before = ("…" if lo else "") + text[lo:start]
    after = text[end:hi] + ("…" if hi < len(text) else "")
    return (f'<div class="t2s-box t2s-quote">{html.escape(before)}<mark>{html.escape(text[start:end])}</mark>'
            f"{html.escape(after)}</div>")


def words_html(text: str, words: list[str], context: int = 600) -> str:
    """The text with every occurrence of the words marked (case ignored), everything escaped; long
    text is cut to the neighbourhood of the first one."""
    wanted = [w for w in words if w.strip()]
    found = list(re.finditer("|".join(map(re.escape, wanted)), text, re.IGNORECASE)) if wanted else []
    if not found:
        return quote_html(text, None, context)
    lo, hi = max(0, found[0].start() - context), min(len(text), found[0].end() + 2 * context)
    out, at = ["…" if lo else ""], lo
    for m in found:
        if m.start() < at or m.end() > hi:
            continue
        out += [html.escape(text[at:m.start()]), f"<mark>{html.escape(m.group())}</mark>"]
        at = m.end()
    out += [html.escape(text[at:hi]), "…" if hi < len(text) else ""]
    return f'<div class="t2s-box t2s-quote">{"".join(out)}</div>'


def split_long(text: str, head: int = 1200) -> tuple[str, str]:
    """(head, rest) for collapsing long observations; rest is empty when the text is short."""
    if len(text) <= head + 200:
        return text, ""
    cut = text.rfind("\n", 0, head)
    cut = cut if cut > head // 2 else head
    return text[:cut], text[cut:]
