"""What of a skill one prompt carries: never a section cut in the middle.

SKILL.md goes whole when it fits the prompt's budget. When it does not, the prompt gets the
section index (every heading with its length in lines) and the whole text of the sections the call
needs: those its edits name (by section title or by an anchor line inside them), the one its
lessons' words match best, then further matching sections while they fit. A section here is a
heading with its own text up to its first subsection (subsections are sections of their own), and
the text before the first heading (with the frontmatter) is one more. When even the index and the
needed sections do not fit, `SkillTooLargeError` says so, with the budget and the setting to raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trace2skill.context_window import CHARS_PER_TOKEN, CONTEXT_SETTING
from trace2skill.errors import SkillTooLargeError
from trace2skill.skill.frontmatter import parse_skill_md
from trace2skill.skill.sections import match_sections, parse_sections, split_lines

PREAMBLE = "(text before the first heading)"
_WORD = re.compile(r"[^\W_]{4,}")
_STOP_WORDS = """that this with when from then than they them their there these those have been were will would
should could what which while where your about into over under after before each every only also just more most
some such other because always never does done make made must very user users agent skill step steps"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Block:
    """A heading and its own text (up to its first subsection), or the text before any heading."""

    title: str
    path: str  # "A > B"; "" for the text before the first heading
    level: int  # 0 for the text before the first heading
    text: str

    @property
    def lines(self) -> int:
        return len(self.text.split("\n"))


def blocks(text: str) -> list[Block]:
    """SKILL.md (frontmatter included) as blocks in document order; together they are the whole file."""
    parsed = parse_skill_md(text)
    header = text[: len(text) - len(parsed.body)] if text.endswith(parsed.body) else ""
    lines, _ = split_lines(text[len(header):])
    out: list[Block] = []
    for s in parse_sections(lines):
        own = "\n".join(lines[s.start:s.body_end])
        if s.level == 0:
            out.append(Block(PREAMBLE, "", 0, header + own))
        else:
            out.append(Block(s.title, s.path_str, s.level, own))
    if header and (not out or out[0].level > 0):
        out.insert(0, Block(PREAMBLE, "", 0, header.rstrip("\n")))
    return [b for b in out if b.text.strip()]


def section_index(parts: Sequence[Block]) -> str:
    """Every heading of the file, indented by level, with its own length in lines."""
    return "\n".join(f"{'  ' * max(0, b.level - 1)}- {b.title} ({b.lines} lines)" for b in parts)


def _stem(word: str) -> str:
    """A crude stem, so "cancels", "cancelled" and "cancel" meet."""
    for suffix in ("ations", "ation", "ings", "ing", "led", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def words_of(texts: Iterable[str]) -> set[str]:
    """The distinctive words of some texts (four letters or more, common words left out), stemmed."""
    return {_stem(w) for t in texts for w in _WORD.findall(t.casefold()) if w not in _STOP}


def _score(block: Block, words: set[str]) -> int:
    heading = words_of([block.title])
    body = words_of([block.text])
    return sum(3 if w in heading else 1 for w in words if w in body or w in heading)


@dataclass(frozen=True)
class Need:
    """What a call is about: section titles and anchor lines its edits name (their sections are
    needed), and texts (lessons, edits) whose words pick sections: the best match is needed; the
    next best, then the other sections in document order, are shown while they fit."""

    sections: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()


NO_NEED = Need()


def _needed(text: str, parts: list[Block], need: Need) -> tuple[list[int], list[int]]:
    """(needed, optional) block numbers, optional ones best first."""
    needed: dict[int, None] = {}
    sections = parse_sections(parse_skill_md(text).body)
    paths = [b.path for b in parts]
    for query in need.sections:
        for hit in match_sections(sections, query):
            if hit.path_str in paths:
                needed[paths.index(hit.path_str)] = None
    for anchor in (a.strip() for a in need.anchors):
        found = next((k for k, b in enumerate(parts) if anchor and anchor in b.text), None)
        if found is not None:
            needed[found] = None
    words = words_of(need.texts)
    ranked = sorted((k for k in range(len(parts)) if _score(parts[k], words) > 0),
                    key=lambda k: (-_score(parts[k], words), k))
    if ranked:
        needed.setdefault(ranked[0], None)
    rest = [k for k in range(len(parts)) if k not in ranked]  # then the others, in document order
    return list(needed), [k for k in [*ranked, *rest] if k not in needed]


def _render(parts: list[Block], shown: list[int], total_chars: int) -> str:
    body = [f"SKILL.md has {sum(b.lines for b in parts)} lines ({total_chars:,} characters), more than this "
            f"prompt holds: here are its section index and the whole text of {len(shown)} of its "
            f"{len(parts)} sections. The other sections exist as the index lists them; name them by title, "
            "and copy anchors only from the text shown.",
            "", "Section index (lines per section):", section_index(parts)]
    for k in sorted(shown):
        body += ["", f'<section path="{parts[k].path or PREAMBLE}">', parts[k].text.strip("\n"), "</section>"]
    return "\n".join(body)


def too_large(what: str, chars: int, limit: int, detail: str = "") -> SkillTooLargeError:
    """The refusal: what needed how much, the budget in characters and tokens, and what to change."""
    return SkillTooLargeError(
        f"{what} needs {chars:,} characters of the skill in one prompt{detail}, but prompts to this model hold "
        f"{limit:,} characters (about {limit // CHARS_PER_TOKEN:,} tokens); if the model's context window is "
        f"larger, say so with `trace2skill settings set {CONTEXT_SETTING} N` (N in tokens), else use a model "
        "with a larger context or move detail from SKILL.md into references/ files")


def skill_excerpt(text: str, limit: int, need: Need, *, what: str = "This call") -> str:
    """SKILL.md whole when it fits in `limit` characters; else its section index and whole sections
    (see the module docstring). SkillTooLargeError when the index and the needed sections do not fit."""
    if len(text) <= limit:
        return text
    parts = blocks(text)
    needed, optional = _needed(text, parts, need)
    shown = list(needed)
    view = _render(parts, shown, len(text))
    if len(view) > limit:
        plural = "" if len(shown) == 1 else "s"
        raise too_large(what, len(view), limit, f" (the section index and the {len(shown)} section{plural} it "
                                                f"needs; all of SKILL.md is {len(text):,})")
    for k in optional:
        wider = _render(parts, [*shown, k], len(text))
        if len(wider) <= limit:
            shown, view = [*shown, k], wider
    return view


def whole_skill(body: str, others: Iterable[str], limit: int, *, what: str = "An evaluation") -> str:
    """A skill's SKILL.md body whole, with its other files listed by path (they are not inlined);
    SkillTooLargeError when that does not fit in `limit` characters."""
    listing = sorted(others)
    text = body.strip() + (f"\n\n(Files of this skill not shown here: {', '.join(listing)}.)" if listing else "")
    if len(text) > limit:
        raise too_large(what, len(text), limit)
    return text


def context_excerpt(text: str, limit: int, need: Need) -> str:
    """Like `skill_excerpt`, for a prompt that only consults the skill (an analyst's): never refuses.
    When the needed sections do not fit, the section index alone; when even that does not fit, one
    line saying how large the skill is. Nothing is ever cut in the middle."""
    try:
        return skill_excerpt(text, limit, need)
    except SkillTooLargeError:
        parts = blocks(text)
        index = _render(parts, [], len(text))
        if len(index) <= limit:
            return index
        return f"(SKILL.md has {sum(b.lines for b in parts)} lines in {len(parts)} sections: too large to show here)"
