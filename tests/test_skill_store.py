"""Skills library in the workspace: import, versions with parents, content-hash dedup, diffs
between any two versions, locked sections recorded as decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace2skill.diff import apply_hunks
from trace2skill.errors import NotFoundError, SkillFormatError, SkillPathError
from trace2skill.models import Edit
from trace2skill.skill import SkillFolder, apply_patch, load_dir
from trace2skill.store.decisions import list_decisions
from trace2skill.store.skills import (
    diff_versions,
    folder_of,
    get_version,
    import_skill,
    latest_version,
    list_skills,
    list_versions,
    locked_sections,
    save_version,
    set_locked_sections,
    version_id,
)

REPO = Path(__file__).resolve().parents[1]
WIKI = REPO / "data" / "tau-bench" / "tau_bench" / "envs" / "airline" / "wiki.md"
MCP_BUILDER = REPO / "data" / "anthropics-skills" / "skills" / "mcp-builder"


def _wiki() -> SkillFolder:
    return SkillFolder.from_markdown("airline-policy", "Airline policy.", WIKI.read_text())


def _decisions(db, subject_type):
    return list(reversed(list_decisions(db, subject_type)))  # oldest first


def test_import_and_versions_with_parents(ws):
    db = ws.db
    v1 = import_skill(db, _wiki(), message="airline policy")
    assert v1 == version_id("airline-policy", _wiki().as_files(), None)
    assert import_skill(db, _wiki()) == v1  # same content again: nothing new
    proposal = apply_patch(folder_of(get_version(db, v1)), [
        Edit(id="e1", op="append_to_section", section="Refund", content="- Confirm the facts first.")]).skill
    v2 = save_version(db, "airline-policy", proposal.as_files(), source="proposal", parent=v1, message="run 1")
    manual = proposal.copy()
    manual.body = manual.body.replace("Confirm the facts first.", "Confirm the facts before any certificate.")
    v3 = save_version(db, "airline-policy", manual.as_files(), source="manual", parent=v2, message="wording")
    assert len({v1, v2, v3}) == 3
    history = list_versions(db, "airline-policy")
    assert [(h.id, h.parent, h.source) for h in history] == [(v3, v2, "manual"), (v2, v1, "proposal"),
                                                                      (v1, None, "import")]
    assert latest_version(db, "airline-policy").id == v3
    assert folder_of(get_version(db, v3)).as_files() == manual.as_files()
    assert get_version(db, v3[:6]).id == v3
    skills = list_skills(db)
    assert [(s["name"], s["n_versions"], s["latest"], s["description"]) for s in skills] == [
        ("airline-policy", 3, v3, "Airline policy.")]
    saves = _decisions(db, "skill_version")
    assert [(d.subject_id, d.action) for d in saves] == [(v3, "save")]
    assert saves[0].detail == {"skill": "airline-policy", "parent": v2, "message": "wording"}


def test_identical_saves_are_deduplicated(ws):
    db = ws.db
    v1 = import_skill(db, _wiki())
    files = {**_wiki().as_files(), "references/notes.md": "# Notes\n"}
    a = save_version(db, "airline-policy", files, source="manual", parent=v1)
    b = save_version(db, "airline-policy", dict(reversed(list(files.items()))), source="manual", parent=v1)
    assert a == b and len(list_versions(db, "airline-policy")) == 2
    assert save_version(db, "airline-policy", files, source="manual", parent=a) == a  # same as its parent
    assert len(_decisions(db, "skill_version")) == 1


def test_reimport_changed_skill_chains_to_latest(ws):
    db = ws.db
    v1 = import_skill(db, load_dir(MCP_BUILDER))
    changed = load_dir(MCP_BUILDER)
    changed.body += "\n## Local notes\n\n- Keep tools small.\n"
    v2 = import_skill(db, changed)
    assert get_version(db, v2).parent == v1 and get_version(db, v2).source == "import"
    assert folder_of(get_version(db, v1)).as_files() == load_dir(MCP_BUILDER).as_files()


def test_diff_any_two_versions(ws):
    db = ws.db
    v1 = import_skill(db, _wiki())
    step = apply_patch(_wiki(), [
        Edit(id="a", op="append_to_section", section="Book flight", content="- Check the cabin."),
        Edit(id="b", op="append_to_section", section="Refund", content="- Log certificates."),
        Edit(id="link", op="append_to_section", section="Cancel flight", content="- See references/cancel.md."),
        Edit(id="f", op="create_file", file="references/cancel.md", content="# Cancel\n")]).skill
    v2 = save_version(db, "airline-policy", step.as_files(), source="proposal", parent=v1)
    v3 = save_version(db, "airline-policy", {"SKILL.md": step.as_files()["SKILL.md"]}, source="manual", parent=v2)
    d12 = diff_versions(db, v1, v2)
    assert [(d.path, d.status, len(d.hunks)) for d in d12] == [("SKILL.md", "changed", 3),
                                                                ("references/cancel.md", "added", 1)]
    d13 = diff_versions(db, v1, v3)
    assert [(d.path, d.status) for d in d13] == [("SKILL.md", "changed")]
    d23 = diff_versions(db, v2, v3)
    assert [(d.path, d.status) for d in d23] == [("references/cancel.md", "removed")]
    old, new = d12[0].old_text, d12[0].new_text
    only_refund = apply_hunks(old, new, [2])
    assert "- Log certificates." in only_refund and "- Check the cabin." not in only_refund
    v4 = save_version(db, "airline-policy", {"SKILL.md": only_refund}, source="manual", parent=v1,
                      message="accepted one hunk")
    assert [h.id for h in list_versions(db, "airline-policy")][0] == v4


def test_locked_sections_recorded_as_decisions(ws):
    db = ws.db
    import_skill(db, _wiki())
    assert locked_sections(db, "airline-policy") == []
    assert set_locked_sections(db, "airline-policy", ["Refund", " Book flight ", "Refund"]) == ["Refund",
                                                                                                 "Book flight"]
    set_locked_sections(db, "airline-policy", ["Refund", "Book flight"])  # unchanged: no new decision
    set_locked_sections(db, "airline-policy", ["Refund"])
    assert locked_sections(db, "airline-policy") == ["Refund"]
    locks = _decisions(db, "skill")
    assert [(d.subject_id, d.action, d.detail) for d in locks] == [
        ("airline-policy", "lock_sections", {"before": [], "after": ["Refund", "Book flight"]}),
        ("airline-policy", "lock_sections", {"before": ["Refund", "Book flight"], "after": ["Refund"]}),
    ]
    assert list_skills(db)[0]["locked_sections"] == ["Refund"]
    with pytest.raises(NotFoundError):
        set_locked_sections(db, "no-such-skill", ["x"])


def test_bad_saves_are_refused(ws):
    db = ws.db
    v1 = import_skill(db, _wiki())
    with pytest.raises(SkillFormatError, match="needs a SKILL.md"):
        save_version(db, "airline-policy", {"references/a.md": "x"}, source="manual", parent=v1)
    with pytest.raises(SkillPathError):
        save_version(db, "airline-policy", {"SKILL.md": "x", "../evil.md": "x"}, source="manual", parent=v1)
    with pytest.raises(NotFoundError):
        save_version(db, "airline-policy", {"SKILL.md": "x"}, source="manual", parent="nope")
    other = import_skill(db, load_dir(MCP_BUILDER))
    with pytest.raises(SkillFormatError, match="belongs to skill 'mcp-builder'"):
        save_version(db, "airline-policy", {"SKILL.md": "x"}, source="manual", parent=other)
    with pytest.raises(ValueError):
        save_version(db, "airline-policy", {"SKILL.md": "x"}, source="robot", parent=v1)  # type: ignore[arg-type]
    assert len(list_versions(db, "airline-policy")) == 1
