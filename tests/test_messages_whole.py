"""Messages that read whole: a bounded message is never cut mid-word and says how much was left out
and where the rest is; no command suggests a diff of a version with itself."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from trace2skill.cli.common import clip
from trace2skill.consolidate.run import ConsolidationResult, report_lines
from trace2skill.ingest.reader import _short
from trace2skill.llm.schema import describe_validation_error
from trace2skill.textcut import LOGS_HINT, cut_words

WORDS = st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), min_size=1, max_size=80).map(" ".join)


def _between_words(text: str, head: str, limit: int) -> bool:
    """`head` ends where a word ends, unless the window had no space in its second half (one long
    word is cut where it must be, rather than leaving almost nothing)."""
    return text[len(head)] == " " or " " not in text[limit // 2:limit]


@given(WORDS, st.integers(min_value=20, max_value=200))
def test_a_cut_ends_between_words_and_counts_what_is_left(text, limit):
    out = cut_words(text, limit)
    if len(text) <= limit:
        assert out == text
        return
    head, _, tail = out.partition("… (")
    assert text.startswith(head) and _between_words(text, head, limit)
    assert tail == f"{len(text) - len(head)} more characters, {LOGS_HINT})"


@given(WORDS, st.integers(min_value=8, max_value=80))
def test_a_table_cell_fits_its_width_and_ends_on_a_word(text, width):
    out = clip(text, width)
    assert len(out) <= width
    if out != text:
        assert out.endswith("…") and text.startswith(out[:-1]) and _between_words(text, out[:-1], width - 1)


def test_the_json_error_of_a_bad_record_is_whole():
    try:
        json.loads('{"task": "line one\nline two and more words to make it long enough to matter"}')
    except json.JSONDecodeError as exc:
        shown = _short(exc)
    assert shown.startswith("Invalid control character at: line 1 column")
    assert shown.endswith("(char 18)")


def test_a_long_validation_error_is_cut_between_words():
    from pydantic import BaseModel, ValidationError

    class Answer(BaseModel):
        answer: int

    try:
        Answer.model_validate({"answer": "no valid answer " * 40})
    except ValidationError as exc:
        text, whole = describe_validation_error(exc, limit=60), describe_validation_error(exc, limit=10_000)
    assert len(text) <= 61 and text.endswith("…")
    assert whole.startswith(text[:-1])
    assert not text[:-1].endswith(("an", "answe"))


def _result(version: str, applied: int) -> ConsolidationResult:
    return ConsolidationResult(run_id="con-1", version=version, levels=1, merge_calls=1, proposals=2, applied=applied,
                               rejected=[{"edit_id": "E1", "reason": "section not found"}], conflicts=[], findings=[])


def test_no_diff_hint_when_nothing_was_applied():
    lines = report_lines(_result("base", 0), "base")
    assert lines[0].startswith("nothing was applied (1 edits rejected)") or lines[0].startswith("nothing was applied")
    assert not any("trace2skill diff" in line for line in lines)
    applied = report_lines(_result("new", 2), "base")
    assert applied[-1] == "review it: trace2skill diff base new"


def test_a_finding_names_its_file_once():
    from trace2skill.skill.validate import Finding, describe

    assert describe(Finding("warning", "unknown_folder", "reference/ (4 files) is not one of …", "reference/")) \
        == "reference/ (4 files) is not one of …"
    assert describe(Finding("warning", "x", "SKILL.md has no name", "SKILL.md")) == "SKILL.md has no name"
    assert describe(Finding("warning", "x", "a link is broken", "SKILL.md", 3)) == "SKILL.md:3: a link is broken"
    assert describe(Finding("warning", "x", "a note", "")) == "a note"
