"""Deterministic apply of patches to a skill: every op, anchors (exact, fuzzy, unmatched), missing
files, conflicts, duplicates, orphans, locks, line provenance, minimum support, validation; plus the
markdown section model the edits target."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace2skill.models import Edit, Patch
from trace2skill.skill import SkillFolder, apply_patch, find_section, lint_skill, load_dir, parse_sections
from trace2skill.skill.anchors import best_span, locate
from trace2skill.skill.conventions import convention_findings
from trace2skill.skill.sections import match_sections
from trace2skill.skill.support import LOW_SUPPORT_FILE

REPO = Path(__file__).resolve().parents[1]
WIKI = REPO / "data" / "tau-bench" / "tau_bench" / "envs" / "airline" / "wiki.md"
MCP_BUILDER = REPO / "data" / "anthropics-skills" / "skills" / "mcp-builder"
BOOK_ANCHOR = "The agent must first obtain the user id, then ask for the trip type, origin, destination."
BAG_SENTENCE = "Each extra baggage is 50 dollars."


@pytest.fixture
def wiki() -> SkillFolder:
    return SkillFolder.from_markdown("airline-policy", "Airline policy: booking, changes, cancellations, refunds.",
                                     WIKI.read_text())


def _lines(result, path="SKILL.md") -> list[str]:
    return result.skill.as_files()[path].split("\n")


def _written(result, edit_id, path="SKILL.md") -> list[str]:
    lines = _lines(result, path)
    return [lines[i] for i, o in enumerate(result.line_origins[path]) if o == edit_id]


def _body_section(result, title):
    body_lines = _lines(result)
    secs = parse_sections(body_lines)
    sec = find_section(secs, title)
    return body_lines[sec.start:sec.end]


# --------------------------------------------------------------------------- sections


def test_sections_of_wiki_and_mcp_builder(wiki):
    secs = parse_sections(wiki.body)
    assert [s.path_str for s in secs if s.level] == [
        "Airline Agent Policy", "Airline Agent Policy > Domain Basic", "Airline Agent Policy > Book flight",
        "Airline Agent Policy > Modify flight", "Airline Agent Policy > Cancel flight", "Airline Agent Policy > Refund"]
    top = find_section(secs, "airline agent policy")
    assert top.start == 1 and top.end == len(wiki.body.split("\n")) - 1 and top.body_end < top.end
    book = find_section(secs, "Airline Agent Policy > Book flight")
    assert book == find_section(secs, "## BOOK FLIGHT") and book.level == 2
    assert wiki.body.split("\n")[book.start] == "## Book flight"
    assert find_section(secs, "Refund > Book flight") is None
    mcp = parse_sections(load_dir(MCP_BUILDER).body)
    assert find_section(mcp, "High-Level Workflow").path == ("Process", "🚀 High-Level Workflow")
    assert len(match_sections(mcp, "Phase 2: Implementation")) == 1
    fenced = parse_sections("# A\n```python\n# not a heading\n```\n## B\n")
    assert [s.title for s in fenced] == ["A", "B"]


# --------------------------------------------------------------------------- anchors


def test_anchor_exact_fuzzy_ambiguous_unmatched():
    text = WIKI.read_text()
    exact = locate(text, BAG_SENTENCE)
    assert exact.kind == "exact" and text[exact.start:exact.end] == BAG_SENTENCE
    typo = locate(text, "Each extra bagage is 50 dolars.")
    assert typo.kind == "fuzzy" and text[typo.start:typo.end] == BAG_SENTENCE
    long_typo = BOOK_ANCHOR.replace("obtain", "obtian").replace("destination", "destinaton")
    found = locate(text, long_typo)
    assert found.kind == "fuzzy" and text[found.start:found.end] == BOOK_ANCHOR and len(long_typo) > 32
    assert "occurs 3 times" in locate(text, "The agent must first obtain the user id")
    assert "close to several places" in locate(text, "The agent must first obtian the user id")
    assert "not found" in locate(text, "Passengers may bring a parrot on board.")
    assert best_span("kitten", "the sitting cat") == (2, 5, 10)  # "ittin": the shortest best span


# --------------------------------------------------------------------------- each op


def test_insert_after_and_before(wiki):
    r = apply_patch(wiki, [
        Edit(id="after", op="insert_after", section="Book flight", anchor=BOOK_ANCHOR, content="- Confirm the trip type."),
        Edit(id="before", op="insert_before", section="Book flight", anchor="- Travel insurance:",
             content="- Ask about insurance last.\n"),
    ])
    assert r.rejected == [] and r.conflicts == []
    book = _body_section(r, "Book flight")
    i = book.index("- " + BOOK_ANCHOR)
    assert book[i + 1] == "- Confirm the trip type."
    j = next(k for k, line in enumerate(book) if line.startswith("- Travel insurance:"))
    assert book[j - 1] == "- Ask about insurance last."
    assert {a.edit_id: a.match for a in r.applied} == {"after": "exact", "before": "exact"}


def test_append_add_replace_delete(wiki):
    r = apply_patch(wiki, [
        Edit(id="app", op="append_to_section", section="Cancel flight", content="- Check the cancellation reason."),
        Edit(id="add", op="add_section", section="Baggage checks", anchor="Book flight",
             content="- Count bags per passenger."),
        Edit(id="add2", op="add_section", content="## Escalation\n\n- Transfer only when out of scope."),
        Edit(id="rep", op="replace_in_section", section="Book flight", anchor=BAG_SENTENCE,
             content="Each extra baggage is 50 dollars and is not refundable."),
        Edit(id="del", op="delete_section", section="Domain Basic"),
    ], dirname="airline-policy")
    assert r.rejected == [] and r.conflicts == [] and r.findings == []
    text = r.skill.body
    assert "## Domain Basic" not in text and "Each flight has a flight number" not in text
    assert "Each extra baggage is 50 dollars and is not refundable." in text
    cancel = _body_section(r, "Cancel flight")
    assert cancel[-2:] == ["- Check the cancellation reason.", ""]
    titles = [s.title for s in parse_sections(text) if s.level == 2]
    assert titles == ["Book flight", "Baggage checks", "Modify flight", "Cancel flight", "Refund", "Escalation"]
    assert _written(r, "add") == ["", "## Baggage checks", "", "- Count bags per passenger."]
    assert _written(r, "add2")[-1] == "- Transfer only when out of scope."
    deleted = next(a for a in r.applied if a.edit_id == "del")
    assert deleted.start == deleted.end


def test_add_section_rules(wiki):
    r = apply_patch(wiki, [
        Edit(id="exists", op="add_section", section="Refund", content="- dup"),
        Edit(id="notitle", op="add_section", content="- no heading and no section"),
        Edit(id="badplace", op="add_section", section="New one", anchor="No such section", content="- x"),
        Edit(id="own", op="add_section", section="Modify flight", content="### Seat maps\n\n- Check seats."),
        Edit(id="path", op="add_section", section="Airline Agent Policy > Pets", content="- No pets in cabin."),
        Edit(id="named", op="add_section", section="Policy > Meals", content="## Meals\n\n- Meals are free."),
    ])
    assert {a.edit_id for a in r.applied} == {"own", "path", "named"}
    assert "\n## Pets\n\n- No pets in cabin.\n" in r.skill.body
    assert r.skill.body.endswith("\n## Meals\n\n- Meals are free.\n")
    reasons = dict(r.rejected)
    assert "already exists" in reasons["exists"]
    assert "needs a title" in reasons["notitle"]
    assert "not found" in reasons["badplace"]
    # content with its own heading: `section` names where it goes (after Modify flight and its text)
    modify = _body_section(r, "Modify flight")
    assert "### Seat maps" in modify and modify[-2] == "- Check seats."


def test_create_and_delete_files(wiki):
    wiki.files["references/old.md"] = "# Old\n"
    r = apply_patch(wiki, [
        Edit(id="link", op="append_to_section", section="Refund", content="- See [refund table](references/refunds.md)."),
        Edit(id="new", op="create_file", file="references/refunds.md", content="# Refunds\n\n| tier | amount |\n"),
        Edit(id="drop", op="delete_file", file="references/old.md"),
        Edit(id="nested", op="create_file", file="references/a/b.md", content="x"),
        Edit(id="escape", op="create_file", file="../evil.md", content="x"),
        Edit(id="skillmd", op="delete_file", file="SKILL.md"),
    ], dirname="airline-policy")
    assert r.skill.files == {"references/refunds.md": "# Refunds\n\n| tier | amount |\n"}
    assert r.line_origins["references/refunds.md"] == ["new", "new", "new"]
    reasons = dict(r.rejected)
    assert set(reasons) == {"nested", "escape", "skillmd"}
    assert "one level deep" in reasons["nested"] and "'..'" in reasons["escape"]
    assert r.findings == []


# --------------------------------------------------------------------------- anchors in apply


def test_fuzzy_anchor_applies_and_unmatched_is_reported(wiki):
    r = apply_patch(wiki, [
        Edit(id="fz", op="insert_after", anchor="Each extra bagage is 50 dolars.", content="- Bags are weighed."),
        Edit(id="none", op="insert_after", anchor="Pets fly free on Tuesdays.", content="- never"),
        Edit(id="amb", op="insert_after", anchor="The agent must first obtain the user id", content="- ambiguous"),
    ])
    assert [(a.edit_id, a.match) for a in r.applied] == [("fz", "fuzzy")]
    reasons = dict(r.rejected)
    assert "not found" in reasons["none"] and "occurs 3 times" in reasons["amb"]
    lines = _lines(r)
    at = next(a for a in r.applied if a.edit_id == "fz")
    assert lines[at.start - 1].endswith(BAG_SENTENCE) and lines[at.start] == "- Bags are weighed."


def test_a_verbatim_anchor_outside_the_named_section_is_used_where_it_is(wiki):
    r = apply_patch(wiki, [
        Edit(id="moved", op="insert_after", section="Refund", anchor=BAG_SENTENCE, content="- Bags are weighed."),
        Edit(id="fuzzy", op="insert_after", section="Refund", anchor="Each extra bagage is 50 dolars.", content="- x"),
        Edit(id="amb", op="insert_after", section="Refund", anchor="The agent must first obtain the user id",
             content="- y"),
    ])
    assert [a.edit_id for a in r.applied] == ["moved"]
    lines = _lines(r)
    at = r.applied[0].start
    assert lines[at - 1].endswith(BAG_SENTENCE) and lines[at] == "- Bags are weighed."
    reasons = dict(r.rejected)  # outside the section only a unique, exact anchor counts
    assert "not found" in reasons["fuzzy"] and "not found" in reasons["amb"]


def test_edits_to_missing_files_and_sections_rejected(wiki):
    r = apply_patch(wiki, [
        Edit(id="f", op="append_to_section", file="references/missing.md", section="X", content="y"),
        Edit(id="s", op="append_to_section", section="Lost luggage", content="y"),
        Edit(id="d", op="delete_file", file="references/missing.md"),
    ])
    reasons = dict(r.rejected)
    assert "edits to missing files are rejected" in reasons["f"]
    assert "not found" in reasons["s"] and "no such file" in reasons["d"]
    assert r.applied == [] and r.skill.as_files() == wiki.as_files()



def test_a_file_named_in_another_letter_case_is_the_existing_file(wiki):
    r = apply_patch(wiki, [Edit(id="c", op="append_to_section", file="skill.md", section="Refund",
                                content="- Say when the refund arrives.")])
    assert r.rejected == [] and [a.edit_id for a in r.applied] == ["c"]
    assert "- Say when the refund arrives." in _body_section(r, "Refund")
    assert set(r.skill.as_files()) == set(wiki.as_files())  # no skill.md beside SKILL.md


# --------------------------------------------------------------------------- conflicts and duplicates


def test_overlapping_edits_are_withheld_as_conflicts(wiki):
    r = apply_patch(wiki, [
        Edit(id="r1", op="replace_in_section", section="Book flight", anchor=BAG_SENTENCE, content="Bags cost $50."),
        Edit(id="r2", op="replace_in_section", anchor="Each extra baggage is 50 dollars", content="Bags: 50 USD"),
        Edit(id="del", op="delete_section", section="Refund"),
        Edit(id="ins", op="insert_after", section="Refund", anchor="explicitly asks for some compensation.",
             content="- Log every certificate."),
        Edit(id="v1", op="append_to_section", section="Modify flight", content="- Never change the number of passengers."),
        Edit(id="v2", op="append_to_section", section="Modify flight", content="- Never change the number of passengers!"),
        Edit(id="ok1", op="append_to_section", section="Cancel flight", content="- Confirm before cancelling."),
        Edit(id="ok2", op="append_to_section", section="Cancel flight", content="- Refunds take 5 to 7 days."),
        Edit(id="ok1-again", op="append_to_section", section="Cancel flight", content="- Confirm before cancelling."),
    ])
    pairs = {frozenset(c.edit_ids): c.reason for c in r.conflicts}
    assert set(pairs) == {frozenset({"r1", "r2"}), frozenset({"v1", "v2"}), frozenset({"del", "ins"})}
    assert "both change lines" in pairs[frozenset({"r1", "r2"})]
    assert "variants" in pairs[frozenset({"v1", "v2"})]
    # the insertion is anchored on the last line of the deleted section
    assert "placed by lines" in pairs[frozenset({"del", "ins"})]
    reasons = dict(r.rejected)
    assert reasons == {"ok1-again": "duplicate of edit ok1"}
    assert [a.edit_id for a in r.applied] == ["ok1", "ok2"]
    assert BAG_SENTENCE in r.skill.body and "Never change the number of passengers" not in r.skill.body
    cancel = _body_section(r, "Cancel flight")
    assert cancel[-4:] == ["- Confirm before cancelling.", "", "- Refunds take 5 to 7 days.", ""]


def test_similar_but_distinct_insertions_both_apply(wiki):
    r = apply_patch(wiki, [
        Edit(id="cabin", op="append_to_section", section="Book flight",
             content="- Always confirm the cabin class before booking."),
        Edit(id="pay", op="append_to_section", section="Book flight",
             content="- Always confirm the payment method before booking."),
    ])
    assert r.conflicts == [] and [a.edit_id for a in r.applied] == ["cabin", "pay"]
    assert _body_section(r, "Book flight")[-4:] == ["- Always confirm the cabin class before booking.", "",
                                                     "- Always confirm the payment method before booking.", ""]


def _conflicted(result) -> set[str]:
    return {i for c in result.conflicts for i in c.edit_ids}


def test_insertion_inside_deleted_section_and_file_conflicts(wiki):
    wiki.files["references/a.md"] = "# A\n\nalpha line\n"
    r = apply_patch(wiki, [
        Edit(id="del", op="delete_section", section="Modify flight"),
        Edit(id="ins", op="insert_after", section="Modify flight", anchor="- Change baggage and insurance:",
             content="- Bags can be added later."),
        Edit(id="rm", op="delete_file", file="references/a.md"),
        Edit(id="ed", op="insert_after", file="references/a.md", anchor="alpha line", content="beta line"),
        Edit(id="link", op="append_to_section", section="Refund", content="- See references/b.md."),
        Edit(id="c1", op="create_file", file="references/b.md", content="one"),
        Edit(id="c2", op="create_file", file="references/b.md", content="two"),
    ])
    pairs = {frozenset(c.edit_ids): c.reason for c in r.conflicts}
    assert set(pairs) == {frozenset({"del", "ins"}), frozenset({"rm", "ed"}), frozenset({"c1", "c2"})}
    assert "inserts inside" in pairs[frozenset({"del", "ins"})]
    assert [a.edit_id for a in r.applied] == ["link"]
    assert "references/a.md" in r.skill.files and "references/b.md" not in r.skill.files
    assert any(f.code == "dangling_mention" for f in convention_findings(r.skill))


# --------------------------------------------------------------------------- orphans


def test_orphan_create_file_dropped_linked_one_kept(wiki):
    r = apply_patch(wiki, Patch(edits=[
        Edit(id="orphan", op="create_file", file="references/unused.md", content="# Unused\n"),
        Edit(id="linked", op="create_file", file="references/fees.md", content="# Fees\n"),
        Edit(id="link", op="add_section", section="Fees", content="Fee table: [fees](references/fees.md)."),
    ]), dirname="airline-policy")
    assert dict(r.rejected) == {"orphan": "orphan: no SKILL.md edit links to references/unused.md"}
    assert sorted(r.skill.files) == ["references/fees.md"]
    assert r.findings == []
    # the link itself withheld (conflict) -> the file becomes an orphan too
    r2 = apply_patch(wiki, [
        Edit(id="l1", op="replace_in_section", anchor=BAG_SENTENCE, content="See [fees](references/fees.md)."),
        Edit(id="l2", op="replace_in_section", anchor=BAG_SENTENCE + " ", content="Bags: see fees."),
        Edit(id="file", op="create_file", file="references/fees.md", content="# Fees\n"),
    ])
    assert _conflicted(r2) == {"l1", "l2"} and "orphan" in dict(r2.rejected)["file"]


# --------------------------------------------------------------------------- locks


def test_locked_sections_are_never_changed(wiki):
    locked = ["Refund", "Airline Agent Policy > Book flight"]
    before_refund = _body_section(apply_patch(wiki, []), "Refund")
    before_book = _body_section(apply_patch(wiki, []), "Book flight")
    r = apply_patch(wiki, [
        Edit(id="app", op="append_to_section", section="Refund", content="- New refund rule."),
        Edit(id="rep", op="replace_in_section", anchor=BAG_SENTENCE, content="Bags are free."),
        Edit(id="del", op="delete_section", section="Book flight"),
        Edit(id="top", op="append_to_section", section="Airline Agent Policy", content="- General rule."),
        Edit(id="sib", op="add_section", section="Loyalty", anchor="Refund", content="- Tiers matter."),
        Edit(id="fz", op="insert_after", anchor="Each extra bagage is 50 dolars.", content="- sneaky"),
        Edit(id="mod", op="append_to_section", section="Modify flight", content="- Allowed change."),
    ], locked_sections=locked)
    reasons = dict(r.rejected)
    assert set(reasons) == {"app", "rep", "del", "fz"}
    assert reasons["app"] == "section 'Refund' is locked"
    assert reasons["rep"] == "section 'Airline Agent Policy > Book flight' is locked"
    assert _body_section(r, "Refund") == before_refund
    assert _body_section(r, "Book flight") == before_book
    assert {a.edit_id for a in r.applied} == {"top", "sib", "mod"}
    # the parent's own text (before its first subsection) is not inside the locked children
    assert "- General rule." in r.skill.body and "## Loyalty" in r.skill.body


# --------------------------------------------------------------------------- provenance


def test_line_origins_match_applied_ranges_and_base(wiki):
    edits = [
        Edit(id="a", op="insert_after", section="Book flight", anchor=BOOK_ANCHOR, content="- A1\n- A2"),
        Edit(id="b", op="replace_in_section", anchor=BAG_SENTENCE, content="Bags: 50 USD each.\nNo refunds."),
        Edit(id="c", op="add_section", section="Extra", content="- C1"),
        Edit(id="d", op="delete_section", section="Domain Basic"),
    ]
    r = apply_patch(wiki, edits)
    lines = _lines(r)[:-1]  # the text ends with a newline
    origins = r.line_origins["SKILL.md"]
    assert len(origins) == len(lines)
    for a in r.applied:
        assert origins[a.start:a.end] == [a.edit_id] * (a.end - a.start)
    assert sum(o is not None for o in origins) == sum(a.end - a.start for a in r.applied)
    assert [lines[i] for i, o in enumerate(origins) if o == "a"] == ["- A1", "- A2"]
    assert [lines[i] for i, o in enumerate(origins) if o == "b"][-1] == "No refunds."
    base_lines = wiki.as_files()["SKILL.md"].split("\n")
    kept = [line for line, o in zip(lines, origins) if o is None]
    # every base-origin line is a base line, in base order
    it = iter(base_lines)
    assert all(any(line == b for b in it) for line in kept)
    assert r.line_origins["SKILL.md"][:4] == [None] * 4  # the frontmatter is never edited


# --------------------------------------------------------------------------- minimum support


def test_min_support_drops_or_moves_low_support_edits(wiki):
    edits = [
        Edit(id="strong", op="append_to_section", section="Refund", content="- Strong rule."),
        Edit(id="weak", op="append_to_section", section="Cancel flight", content="- Weak hunch."),
        Edit(id="weak-sec", op="add_section", section="Seat upgrades", content="- Upgrades need miles."),
        Edit(id="weak-del", op="delete_section", section="Domain Basic"),
    ]
    support = {"strong": 3, "weak": 1, "weak-sec": 1, "weak-del": 1}
    dropped = apply_patch(wiki, edits, support=support, min_support=2)
    assert [a.edit_id for a in dropped.applied] == ["strong"]
    assert dict(dropped.rejected)["weak"] == "support 1 is below the minimum 2"
    assert LOW_SUPPORT_FILE not in dropped.skill.files and "Weak hunch" not in dropped.skill.body

    moved = apply_patch(wiki, edits, support=support, min_support=2, move_low_support=True, dirname="airline-policy")
    assert set(dict(moved.rejected)) == {"weak-del"}
    assert "Weak hunch" not in moved.skill.body and "Domain Basic" in moved.skill.body
    notes = moved.skill.files[LOW_SUPPORT_FILE]
    assert "## Cancel flight (seen in 1 trajectory)\n\n- Weak hunch." in notes
    assert "## Seat upgrades (seen in 1 trajectory)\n\n- Upgrades need miles." in notes
    link_lines = [line for line in moved.skill.body.split("\n") if LOW_SUPPORT_FILE in line]
    assert len(link_lines) == 1
    assert {a.edit_id for a in moved.applied if a.moved} == {"weak", "weak-sec"}
    assert _written(moved, "weak", LOW_SUPPORT_FILE)[-1] == "- Weak hunch."
    assert moved.findings == []
    locked = apply_patch(wiki, edits, support=support, min_support=2, move_low_support=True, locked_sections=["Refund"])
    assert _body_section(locked, "Refund") == _body_section(apply_patch(wiki, []), "Refund")
    body = locked.skill.body.split("\n")
    assert body[0] == "" and LOW_SUPPORT_FILE in body[1] and body[2:4] == ["", "# Airline Agent Policy"]
    assert {a.edit_id for a in locked.applied} == {"weak", "weak-sec"} and "strong" in dict(locked.rejected)
    everything = apply_patch(wiki, edits, support=support, min_support=1)
    assert {a.edit_id for a in everything.applied} == set(support)


# --------------------------------------------------------------------------- validation of the result


def test_result_is_validated_against_the_spec_and_conventions_only_warn(wiki):
    r = apply_patch(wiki, [Edit(id="x", op="append_to_section", section="Refund",
                                content="- See [table](references/table.md).")], dirname="airline-policy")
    assert r.findings == [] and r.valid
    assert [f.code for f in convention_findings(r.skill)] == ["dangling_link"]
    renamed = apply_patch(wiki, [Edit(id="x", op="append_to_section", section="Refund", content="- Be kind.")],
                          dirname="other-name")
    assert [f.code for f in renamed.findings] == ["name_mismatch"] and not renamed.valid
    big = apply_patch(wiki, [Edit(id="big", op="add_section", section="Long",
                                  content="\n".join(f"- rule {i}" for i in range(450)))])
    assert big.valid and "size_budget" in {f.code for f in lint_skill(big.skill, wiki) if f.severity == "error"}
    mcp = apply_patch(load_dir(MCP_BUILDER), [
        Edit(id="m", op="append_to_section", section="Phase 2: Implementation > 2.3 Implement Tools",
             content="- Return actionable error messages.")], dirname="mcp-builder")
    assert [a.edit_id for a in mcp.applied] == ["m"]
    assert mcp.valid and "unknown_folder" in {f.code for f in lint_skill(mcp.skill, load_dir(MCP_BUILDER))}
    unchanged = dict(mcp.skill.files.items())
    assert unchanged == load_dir(MCP_BUILDER).files
