"""Skills screen (AppTest): import a zip through the file uploader (mcp-builder, with its spec
warnings shown), folder files with relative or bare names, a markdown document; a hostile zip
refused; history, a diff of two versions; locked sections saved and recorded."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.errors import SkillFormatError
from trace2skill.store import Workspace
from trace2skill.store.skills import latest_version, list_versions, locked_sections
from trace2skill.ui.skill_upload import folder_from_files

REPO = Path(__file__).resolve().parents[1]
MCP = REPO / "data/anthropics-skills/skills/mcp-builder"


def mcp_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(MCP.rglob("*")):
            if path.is_file():
                zf.write(path, f"mcp-builder/{path.relative_to(MCP).as_posix()}")
    return buf.getvalue()


@pytest.fixture
def ws() -> Workspace:
    workspace = Workspace()
    yield workspace
    workspace.close()


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/skills.py")
    return at.run()


def test_import_a_zip_and_see_its_warnings(ws):
    at = _page()
    assert any("No skills yet" in c.value for c in at.caption)
    assert at.button(key="sk_import").disabled
    at.file_uploader(key="sk_zip_0").set_value(("mcp-builder.zip", mcp_zip(), "application/zip")).run()
    at.button(key="sk_import").click().run()
    assert not at.exception
    version = latest_version(ws.db, "mcp-builder")
    assert version.source == "import" and "reference/evaluation.md" in version.files
    assert any(f"Imported mcp-builder as version {version.id}" in s.value for s in at.success)
    warnings = at.code[0].value.splitlines()
    assert any("did you mean references/?" in w for w in warnings)  # a spec breach, imported anyway
    assert any("scripts/evaluation.py is mentioned" in w for w in warnings)
    assert any(f"{len(warnings)} warning(s)" in w.value for w in at.warning)
    assert at.selectbox(key="sk_skill").value == "mcp-builder"
    assert "sk_zip_1" in {u.key for u in at.file_uploader}  # the uploader was cleared for the next import


def test_a_hostile_zip_is_refused_with_the_reason(ws):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("SKILL.md", "---\nname: evil\ndescription: d\n---\n# E\n")
        zf.writestr("../outside.md", "escape")
    at = _page()
    at.file_uploader(key="sk_zip_0").set_value(("evil.zip", buf.getvalue(), "application/zip")).run()
    at.button(key="sk_import").click().run()
    assert any(e.value == "Import refused" for e in at.error)
    assert any("zip entry refused" in c.value for c in at.code)
    assert latest_version(ws.db, "evil") is None


def test_import_folder_files_and_a_markdown_document(ws):
    at = _page()
    at.segmented_control(key="sk_source").set_value("Folder files").run()
    skill_md = (MCP / "SKILL.md").read_bytes()
    at.file_uploader(key="sk_files_0_0").set_value([
        ("SKILL.md", skill_md, "text/markdown"),
        ("evaluation.md", (MCP / "reference/evaluation.md").read_bytes(), "text/markdown")]).run()
    at.button(key="sk_import").click().run()
    files = latest_version(ws.db, "mcp-builder").files
    assert set(files) == {"SKILL.md", "references/evaluation.md"}
    assert "evaluation.md: the browser gave no folder; placed under references/" in at.code[0].value

    at.segmented_control(key="sk_source").set_value("Markdown document").run()
    at.text_input(key="sk_md_name").input("refund-rules").run()
    at.text_input(key="sk_md_description").input("How refunds work; use for any refund question.").run()
    at.text_area(key="sk_md_text").input("# Refunds\n\nRefund to the original payment method.\n").run()
    at.button(key="sk_import").click().run()
    text = latest_version(ws.db, "refund-rules").files["SKILL.md"]
    assert text.startswith("---\nname: refund-rules\n") and "# Refunds" in text


def test_folder_names_relative_or_bare():
    folder = folder_from_files([("my-skill/SKILL.md", b"---\nname: my-skill\ndescription: d\n---\n# S\n"),
                                ("my-skill/references/a.md", b"A"), ("my-skill/scripts/run.py", b"print(1)")])
    assert set(folder.as_files()) == {"SKILL.md", "references/a.md", "scripts/run.py"} and not folder.warnings
    bare = folder_from_files([("SKILL.md", b"---\nname: s\ndescription: d\n---\n"), ("run.sh", b"echo"),
                              ("logo.svg", b"<svg/>"), ("notes.md", b"n")])
    assert set(bare.as_files()) == {"SKILL.md", "scripts/run.sh", "assets/logo.svg", "references/notes.md"}
    assert len(bare.warnings) == 3
    with pytest.raises(SkillFormatError, match="no SKILL.md"):
        folder_from_files([("notes.md", b"n")])
    with pytest.raises(SkillFormatError, match="not UTF-8"):
        folder_from_files([("SKILL.md", b"\xff\xfe\x00bad")])


def test_history_diff_and_locked_sections(ws):
    load_demo(ws)
    at = _page()
    assert at.selectbox(key="sk_skill").value == DEMO_SKILL
    assert list(at.dataframe[1].value["state"]) == ["imported"]
    library = at.dataframe[0].value
    assert list(library.columns) == ["skill", "description", "versions", "current version", "drafts to review",
                                     "locked sections", "created"]
    assert library["locked sections"][0] == "none" and library["drafts to review"][0] == 0
    created = json.loads(at.dataframe[0].proto.columns)["created"]["type_config"]
    assert created == {"type": "datetime", "format": "distance"}  # shown as "… ago", sorted by time
    assert any("Only one version so far" in c.value for c in at.caption)

    options = at.multiselect(key=f"sk_locks_{DEMO_SKILL}").options
    assert "Airline Agent Policy > Cancel flight" in options and "Airline Agent Policy" in options
    assert at.button(key="sk_save_locks").disabled  # nothing changed yet
    at.multiselect(key=f"sk_locks_{DEMO_SKILL}").select("Airline Agent Policy > Cancel flight").run()
    at.button(key="sk_save_locks").click().run()
    assert locked_sections(ws.db, DEMO_SKILL) == ["Airline Agent Policy > Cancel flight"]
    assert any("1 locked section(s) saved" in s.value for s in at.success)
    detail = ws.db.execute("SELECT action, detail FROM decisions WHERE subject_type = 'skill'").fetchall()
    assert detail == [("lock_sections", '{"before": [], "after": ["Airline Agent Policy > Cancel flight"]}')]
    assert at.dataframe[0].value["locked sections"][0] == "Airline Agent Policy > Cancel flight"

    from trace2skill.skill.folder import SkillFolder
    from trace2skill.store.skills import import_skill

    policy = latest_version(ws.db, DEMO_SKILL).files["SKILL.md"]
    import_skill(ws.db, SkillFolder.from_files({"SKILL.md": policy.replace("## Refund", "## Refunds and credits")}))
    at = _page()
    assert len(at.dataframe[1].value) == len(list_versions(ws.db, DEMO_SKILL)) == 2
    diff = [c.value for c in at.code if c.value.startswith("--- a/SKILL.md")]
    assert diff and "-## Refund\n+## Refunds and credits" in diff[0]


def test_a_versions_files_are_shown_as_a_tree_rendered_or_raw(ws):
    from trace2skill.ui.skill_text import file_tree

    assert list(file_tree(["scripts/a.py", "SKILL.md", "LICENSE.txt", "reference/b.md"]).values()) == [
        ":material/description: SKILL.md", ":material/description: LICENSE.txt", ":material/folder: reference › b.md",
        ":material/folder: scripts › a.py"]
    at = _page()
    at.file_uploader(key="sk_zip_0").set_value(("mcp-builder.zip", mcp_zip(), "application/zip")).run()
    at.button(key="sk_import").click().run()
    files = at.radio(key="sk_text_file")
    assert files.value == "SKILL.md" and ":material/folder: reference › evaluation.md" in files.options
    assert any(m.value.lstrip().startswith("# ") or "\n# " in m.value for m in at.markdown)  # rendered, not code
    files.set_value("reference/evaluation.md").run()
    at.segmented_control(key="sk_text_mode").set_value("Raw").run()
    reference = latest_version(ws.db, "mcp-builder").files["reference/evaluation.md"]
    assert any(c.value == reference for c in at.code)
