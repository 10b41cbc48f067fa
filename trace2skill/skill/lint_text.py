"""Lint of the text an edit adds: what does not belong in a markdown skill, sentences cut off, lines
repeated. Model output that went wrong (a tiny model's rambling, a template left unfilled, a JSON
answer pasted as prose) looks like this; all three are warnings a reviewer must confirm.

- ``markup``: raw HTML tags (``<pre>``, ``<p>``, ...), template placeholders (``{{...}}``,
  ``{%...%}``) and JSON fragments (``{"key": ...``, a bare ``"key": value,`` line) outside code
  blocks and code spans.
- ``truncated``: the last line of a paragraph or list item that stops mid-sentence: it ends on a
  word that cannot end a sentence ("can", "the", "and", ...), or a paragraph (not a list item) is
  long (at least `LONG_PROSE` characters) and ends without punctuation. Headings, tables, code,
  the frontmatter and short phrases (fewer than `MIN_PHRASE_WORDS` words) are never flagged.
- ``repeated_line``: a line of at least `MIN_REPEAT_WORDS` words (not a heading, not a label
  ending with ":") added twice or more, or added although the file has it already, and a
  sentence repeated within one added line.
Calibrated on the human-written skills and references in data/ (about 2,900 lines of markdown,
all treated as added): none of these findings.
Line numbers are 1-based.
"""

from __future__ import annotations

import re

from trace2skill.skill.sections import code_mask, heading
from trace2skill.skill.validate import Finding

HTML_TAGS = ("a|abbr|article|b|big|blockquote|body|br|button|center|cite|code|dd|del|details|div|dl|dt|em|"
             "figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|li|"
             "link|main|mark|meta|nav|ol|option|p|pre|samp|section|select|small|span|strong|style|sub|summary|sup|"
             "table|tbody|td|textarea|th|thead|tr|u|ul|var")
