"""Provenance that survives hand edits: a reviewer's reworded line keeps the links of the line it
replaced (matched by place in its change block and similarity) and says who reworded it; a base line
a rejected hunk restored keeps the base's origin; removed lines keep a record of what removed them.
Also the draft/saved model: a proposal saved as it is becomes the current version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import BOOK_LINE, CANCEL_LINE, seed_consolidation_file
from trace2skill.cli import main
from trace2skill.diff import accept_file_hunks, diff_files
from trace2skill.fuzzy import line_similarity
from trace2skill.provenance import blame, deleted_lines, line_origin
from trace2skill.rewords import review_links, reworded
from trace2skill.skill_review import count_decisions, kept_hunks, save_review
from trace2skill.store import Workspace
from trace2skill.store.provenance import save_line_origins
from trace2skill.store.skills import folder_of, get_version, import_skill, list_versions, save_version
from trace2skill.store.version_states import current_version_id, version_states
from trace2skill.ui.provenance_view import line_origins, lines_frame

REWORD = "- Confirm the cancellation with the user first."


# --------------------------------------------------------------------------- matching lines (no store)


def test_similarity_of_lines():
    assert line_similarity("Confirm  details FIRST.", "confirm details first.") == 1.0
    assert 0.4 < line_similarity("- Lesson learnt: Confirm details first.", REWORD) < 0.6
    assert line_similarity("- Lesson learnt: Confirm details first.", "## Refund") < 0.3
    assert line_similarity("", "anything") == 0.0


def test_a_reworded_line_is_matched_by_place_and_similarity():
    old = ["# Title", "", "- Lesson learnt: Confirm details first.", "", "## Refund"]
    new = ["# Title", "", REWORD, "", "## Refund"]
    [(line, (was, similarity))] = reworded(old, new).items()
    assert (line, was) == (2, 2) and 0.5 < similarity < 0.9
    # An unrelated line put in the place of another is written by hand, not a rewording.
    assert reworded(old, ["# Title", "", "- Pets fly in the cabin only.", "", "## Refund"]) == {}


def test_matching_keeps_line_order_and_ignores_blank_lines():
    old = ["- Ask for the user id.", "- Ask for the reservation id.", "- Check the fare class."]
    new = ["- A new first rule about baggage.", "- Ask the user for their user id.", "",
           "- Ask the user for the reservation id.", "- Check the fare class of every segment."]
    pairs = reworded(old, new)
    assert {j: i for j, (i, _s) in pairs.items()} == {1: 0, 3: 1, 4: 2}
    assert reworded(["", "text"], ["", "other words entirely"]) == {}


def test_links_of_a_review_restored_reworded_and_deleted():
    middle = "".join(f"context line {i}\n" for i in range(8))  # keeps the two changes in two hunks
    base = "a\nkeep this line\n" + middle
    proposal = "a\nthe proposal rewrote this line\n" + middle + "new rule one\n"
    merged = accept_file_hunks({"f": base}, {"f": proposal}, {"f": [1]})["f"]  # hunk 0 rejected
    assert merged == "a\nkeep this line\n" + middle + "new rule one\n"
    saved = merged.replace("new rule one", "new rule number one")
    found = review_links(("P", proposal), ("B", base), merged, saved)
    assert {k: (v.kind, v.version, v.line) for k, v in found.links.items()} == {
        1: ("restored", "B", 1), 10: ("reword", "P", 10)}
    assert found.links[10].text == "new rule one" and found.links[10].similarity >= 0.6
    assert [(d.line, d.how) for d in found.deleted] == [(1, "rejected")]
    by_hand = review_links(("P", proposal), ("B", base), proposal, proposal.replace("the proposal rewrote this line\n",
                                                                                     ""))
    assert not by_hand.links
    assert [(d.line, d.text, d.how) for d in by_hand.deleted] == [(1, "the proposal rewrote this line", "deleted")]


def test_counts_and_kept_hunks():
    counts = count_decisions(["accept", "reject", None, "accept"])
    assert counts.text() == "4 hunks: 2 accepted, 1 rejected, 1 undecided" and counts.kept == 3
    assert kept_hunks({0: "accept", 1: "reject", 2: None}) == [0, 2]


# --------------------------------------------------------------------------- a reviewed consolidation


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory) -> tuple[Path, str, str]:
    return seed_consolidation_file(tmp_path_factory.mktemp("seed"))


@pytest.fixture
def reviewed(seeded_file, tmp_path):
    """A copy of the seeded workspace: (workspace, base id, proposal id)."""
    path, base, proposal = seeded_file
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{tmp_path / 'ws.db'}{suffix}")
    ws = Workspace(tmp_path / "ws.db")
    yield ws, base, proposal
    ws.close()


def _review(ws: Workspace, base_id: str, proposal_id: str, *, reject_book: bool = True, actor: str = "Dana"):
    """Reject the booking hunk, reword the cancel line, save; returns (outcome, saved SKILL.md lines)."""
    base, proposal = get_version(ws.db, base_id), get_version(ws.db, proposal_id)
    keep = [1] if reject_book else [0, 1]
    merged = accept_file_hunks(base.files, proposal.files, {"SKILL.md": keep})
    saved = {**merged, "SKILL.md": merged["SKILL.md"].replace(CANCEL_LINE, REWORD)}
    outcome = save_review(ws.db, proposal, base, merged, saved, actor=actor, message="reviewed")
    return outcome, saved["SKILL.md"].splitlines()


def test_a_reworded_line_blames_back_to_its_edit_lessons_and_steps(reviewed):
    ws, base, proposal = reviewed
    outcome, lines = _review(ws, base, proposal)
    assert (outcome.kind, outcome.reworded, outcome.deleted) == ("new_version", 1, 1)
    line = lines.index(REWORD) + 1
    found = blame(ws.db, outcome.version_id, "SKILL.md", line)
    before = blame(ws.db, proposal, "SKILL.md", get_version(ws.db, proposal).files["SKILL.md"].splitlines()
                   .index(CANCEL_LINE) + 1)
    assert found["text"] == REWORD and found["origin"]["kind"] == "edit"
    [step] = found["rewords"]
    assert (step["by"], step["version"], step["replaced"], step["replaced_version"]) == (
        "Dana", outcome.version_id, CANCEL_LINE, proposal)
    assert found["origin"]["edit_id"] == before["origin"]["edit_id"]
    assert len(found["lessons"]) == 6 and found["lessons"] == before["lessons"]
    assert found["steps"] == before["steps"] and found["merge_path"] == before["merge_path"]
    # The one-pass origins of the Provenance screen agree, rewords included.
    fast = line_origins(ws.db, outcome.version_id, "SKILL.md")
    slow = [line_origin(ws.db, outcome.version_id, "SKILL.md", i) for i in range(len(lines))]
    assert [(o["kind"], o.get("edit_id"), o["version"], o.get("rewords")) for o in fast] == \
           [(o["kind"], o.get("edit_id"), o["version"], o.get("rewords")) for o in slow]
    frame = lines_frame(ws.db, outcome.version_id, "SKILL.md")
    row = frame[frame["text"] == REWORD].iloc[0]
    assert (row["origin"], row["support"], row["reworded"]) == ("edit", "6", "Dana")


def test_a_reword_of_a_reword_keeps_both_reviewers_and_the_edit(reviewed):
    ws, base, proposal = reviewed
    first, lines = _review(ws, base, proposal)
    again = REWORD.replace("first", "before cancelling")
    v1 = get_version(ws.db, first.version_id)
    files = {**v1.files, "SKILL.md": v1.files["SKILL.md"].replace(REWORD, again)}
    second = save_review(ws.db, v1, get_version(ws.db, proposal), v1.files, files, actor="Lee", message="again")
    found = blame(ws.db, second.version_id, "SKILL.md", lines.index(REWORD) + 1)
    assert [r["by"] for r in found["rewords"]] == ["Lee", "Dana"]
    assert found["origin"]["kind"] == "edit" and len(found["lessons"]) == 6


def test_a_restored_base_line_is_base_text_and_removed_lines_keep_their_record(reviewed):
    ws, base, proposal = reviewed
    outcome, lines = _review(ws, base, proposal)
    removed = deleted_lines(ws.db, outcome.version_id, "SKILL.md")
    assert [(d["text"], d["how"], d["by"], d["origin"]["kind"]) for d in removed] == [
        (BOOK_LINE, "rejected", "Dana", "edit")]
    edit_of_book = blame(ws.db, proposal, "SKILL.md", removed[0]["line"])["origin"]["edit_id"]
    assert removed[0]["origin"]["edit_id"] == edit_of_book
    # Lines written by hand stay "manual"; unchanged base lines stay "base".
    v = get_version(ws.db, outcome.version_id)
    files = {**v.files, "SKILL.md": v.files["SKILL.md"].replace("## Refund\n", "## Refund\n\n- A brand new note.\n")}
    hand = save_review(ws.db, v, get_version(ws.db, proposal), v.files, files, actor="Dana", message="note")
    new_lines = files["SKILL.md"].splitlines()
    kinds = {o["kind"] for o in (line_origin(ws.db, hand.version_id, "SKILL.md", new_lines.index(t))
                                 for t in ("- A brand new note.",))}
    assert kinds == {"manual"}
    assert line_origin(ws.db, hand.version_id, "SKILL.md", new_lines.index("## Refund"))["kind"] == "base"


def test_a_proposal_s_own_removals_name_the_edit_that_replaced_them(reviewed):
    ws, base, proposal = reviewed
    run_id = get_version(ws.db, proposal).run_id
    files = dict(get_version(ws.db, base).files)
    files["SKILL.md"] = files["SKILL.md"].replace("## Refund\n", "## Refunds and credits\n")
    vid = save_version(ws.db, "airline-policy", files, source="proposal", parent=base, run_id=run_id)
    lines = files["SKILL.md"].splitlines()
    origins: list[str | None] = [None] * len(lines)
    origins[lines.index("## Refunds and credits")] = "e-heading"
    save_line_origins(ws.db, vid, {"SKILL.md": origins}, run_id)
    [removed] = deleted_lines(ws.db, vid, "SKILL.md")
    assert (removed["text"], removed["how"], removed["edits"], removed["by"], removed["origin"]["kind"]) == (
        "## Refund", "replaced", ["e-heading"], f"consolidation run {run_id}", "base")


def test_cli_blame_shows_the_reword_and_the_original_edit_lessons_and_steps(reviewed):
    ws, base, proposal = reviewed
    outcome, lines = _review(ws, base, proposal)
    line = str(lines.index(REWORD) + 1)
    result = CliRunner().invoke(main, ["blame", outcome.version_id[:10], "SKILL.md", line, "--db", str(ws.path)])
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0] == f"SKILL.md:{line}: {REWORD}"
    assert out[1].startswith(f"reworded by Dana in version {outcome.version_id[:12]}") and repr(CANCEL_LINE) in out[1]
    assert out[2].startswith("origin: edit ")
    assert sum(o.startswith("lesson ") for o in out) == 6 and sum(" step " in o for o in out) >= 6
    as_json = CliRunner().invoke(main, ["blame", outcome.version_id, "SKILL.md", line, "--json", "--db", str(ws.path)])
    found = json.loads(as_json.output)
    assert found["rewords"][0]["by"] == "Dana" and len(found["lessons"]) == 6


# --------------------------------------------------------------------------- draft or saved


def test_a_proposal_is_a_draft_until_saved_and_saving_it_as_is_makes_it_current(reviewed):
    ws, base, proposal = reviewed
    labels = {v.id: v.label for v in version_states(ws.db, "airline-policy")}
    assert labels == {proposal: "proposal (draft)", base: "imported"}
    assert current_version_id(ws.db, "airline-policy") == base
    p = get_version(ws.db, proposal)
    outcome = save_review(ws.db, p, get_version(ws.db, base), p.files, p.files, actor="Dana", message="as is")
    assert outcome.kind == "saved_as_is" and outcome.version_id == proposal
    assert len(list_versions(ws.db, "airline-policy")) == 2  # no copy of the proposal
    states = {v.id: v for v in version_states(ws.db, "airline-policy")}
    assert states[proposal].label == "proposal (saved)" and states[proposal].saved_by == "Dana"
    assert current_version_id(ws.db, "airline-policy") == proposal
    assert save_review(ws.db, p, None, p.files, p.files, actor="Dana", message="").kind == "already_current"


def test_the_current_version_is_the_one_saved_last(reviewed):
    ws, base, proposal = reviewed
    partial, _ = _review(ws, base, proposal)
    assert current_version_id(ws.db, "airline-policy") == partial.version_id
    p = get_version(ws.db, proposal)
    save_review(ws.db, p, get_version(ws.db, base), p.files, p.files, actor="Lee", message="")
    assert current_version_id(ws.db, "airline-policy") == proposal
    again, _ = _review(ws, base, proposal)  # the same reviewed result again: saved again, current again
    assert (again.kind, again.version_id) == ("saved_again", partial.version_id)
    assert current_version_id(ws.db, "airline-policy") == partial.version_id
    imported = import_skill(ws.db, folder_of(get_version(ws.db, base)), description="A new description.")
    assert current_version_id(ws.db, "airline-policy") == imported  # an import is saved when imported
    assert [fd.path for fd in diff_files(get_version(ws.db, base).files, get_version(ws.db, imported).files)] == \
           ["SKILL.md"]
