"""Escaped rendering helpers: untrusted text (trajectories, tool output, lessons) only ever reaches
HTML through `html.escape`, and never reaches Markdown at all. Pure functions (no streamlit)."""

from __future__ import annotations

import html
import re

from diff_match_patch import diff_match_patch

_LABEL_SAFE = re.compile(r"[^A-Za-z0-9 _.:/@+-]")
_SPACE = re.compile(r"\s+")

STYLE = """<style>
.t2s-box{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:0.85rem;white-space:pre-wrap;
  word-break:break-word;border-radius:0.5rem;padding:0.5rem 0.75rem;margin:0.15rem 0;}
.t2s-signal{background:#fff4e5;border-left:4px solid #f08c00;color:#5c3c00;}
.t2s-quote{background:#f1f3f5;border-left:4px solid #868e96;color:#212529;max-height:24rem;overflow:auto;}
.t2s-quote mark{background:#ffe066;padding:0 1px;border-radius:2px;}
</style>"""


def safe_label(text: object, limit: int = 60) -> str:
    """Text fit for a widget label or expander title (those render Markdown): only plain
    characters are kept, so no Markdown or HTML from the data can take effect."""
    cleaned = _LABEL_SAFE.sub("", str(text))[:limit]
    return cleaned.strip() or "?"


def signal_html(kind: str, step_idx: int | None, detail: str) -> str:
    where = f"step {step_idx}" if step_idx is not None else "whole run"
    return (f'<div class="t2s-box t2s-signal"><b>{html.escape(kind)}</b> · {html.escape(where)}'
            f"<br>{html.escape(detail)}</div>")


def _folded(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with whitespace runs folded to one space, and for each folded character
    the index of the original character it came from."""
    out: list[str] = []
    where: list[int] = []
    previous_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if previous_space:
                continue
            previous_space = True
            out.append(" ")
        else:
            previous_space = False
            out.append(ch.lower())
        where.append(i)
    return "".join(out), where


def locate_quote(text: str, quote: str) -> tuple[int, int, str] | None:
    """Where `quote` sits in `text`: (start, end, "exact"|"fuzzy") in `text`'s indices, or None.

    Exact means equal after folding case and whitespace; fuzzy uses diff-match-patch's
    `match_main` (as the grounding check does)."""
    needle = _SPACE.sub(" ", quote).strip().lower()
    if not text or not needle:
        return None
    folded, where = _folded(text)
    pos = folded.find(needle)
    if pos >= 0:
        end = pos + len(needle) - 1
        return where[pos], where[end] + 1, "exact"
    dmp = diff_match_patch()
    dmp.Match_Threshold = 0.3
    dmp.Match_Distance = 100000
    probe = needle[: dmp.Match_MaxBits]
    pos = dmp.match_main(folded, probe, 0)
    if pos < 0:
        return None
    end = min(len(folded), pos + len(needle)) - 1
    window = folded[pos : end + 1]
    distance = dmp.diff_levenshtein(dmp.diff_main(window, needle, False))
    if distance > 0.2 * len(needle):
        return None
    return where[pos], where[end] + 1, "fuzzy"


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


def split_long(text: str, head: int = 1200) -> tuple[str, str]:
    """(head, rest) for collapsing long observations; rest is empty when the text is short."""
    if len(text) <= head + 200:
        return text, ""
    cut = text.rfind("\n", 0, head)
    cut = cut if cut > head // 2 else head
    return text[:cut], text[cut:]
