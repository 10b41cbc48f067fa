"""Skills in a real browser: upload a zip of a human-written skill (mcp-builder), import it and
see the lenient import's warnings; the skill lands in the library with its history."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import full_screenshot, open_app, wait_idle
from tests.helpers import mcp_zip
from trace2skill.store import Workspace
from trace2skill.store.skills import latest_version


def test_upload_a_zip_and_see_the_warnings(app_env, page, request, tmp_path):
    db = Path(app_env["TRACE2SKILL_DB"])
    archive = tmp_path / "mcp-builder.zip"
    archive.write_bytes(mcp_zip())
    app = request.getfixturevalue("app")
    open_app(page, app, "Skills")
    page.get_by_text("No skills yet.").wait_for(timeout=30000)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(archive))
    page.get_by_test_id("stFileUploader").filter(has_text="mcp-builder.zip").wait_for(timeout=30000)
    wait_idle(page)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported mcp-builder as version").wait_for(timeout=30000)
    wait_idle(page)

    version = latest_version(Workspace(db).db, "mcp-builder")
    assert version and version.source == "import" and "reference/evaluation.md" in version.files
    assert page.get_by_text("3 warning(s)").is_visible()
    warnings = page.get_by_test_id("stExpander").get_by_test_id("stCode").inner_text()
    assert "did you mean references/" in warnings and "scripts/evaluation.py is mentioned" in warnings
    chosen = page.get_by_test_id("stSelectbox").filter(has_text="Skill").first.locator("input").input_value()
    assert chosen == "mcp-builder"  # the library opens on the imported skill
    full_screenshot(page, "skills")

    # The skill's text: SKILL.md rendered first (a heading, not "# …"), then a reference file raw.
    text_tab = page.get_by_test_id("stTabs").get_by_role("tabpanel").first
    skill_md = version.files["SKILL.md"]
    title = next(line[2:].strip() for line in skill_md.splitlines() if line.startswith("# "))
    assert text_tab.get_by_role("heading", name=title).is_visible()
    assert text_tab.get_by_text(f"{len(version.files)} files", exact=True).is_visible()
    text_tab.get_by_text("reference › evaluation.md").click()
    wait_idle(page)
    text_tab.get_by_text("Raw", exact=True).click()
    wait_idle(page)
    raw = text_tab.get_by_test_id("stCode").inner_text()
    first = next(line for line in version.files["reference/evaluation.md"].splitlines() if line.strip())
    assert first.strip() in raw
    full_screenshot(page, "skills-text")
