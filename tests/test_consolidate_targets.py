"""The schema sent to the endpoint for proposals and merges names only real targets: the skill's
files (or a new file under references/, scripts/, assets/) and its existing section titles. The
answer is still validated leniently: an off-target edit is rejected by apply with its reason."""

from __future__ import annotations

import re
from pathlib import Path

from trace2skill.consolidate.propose import propose_patch
from trace2skill.consolidate.schemas import MergeOut, ProposalOut
from trace2skill.consolidate.targets import NEW_FILE_PATTERN, section_choices, targeted_schema
from trace2skill.llm.client import LLMClient
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
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
        assert props["op"]["enum"] and "content" in props  # the rest is untouched
    pattern = re.compile(NEW_FILE_PATTERN)
    assert pattern.match("references/refund-rules.md") and pattern.match("scripts/check.py")
    assert not pattern.match("skills.md") and not pattern.match("references/../SKILL.md")
    assert not pattern.match("references/a/b.md")


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
    lesson = {"id": "l1", "kind": "failure_lesson", "title": "Confirm", "description": "", "content": "Confirm."}
    with FakeLLMServer(responder, model="fake").start() as server:
        client = LLMClient(ws, LLMConfig(base_url=server.base_url, model="fake", api_key="x"))
        run_id = create_run(ws.db, "proposal", {}, [])
        patch = propose_patch(client, run_id, "traj-1", [lesson], files)
    assert _edit_props(seen[0])["section"]["enum"] == ["", "Guide", "Guide > Setup", "Usage", "Guide > Usage > Setup"]
    result = apply_patch(SkillFolder.from_files(files), patch.edits)
    assert [r.reason for r in result.rejected] == ["section '1' not found in SKILL.md"]
    assert "- Read back the request." in result.skill.skill_md()
