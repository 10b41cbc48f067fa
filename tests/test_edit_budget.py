"""Edit budget: per proposal at most N lines added to SKILL.md and at most P % of it changed; the
best-supported edits are kept, the rest moved to references/further-guidance.md (linked) or dropped
with the reason "over budget"; SKILL.md stays under the spec's 500 lines; the consolidation run,
its report and the CLI carry the budget."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.helpers import BOOK_LINE, CANCEL_LINE, WIKI, consolidate, http_responder, seed_lessons
from trace2skill.cli import main
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run, report_lines
from trace2skill.demo import DEMO_SKILL
from trace2skill.errors import InvalidValueError, Trace2SkillError
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import Edit
from trace2skill.skill import SkillFolder, apply_patch, validate_skill
from trace2skill.skill.budget import OVER_BUDGET_FILE, EditBudget
from trace2skill.store.skills import get_version, latest_version


def _base(body: str | None = None) -> SkillFolder:
    return SkillFolder.from_markdown("airline-policy", "Airline policy.", body or WIKI.read_text())


TOPICS = {"high": "Confirm the reservation id and the cabin before cancelling anything",
          "mid": "Quote the refund method back to the user",
          "low": "Mention that travel insurance covers health and weather reasons"}


def _note(name: str, lines: int) -> Edit:
    """An edit adding `lines` lines, different enough from the others not to read as a variant."""
    content = "\n".join(f"- {TOPICS[name]} ({name} rule {k})." for k in range(lines))
    return Edit(id=name, op="append_to_section", section="Cancel flight", content=content)


SUPPORT = {"high": 5, "mid": 3, "low": 1}


def test_over_budget_keeps_the_best_supported_and_moves_the_rest_with_the_reason():
    edits = [_note("low", 3), _note("high", 3), _note("mid", 3)]
    result = apply_patch(_base(), edits, support=SUPPORT, budget=EditBudget(max_added_lines=6, max_changed_share=None))
    files = result.skill.as_files()
    assert "high rule 0" in files["SKILL.md"] and "mid rule 0" in files["SKILL.md"]
    assert "low rule 0" not in files["SKILL.md"] and "low rule 0" in files[OVER_BUDGET_FILE]
    assert f"]({OVER_BUDGET_FILE})" in files["SKILL.md"]  # linked from SKILL.md
    assert "(seen in 1 trajectory)" in files[OVER_BUDGET_FILE]
    assert [m.edit_id for m in result.moved] == ["low"] and result.moved[0].reason.startswith("over budget: 3 more")
    assert OVER_BUDGET_FILE in result.moved[0].reason and result.rejected == []
    assert [(a.edit_id, a.file, a.moved) for a in result.applied if a.edit_id == "low"] == [("low", OVER_BUDGET_FILE,
                                                                                           True)]
    use = result.budget
    assert (use.added_lines, use.max_added_lines, use.skill_md_lines) == (6, 6, len(files["SKILL.md"].splitlines()))
    assert use.over == [{"edit_id": "low", "support": 1, "reason": result.moved[0].reason, "moved": True}]
    assert not validate_skill(result.skill, strict=True)
    again = apply_patch(_base(), list(reversed(edits)), support=SUPPORT,
                        budget=EditBudget(max_added_lines=6, max_changed_share=None))
    assert again.moved == result.moved  # the choice is by support, not by patch order


def test_drop_mode_rejects_over_budget_edits_and_a_smaller_one_may_still_fit():
    edits = [_note("high", 8), _note("mid", 4), _note("low", 2)]
    result = apply_patch(_base(), edits, support=SUPPORT,
                         budget=EditBudget(max_added_lines=6, max_changed_share=None, over_budget="drop"))
    text = result.skill.as_files()["SKILL.md"]
    assert "high rule" not in text and "mid rule 0" in text and "low rule 0" in text
    assert [(r.edit_id, r.reason.split(":")[0]) for r in result.rejected] == [("high", "over budget")]
    assert "limit of 6" in result.rejected[0].reason
    assert OVER_BUDGET_FILE not in result.skill.as_files() and result.moved == []


def test_changed_share_limits_rewrites_of_human_text_but_not_a_new_skill():
    deletes = [Edit(id=i, op="delete_section", section=s) for i, s in
               (("high", "Book flight"), ("mid", "Modify flight"), ("low", "Refund"))]
    result = apply_patch(_base(), deletes, support=SUPPORT, budget=EditBudget())
    assert [r.edit_id for r in result.rejected] == ["mid"]  # not movable: rejected even in "move" mode
    assert "changed lines" in result.rejected[0].reason and "30% of SKILL.md's" in result.rejected[0].reason
    assert result.budget.max_changed_lines == 12 and result.budget.changed_lines <= 12
    fresh = apply_patch(_base(), deletes, support=SUPPORT, budget=EditBudget(), new_skill=True)
    assert fresh.rejected == [] and fresh.budget.max_changed_share is None


def test_skill_md_stays_under_the_spec_limit():
    body = "# Big\n\n## Rules\n\n" + "\n".join(f"- Rule {k} says something." for k in range(470)) + "\n"
    words = ["Refunds need the payment id", "Upgrades cost the fare difference", "Pets travel in the cabin only"]
    edits = [Edit(id=f"e{k}", op="append_to_section", section="Rules",
                  content="\n".join(f"- {words[k]} (case {n})." for n in range(10))) for k in range(3)]
    result = apply_patch(_base(body), edits, support={"e0": 3, "e1": 2, "e2": 1},
                         budget=EditBudget(max_added_lines=None, max_changed_share=None))
    assert result.budget.skill_md_lines < 500 and not validate_skill(result.skill, strict=True)
    assert [o["edit_id"] for o in result.budget.over] == ["e1", "e2"]
    assert all("500 lines" in o["reason"] for o in result.budget.over)


def test_a_bad_budget_is_a_user_error(ws):
    with pytest.raises(InvalidValueError, match="fraction"):
        EditBudget(max_changed_share=1.5)
    with pytest.raises(Trace2SkillError, match="move' or 'drop"):
        create_consolidation_run(ws, ConsolidationConfig(new_skill="x", description="d", over_budget="keep"))


def test_a_consolidation_records_its_budget_and_what_went_over_it(ws):
    client = seed_lessons(ws)
    base = latest_version(ws.db, DEMO_SKILL).id
    config = ConsolidationConfig(base_version=base, batch_size=2, embeddings=False, skill_chars=20000,
                                 max_added_lines=1, over_budget="drop")
    result = consolidate(ws, config, client)
    text = get_version(ws.db, result.version).files["SKILL.md"]
    assert CANCEL_LINE in text and BOOK_LINE not in text  # 6 trajectories behind the first, 3 behind the second
    over = result.budget["over"]
    assert len(over) == 1 and over[0]["support"] == 3 and not over[0]["moved"]
    assert {"edit_id": over[0]["edit_id"], "reason": over[0]["reason"]} in result.rejected
    line = report_lines(result, base)[1]
    assert "edit budget: 1 of 1 lines added" in line and "1 dropped" in line


def test_the_cli_takes_the_budget_options(ws):
    seed_lessons(ws)
    with FakeLLMServer(http_responder) as srv:
        out = CliRunner().invoke(main, ["consolidate", "--base-skill", DEMO_SKILL, "--batch-size", "2", "--no-embeddings",
                                        "--max-added-lines", "1", "--max-changed-share", "0.5", "--over-budget", "move",
                                        "--base-url", srv.base_url, "--model", "fake", "--json", "--db", str(ws.path)])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output[out.output.index("{"):])
    assert result["budget"]["max_added_lines"] == 1 and result["budget"]["max_changed_share"] == 0.5
    assert [m["reason"].endswith(OVER_BUDGET_FILE) for m in result["moved"]] == [True]
    assert OVER_BUDGET_FILE in get_version(ws.db, result["version"]).files
    bad = CliRunner().invoke(main, ["consolidate", "--base-skill", DEMO_SKILL, "--over-budget", "keep",
                                    "--db", str(ws.path)])
    assert bad.exit_code == 2
