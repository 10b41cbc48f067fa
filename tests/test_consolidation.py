"""Consolidation end to end with scripted proposer and merger: deepen the airline policy, create a
new skill, locks respected, min support, provenance from a changed line to lessons and steps."""

from __future__ import annotations

import pytest
from conftest import TAU_BENCH

from tests.fakes import ScriptedClient
from tests.helpers import WIKI, consolidate, extract, proposer_and_merger
from trace2skill.analysis.fleet import ExtractionConfig, select_trajectories
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
from trace2skill.errors import Trace2SkillError
from trace2skill.ingest import import_paths
from trace2skill.provenance import blame
from trace2skill.skill.folder import SkillFolder
from trace2skill.store.lessons import lesson_ids, set_status
from trace2skill.store.skills import get_version, import_skill, set_locked_sections


@pytest.fixture
def workspace_with_lessons(ws):
    import_paths(ws, [TAU_BENCH])
    client = ScriptedClient(proposer_and_merger)
    ids = select_trajectories(ws, sample=10, seed=2)
    extract(ws, ids, client, ExtractionConfig(max_lessons=2))
    set_status(ws.db, lesson_ids(ws.db), "approved")
    return ws, client


def test_deepen_the_airline_policy_and_trace_a_line_back(workspace_with_lessons):
    ws, client = workspace_with_lessons
    base = import_skill(ws.db, SkillFolder.from_markdown("airline-policy", "How an airline agent must act.",
                                                         WIKI.read_text()))
    config = ConsolidationConfig(base_version=base, batch_size=3, embeddings=False, skill_chars=20000)
    result = consolidate(ws, config, client)
    run_id = result.run_id
    assert result.levels == 3  # 10 patches, B=3: 10 -> 4 -> 2 -> 1, ceil(log_3 10) = 3
    assert result.proposals == 10 and result.applied >= 1
    proposal = get_version(ws.db, result.version)
    assert proposal.parent == base and proposal.source == "proposal" and proposal.run_id == run_id
    text = proposal.files["SKILL.md"]
    lines = text.splitlines()
    added = next(i for i, line in enumerate(lines, start=1) if line.startswith("- Lesson learnt: "))
    cancel = next(i for i, line in enumerate(lines, start=1) if line == "## Cancel flight")
    refund = next(i for i, line in enumerate(lines, start=1) if line == "## Refund")
    assert cancel < added < refund  # appended to the section it targeted

    found = blame(ws.db, result.version, "SKILL.md", added)
    assert found["origin"]["kind"] == "edit" and found["origin"]["run_id"] == run_id
    assert found["merge_path"][0]["level"] == 3 and found["merge_path"][-1]["level"] == 0
    assert found["lessons"] and found["trajectories"]
    assert any(s["grounded"] and s["quote"] for s in found["steps"])
    untouched = blame(ws.db, result.version, "SKILL.md", cancel)
    assert untouched["origin"]["kind"] == "base" and untouched["lessons"] == []


def test_locked_section_is_never_changed(workspace_with_lessons):
    ws, client = workspace_with_lessons
    base = import_skill(ws.db, SkillFolder.from_markdown("airline-policy", "How an airline agent must act.",
                                                         WIKI.read_text()))
    set_locked_sections(ws.db, "airline-policy", ["Cancel flight"])
    result = consolidate(ws, ConsolidationConfig(base_version=base, skill_chars=20000, embeddings=False), client)
    assert result.applied == 0
    assert all("locked" in r["reason"] for r in result.rejected)
    assert get_version(ws.db, result.version).files == get_version(ws.db, base).files


def test_create_a_new_skill_and_min_support_moves_edits_to_references(workspace_with_lessons):
    ws, client = workspace_with_lessons
    config = ConsolidationConfig(new_skill="airline-tips", description="Lessons for airline support agents.",
                                 embeddings=False, min_support=50, move_low_support=True)
    result = consolidate(ws, config, client)
    files = get_version(ws.db, result.version).files
    assert files["SKILL.md"].startswith("---\nname: airline-tips\n")
    assert "references/low-support.md" in files and "references/low-support.md" in files["SKILL.md"]
    assert "Lesson learnt:" in files["references/low-support.md"]
    assert "Lesson learnt:" not in files["SKILL.md"]
    with pytest.raises(Trace2SkillError, match="exists already"):
        create_consolidation_run(ws, ConsolidationConfig(new_skill="airline-tips", description="again"))


def test_no_approved_lessons_is_a_clear_error(ws):
    base = import_skill(ws.db, SkillFolder.from_markdown("p", "d", "# P\n"))
    with pytest.raises(Trace2SkillError, match="no approved lessons"):
        create_consolidation_run(ws, ConsolidationConfig(base_version=base))