HTML = re.compile(rf"</?(?:{HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
TEMPLATE = re.compile(r"\{\{|\}\}|\{%|%\}")
_VALUE = r'(?:"|-?\d|\[|\{|true\b|false\b|null\b)'
JSON_LINE = re.compile(rf'^\s*[\[{{]\s*"[^"\n]{{1,80}}"\s*:|^\s*"[^"\n]{{1,80}}"\s*:\s*{_VALUE}|^\s*[}}\]]+\s*,?\s*$')
JSON_INLINE = re.compile(rf'\{{\s*"[^"\n]{{1,80}}"\s*:\s*{_VALUE}')
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
RULE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_DANGLING_WORDS = """a an the and or but nor to of for with without when whenever if can could will would should must
may might is are was were be been being that which who whose whom than then by in into onto from as at not no its
their your his her our my this these those because while before after unless until so such via per both
either neither each every any some"""
DANGLING = frozenset(_DANGLING_WORDS.split())
TERMINAL = tuple(".!?:;)]}\"'`*_…>|")
LONG_PROSE = 120
MIN_PHRASE_WORDS = 4  # shorter list items and lines are phrases, not sentences
MIN_REPEAT_WORDS = 4


def _prose(line: str) -> str:
    """The line with each inline code span replaced by the word "code"."""
    return CODE_SPAN.sub("code", line)


def _markup(line: str) -> str | None:
    text = _prose(line)
    tag = HTML.search(text)
    if tag:
        return f"raw HTML {tag.group(0)[:40]!r} in a markdown skill; write plain markdown"
    if TEMPLATE.search(text):
        return "template placeholder text ({{ }} or {% %}) left in the skill; write the actual guidance"
    if JSON_LINE.search(text) or JSON_INLINE.search(text):
        return "JSON fragment in prose; a skill says what to do in words (put a real example in a ``` block)"
    return None


def markup_findings(path: str, lines: list[str], added: set[int]) -> list[Finding]:
    mask = code_mask(lines)
    out = []
    for i in sorted(added):
        problem = None if mask[i] else _markup(lines[i])
        if problem:
            out.append(Finding("warning", "markup", problem, path, i + 1))
    return out


def _is_text(line: str, in_code: bool) -> bool:
    stripped = line.strip()
    return bool(stripped) and not in_code and heading(line) is None and not stripped.startswith("|") \
        and not RULE.match(line)


def _block_last(lines: list[str], mask: list[bool], i: int) -> bool:
    """Whether line i is the last line of its paragraph or list item."""
    if i + 1 >= len(lines):
        return True
    nxt = lines[i + 1]
    return not _is_text(nxt, mask[i + 1]) or bool(LIST_ITEM.match(nxt)) or bool(HTML.match(nxt.strip()))


def _block_text(lines: list[str], mask: list[bool], i: int) -> str:
    """The paragraph or list item that ends at line i, as one line."""
    start = i
    while start > 0 and not LIST_ITEM.match(lines[start]) and _is_text(lines[start - 1], mask[start - 1]):
        start -= 1
    return " ".join(line.strip() for line in lines[start:i + 1])


def _cut_off(block: str) -> str | None:
    item = bool(LIST_ITEM.match(block))
    text = LIST_ITEM.sub("", _prose(block)).strip()
    words = re.findall(r"[A-Za-z']+", text)
    if len(words) < MIN_PHRASE_WORDS or text.endswith(TERMINAL):
        return None
    last = text.split()[-1].lower()
    if last in DANGLING:
        return f"the text stops mid-sentence (ends with {last!r}): finish the sentence or remove it"
    if not item and len(text) >= LONG_PROSE:  # list items are often phrases without a full stop
        return "a long paragraph ends without punctuation: it looks cut off; finish or shorten it"
    return None


def truncated_findings(path: str, lines: list[str], added: set[int]) -> list[Finding]:
    mask = code_mask(lines)
    out = []
    for i in sorted(added):
        if not _is_text(lines[i], mask[i]) or not _block_last(lines, mask, i):
            continue
        problem = _cut_off(_block_text(lines, mask, i))
        if problem:
            out.append(Finding("warning", "truncated", problem, path, i + 1))
    return out


def _key(line: str) -> str:
    return " ".join(line.split()).lower()


def _repeatable(line: str, in_code: bool) -> bool:
    return not in_code and heading(line) is None and not line.rstrip().endswith(":") \
        and len(re.findall(r"\w+", line)) >= MIN_REPEAT_WORDS


def _repeat_of(i: int, seen: list[int], added: set[int]) -> int | None:
    """The line that added line i repeats (None: no other, or i is the first of added lines only)."""
    others = [j for j in seen if j != i]
    if not others or (i < others[0] and all(j in added for j in others)):
        return None
    return others[0]


def repeated_findings(path: str, lines: list[str], added: set[int]) -> list[Finding]:
    mask = code_mask(lines)
    seen: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        if _repeatable(line, mask[i]):
            seen.setdefault(_key(line), []).append(i)
    out = []
    for i in sorted(added):
        if not _repeatable(lines[i], mask[i]):
            continue
        other = _repeat_of(i, seen[_key(lines[i])], added)
        if other is not None:
            out.append(Finding("warning", "repeated_line", f"the same line is also at line {other + 1}; say it once",
                               path, i + 1))
            continue
        sentences = [_key(s) for s in SENTENCE_END.split(_prose(lines[i])) if len(s.split()) >= MIN_REPEAT_WORDS]
        if len(sentences) != len(set(sentences)):
            out.append(Finding("warning", "repeated_line", "a sentence is repeated within the line; say it once",
                               path, i + 1))
    return out


def _frontmatter_end(lines: list[str]) -> int:
    """The first line after a YAML frontmatter block (0 when there is none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    return next((i + 1 for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)


def text_findings(path: str, lines: list[str], added: set[int]) -> list[Finding]:
    if not path.endswith(".md"):
        return []
    floor = _frontmatter_end(lines)
    added = {i for i in added if i >= floor}
    return markup_findings(path, lines, added) + truncated_findings(path, lines, added) \
        + repeated_findings(path, lines, added)
