"""What the Review & diff screen draws beside the hunks (no streamlit): the side-by-side table of the
base against the result (escaped HTML, integer line numbers, both columns always in view, long
lines wrapped), the support of each result line (a reworded line keeps the support of the line it
replaced), the markdown preview's text, and the styles that tell accepted, rejected and undecided
hunks apart."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from trace2skill.diff import side_by_side
from trace2skill.rewords import equal_map, review_links
from trace2skill.skill.frontmatter import parse_skill_md
from trace2skill.ui.diff_view import LineSupport

# Hunk states: how each looks (badge text, icon, colour) — the box around it is styled by REVIEW_CSS.
Color = Literal["green", "red", "gray"]
HUNK_STATES: dict[str | None, tuple[str, str, Color]] = {"accept": ("accepted", ":material/check_circle:", "green"),
               "reject": ("rejected: left out of the result", ":material/cancel:", "red"),
               None: ("undecided: stays as proposed", ":material/help:", "gray")}
STATE_CLASS: dict[str | None, str] = {"accept": "accepted", "reject": "rejected", None: "undecided"}

REVIEW_CSS = """<style>
div[class*="st-key-rev_hbox-accepted"]{border-left:6px solid #2f9e44 !important;background:#ebfbee;}
div[class*="st-key-rev_hbox-rejected"]{border-left:6px solid #e03131 !important;background:#fff5f5;}
div[class*="st-key-rev_hbox-rejected"] [data-testid="stCode"]{text-decoration:line-through;opacity:.55;}
div[class*="st-key-rev_hbox-undecided"]{border-left:6px dashed #adb5bd !important;}
div[class*="st-key-rev_preview"] h1{font-size:1.6rem;} div[class*="st-key-rev_preview"] h2{font-size:1.3rem;}
div[class*="st-key-rev_preview"] h3{font-size:1.1rem;}
.t2s-sbs{width:100%;table-layout:fixed;border-collapse:collapse;font-family:ui-monospace,SFMono-Regular,Menlo,
  monospace;font-size:.8rem;}
.t2s-sbs th{background:#f1f3f5;text-align:left;padding:2px 6px;font-weight:600;}
.t2s-sbs td{padding:1px 6px;vertical-align:top;border-top:1px solid #f1f3f5;}
.t2s-sbs .n{width:2.6rem;color:#868e96;text-align:right;}
.t2s-sbs .s{width:5.6rem;color:#495057;font-size:.72rem;font-family:sans-serif;overflow-wrap:anywhere;}
.t2s-sbs .t{white-space:pre-wrap;word-break:break-word;}
.t2s-sbs tr.delete td.old,.t2s-sbs tr.replace td.old{background:#ffe3e3;}
.t2s-sbs tr.insert td.new,.t2s-sbs tr.replace td.new{background:#d3f9d8;}
.t2s-sbs tr.gap td{background:#f8f9fa;color:#868e96;text-align:center;}
</style>"""


def result_support(base: tuple[str, str], proposal: tuple[str, str], merged: str, result: str,
                   support: dict[int, LineSupport]) -> dict[int, str]:
    """Result line (0-based) -> what backs it, for the lines an edit wrote: "3 trajectories", or with
    "· reworded" for a line typed over one. `base` and `proposal` are (version id, text); `support`
    is by line of the proposal."""
    proposal_lines, result_lines = proposal[1].splitlines(), result.splitlines()

    def label(s: LineSupport, reworded: bool = False) -> str:
        n = len(s.trajectories)
        return f"{n} trajector{'y' if n == 1 else 'ies'}" + (" · reworded" if reworded else "")

    out = {r: label(support[p]) for r, p in equal_map(proposal_lines, result_lines).items() if p in support}
    links = review_links(proposal, base, merged, result).links
    for r, link in links.items():
        if link.kind == "reword" and link.version == proposal[0] and link.line in support:
            out[r] = label(support[link.line], reworded=True)
    return out


def _cell(no: int | None, text: str | None, side: str) -> str:
    number = "" if no is None else str(int(no))
    return f'<td class="n">{number}</td><td class="t {side}">{html.escape(text or "")}</td>'


def side_by_side_html(old: str, new: str, notes: dict[int, str] | None = None, context: int = 3,
                      old_title: str = "before", new_title: str = "after") -> str:
    """The changed rows (with `context` lines around them) as an escaped HTML table: line numbers as
    integers, old and new text side by side, wrapped, and a note per new line (its support)."""
    rows = side_by_side(old, new, context=context)
    if not rows:
        return '<p class="t2s-sbs-empty">No differences.</p>'
    notes = notes or {}
    out = [f'<table class="t2s-sbs"><thead><tr><th class="n">#</th><th>{html.escape(old_title)}</th>'
           f'<th class="n">#</th><th>{html.escape(new_title)}</th><th class="s">support</th></tr></thead><tbody>']
    last_hunk = rows[0].hunk
    for r in rows:
        if r.hunk != last_hunk:
            out.append('<tr class="gap"><td colspan="5">⋯</td></tr>')
            last_hunk = r.hunk
        changed = r.new_no is not None and r.tag in ("insert", "replace") and (r.new_text or "").strip()
        note = notes.get(r.new_no - 1, "") if changed and r.new_no is not None else ""
        out.append(f'<tr class="{r.tag}">{_cell(r.old_no, r.old_text, "old")}{_cell(r.new_no, r.new_text, "new")}'
                   f'<td class="s">{html.escape(note)}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


MARKDOWN_SUFFIXES = {".md", ".markdown"}
LANGUAGES = {".py": "python", ".sh": "bash", ".js": "javascript", ".ts": "typescript", ".json": "json",
             ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".html": "html", ".css": "css", ".sql": "sql"}
_IMAGE = re.compile(r"!\[")


@dataclass
class Preview:
    markdown: bool
    body: str
    language: str | None = None
    frontmatter: dict[str, str] = field(default_factory=dict)


def preview_of(path: str, text: str) -> Preview:
    """How to preview a file of the result: markdown files rendered (frontmatter shown apart, `$`
    kept as a dollar sign rather than maths, images shown as their markdown text, never fetched);
    other files as code."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix not in MARKDOWN_SUFFIXES:
        return Preview(False, text, LANGUAGES.get(suffix))
    front: dict[str, str] = {}
    body = text
    if path == "SKILL.md":
        parsed = parse_skill_md(text)
        front = {str(k): str(v) for k, v in parsed.frontmatter.items()}
        body = parsed.body
    return Preview(True, _IMAGE.sub(r"!\\[", body.replace("$", "\\$")), None, front)
