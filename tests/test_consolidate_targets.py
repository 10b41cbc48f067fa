"""The schema sent to the endpoint for proposals and merges names only real targets: the skill's
files (or a new file under references/, scripts/, assets/) and its existing section titles. The
answer is still validated leniently: an off-target edit is rejected by apply with its reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

from trace2skill.consolidate.propose import propose_patch
from trace2skill.consolidate.schemas import LOCAL, MergeOut, ProposalOut
from trace2skill.consolidate.targets import (
    MAX_ANCHORS,
    NEW_FILE_PATTERN,
    anchor_choices,
    section_choices,
    targeted_schema,
)
from trace2skill.llm.client import LLMClient
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import Lesson
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import SkillFolder
from trace2skill.store.runs import create_run

DATA = Path(__file__).resolve().parents[1] / "data"
SKILL_MD = "---\nname: demo\ndescription: A demo skill.\n---\n# Guide\n\n## Setup\n\ntext\n\n## Usage\n\n### Setup\n"


def _edit_props(schema: dict) -> dict:
    return schema["properties"]["edits"]["items"]["properties"]


def test_sections_are_the_existing_titles_with_paths_where_a_title_repeats():
    files = {"SKILL.md": SKILL_MD, "references/more.md": "# More\n\n## Notes\n", "scripts/run.sh": "# not a title\n"}
    assert section_choices(files) == ["", "Guide", "Guide > Setup", "Usage", "Guide > Usage > Setup", "More", "Notes"]
    airline = (DATA / "tau-bench/tau_bench/envs/airline/wiki.md").read_text()
    assert section_choices({"SKILL.md": airline}) == [
        "", "Airline Agent Policy", "Domain Basic", "Book flight", "Modify flight", "Cancel flight", "Refund"]
    assert section_choices({}) == [""]


def test_both_schemas_limit_file_and_section():
    files = {"SKILL.md": SKILL_MD, "references/more.md": "# More\n"}
    for output in (ProposalOut, MergeOut):
        props = _edit_props(targeted_schema(output, files))
        assert props["section"]["enum"] == section_choices(files)
        known, new = props["file"]["anyOf"]
        assert known["enum"] == ["SKILL.md", "references/more.md"] and new["pattern"] == NEW_FILE_PATTERN
        assert props["anchor"]["enum"] == ["", "# Guide", "## Setup", "text", "## Usage", "### Setup", "# More"]
        assert props["op"]["enum"] and "content" in props  # the rest is untouched
    pattern = re.compile(NEW_FILE_PATTERN)
    assert pattern.match("references/refund-rules.md") and pattern.match("scripts/check.py")
    assert not pattern.match("skills.md") and not pattern.match("references/../SKILL.md")
    assert not pattern.match("references/a/b.md")


def _enum_chars(schema) -> int:
    found = re.findall(r'"enum": \[(.*?)\]', json.dumps(schema))
    return sum(len(v) for block in found for v in json.loads(f"[{block}]"))


def test_anchors_are_whole_lines_until_an_enum_would_be_too_big():
    long_line = "x" * 400
    assert anchor_choices({"SKILL.md": f"---\nname: a\n---\n  indented  \n\n{long_line}\n"}) == ["", "indented", "x" * 300]
    many = "\n".join(f"- rule {i}" for i in range(MAX_ANCHORS + 1))
    props = _edit_props(targeted_schema(ProposalOut, {"SKILL.md": many}))
    assert "enum" not in props["anchor"] and props["anchor"]["maxLength"] == 300
    wide = "\n".join(f"- {i} " + "y" * 200 for i in range(80))  # 80 lines, 16,000+ characters
    props = _edit_props(targeted_schema(ProposalOut, {"SKILL.md": wide}))
    assert "enum" not in props["anchor"]
    # Many long headings: sections fall back to free text too; the schema stays within strict mode's limits.
    titled = "\n\n".join(f"## Section {i} " + "z" * 100 for i in range(150))
    schema = targeted_schema(ProposalOut, {"SKILL.md": titled, "references/a.md": wide})
    assert "enum" not in _edit_props(schema)["section"] and "enum" not in _edit_props(schema)["anchor"]
    for files in ({"SKILL.md": titled}, {"SKILL.md": wide}, {"SKILL.md": many}, {"SKILL.md": SKILL_MD}):
        assert _enum_chars(targeted_schema(ProposalOut, files)) < 15_000
        assert _enum_chars(targeted_schema(MergeOut, files, edit_labels=[f"E{i}" for i in range(40)])) < 15_000


def test_the_endpoint_receives_the_narrow_schema_and_off_target_answers_are_rejected_by_apply(ws):
    seen = []

    def responder(request):
        seen.append(request["response_format"]["json_schema"]["schema"])
        # A server that ignores the schema: the section does not exist.
        return {"edits": [{"op": "append_to_section", "file": "SKILL.md", "section": "1", "anchor": "",
                           "content": "- Confirm first.", "rationale": "r", "lessons": [1]},
                          {"op": "append_to_section", "file": "SKILL.md", "section": "Usage", "anchor": "",
                           "content": "- Read back the request.", "rationale": "r", "lessons": [1]}]}

    files = {"SKILL.md": SKILL_MD}
    lesson = Lesson(id="l1", trajectory_id="traj-1", kind="failure_lesson", title="Confirm", content="Confirm.")
    with FakeLLMServer(responder, model="fake").start() as server:
        client = LLMClient(ws, LLMConfig(base_url=server.base_url, model="fake", api_key="x"))
        run_id = create_run(ws.db, "proposal", {}, [])
        patch = propose_patch(client, run_id, "traj-1", [lesson], files)
    assert _edit_props(seen[0])["section"]["enum"] == ["", "Guide", "Guide > Setup", "Usage", "Guide > Usage > Setup"]
    result = apply_patch(SkillFolder.from_files(files), patch.edits)
    assert [r.reason for r in result.rejected] == ["section '1' not found in SKILL.md"]
    assert "- Read back the request." in result.skill.skill_md()


def test_a_merge_schema_names_only_its_input_edits():
    merge = targeted_schema(MergeOut, {"SKILL.md": SKILL_MD}, edit_labels=["E1", "E2", "E3"])
    assert _edit_props(merge)["derived_from"]["items"]["enum"] == ["E1", "E2", "E3"]
    assert merge["properties"]["dropped"]["items"]["properties"]["edit"]["enum"] == ["E1", "E2", "E3"]
    assert [merge["properties"][k]["maxItems"] for k in ("edits", "dropped", "conflicts")] == [3, 3, 3]
    assert "enum" not in json.dumps(targeted_schema(MergeOut, {})["properties"]["dropped"])


def test_the_local_budget_shortens_contents_and_proposals():
    files = {"SKILL.md": SKILL_MD}
    full, local = targeted_schema(ProposalOut, files), targeted_schema(ProposalOut, files, LOCAL)
    assert (full["properties"]["edits"]["maxItems"], _edit_props(full)["content"]["maxLength"]) == (4, 1500)
    assert (local["properties"]["edits"]["maxItems"], _edit_props(local)["content"]["maxLength"]) == (2, 400)
    merge = targeted_schema(MergeOut, files, LOCAL)
    assert merge["properties"]["edits"]["maxItems"] == 40 and _edit_props(merge)["content"]["maxLength"] == 400
