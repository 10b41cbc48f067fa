"""Line diffs: hunks with context, unified text, side-by-side rows, per-file diffs, partial accept."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from trace2skill.diff import (
    accept_file_hunks,
    added_lines,
    apply_hunks,
    diff_files,
    diff_hunks,
    side_by_side,
    unified_diff,
)

OLD = "".join(f"line {i}\n" for i in range(1, 21))
NEW = OLD.replace("line 2\n", "line two\n").replace("line 15\n", "line 15\nline 15.5\n").replace("line 20\n", "")


def test_hunks_with_context():
    hunks = diff_hunks(OLD, NEW)
    assert [h.header for h in hunks] == ["@@ -1,5 +1,5 @@", "@@ -13,8 +13,8 @@"]
    first = hunks[0]
    assert [(ln.tag, ln.text) for ln in first.lines] == [(" ", "line 1"), ("-", "line 2"), ("+", "line two"),
                                                         (" ", "line 3"), (" ", "line 4"), (" ", "line 5")]
    assert (first.lines[1].old_no, first.lines[1].new_no, first.lines[2].old_no, first.lines[2].new_no) == (2, None,
                                                                                                          None, 2)
    assert [(ln.tag, ln.text) for ln in hunks[1].lines if ln.tag != " "] == [("+", "line 15.5"), ("-", "line 20")]
    assert len(diff_hunks(OLD, NEW, context=0)) == 3
    assert diff_hunks(OLD, OLD) == []


def test_unified_text_matches_difflib():
    ours = unified_diff(OLD, NEW, old_name="a/SKILL.md", new_name="b/SKILL.md")
    theirs = "".join(difflib.unified_diff(OLD.splitlines(True), NEW.splitlines(True), "a/SKILL.md", "b/SKILL.md"))
    assert ours == theirs
    assert unified_diff(OLD, OLD) == ""
    no_nl = unified_diff("a\nb\n", "a\nc")
    assert no_nl.endswith("-b\n+c\n\\ No newline at end of file\n")


def test_side_by_side_rows():
    rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [(r.old_no, r.old_text, r.new_no, r.new_text, r.tag) for r in rows] == [
        (1, "a", 1, "a", "equal"), (2, "b", 2, "B", "replace"), (3, "c", 3, "c", "equal"), (None, None, 4, "d", "insert")]
    assert {r.hunk for r in rows} == {0}
    only = side_by_side(OLD, NEW, context=1)
    assert [r.tag for r in only if r.hunk == 0] == ["equal", "replace", "equal"]
    deleted = side_by_side("x\ny\n", "y\n")
    assert [(r.tag, r.old_text, r.new_text) for r in deleted] == [("delete", "x", None), ("equal", "y", "y")]


def test_partial_accept():
    assert apply_hunks(OLD, NEW, [0]) == OLD.replace("line 2\n", "line two\n")
    assert apply_hunks(OLD, NEW, [1]) == OLD.replace("line 15\n", "line 15\nline 15.5\n").replace("line 20\n", "")
    assert apply_hunks(OLD, NEW, [0, 1]) == NEW
    assert apply_hunks(OLD, NEW, []) == OLD
    assert added_lines(OLD, NEW) == {1, 15}


def test_diff_files_and_accept_per_file():
    old = {"SKILL.md": OLD, "references/a.md": "alpha\n", "references/gone.md": "bye\n"}
    new = {"SKILL.md": NEW, "references/a.md": "alpha\n", "references/new.md": "hello\n"}
    diffs = diff_files(old, new)
    assert [(d.path, d.status, len(d.hunks)) for d in diffs] == [
        ("SKILL.md", "changed", 2), ("references/gone.md", "removed", 1), ("references/new.md", "added", 1)]
    assert diffs[2].unified() == "--- /dev/null\n+++ b/references/new.md\n@@ -0,0 +1 @@\n+hello\n"
    merged = accept_file_hunks(old, new, {"SKILL.md": [1], "references/new.md": [0]})
    assert merged == {"SKILL.md": apply_hunks(OLD, NEW, [1]), "references/a.md": "alpha\n",
                      "references/gone.md": "bye\n", "references/new.md": "hello\n"}
    assert accept_file_hunks(old, new, {"SKILL.md": [0, 1], "references/new.md": [0],
                                        "references/gone.md": [0]}) == new


def _splice(old: str, hunks, subset) -> str:
    old_lines, out, pos = old.splitlines(keepends=True), [], 0
    for h in hunks:
        if h.index not in subset:
            continue
        start = h.old_start - 1 if h.old_count else h.old_start
        out += old_lines[pos:start]
        out += [ln.text + ("\n" if ln.newline else "") for ln in h.lines if ln.tag != "-"]
        pos = start + h.old_count
    return "".join(out + old_lines[pos:])


_lines = st.lists(st.sampled_from(["a", "b", "c", "# H", "", "- x", "- y"]), max_size=25)


@settings(max_examples=300, deadline=None)
@given(_lines, _lines, st.booleans(), st.booleans(), st.integers(min_value=0, max_value=4), st.data())
def test_accept_all_gives_new_none_gives_old(old_lines, new_lines, old_nl, new_nl, context, data):
    old = "\n".join(old_lines) + ("\n" if old_nl and old_lines else "")
    new = "\n".join(new_lines) + ("\n" if new_nl and new_lines else "")
    hunks = diff_hunks(old, new, context)
    assert apply_hunks(old, new, range(len(hunks)), context) == new
    assert apply_hunks(old, new, [], context) == old
    subset = data.draw(st.sets(st.integers(min_value=0, max_value=max(len(hunks) - 1, 0))))
    partial = apply_hunks(old, new, subset, context)
    # the partial text is exactly the old text with the shown hunks spliced in
    assert partial == _splice(old, hunks, subset)
    # and accepting everything that is left afterwards completes the change
    assert apply_hunks(partial, new, range(len(diff_hunks(partial, new, context))), context) == new
    # every hunk's line counts agree with its lines
    for h in hunks:
        assert h.old_count == sum(ln.tag != "+" for ln in h.lines)
        assert h.new_count == sum(ln.tag != "-" for ln in h.lines)
