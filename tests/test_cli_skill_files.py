"""Skills as files, through the real CLI: a flat-layout skill (files beside SKILL.md) imports, is
deepened by a consolidation and exports without --force; `skills import --name/--description`
writes them into the stored frontmatter; export keeps executable scripts executable (folder, zip)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHARED_DATA, TAU_BENCH

from tests.helpers import MCP, responder
from trace2skill.cli import main
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.skill.conventions import LICENSE_RE
from trace2skill.skill.frontmatter import parse_skill_md

FLAT_SKILL_MD = """---
name: airline-desk
description: Help airline customers book, change and cancel flights by the airline's rules.
license: Complete terms in LICENSE.txt
---
# Airline desk

## Book flight

- Read [fares](fares.md) before quoting a price; run `python3 quote.py ORIGIN DEST` for the quote.

## Cancel flight

- Check the reservation first; the rules are in [cancellation](cancellation.md).

## Baggage

- See [baggage](baggage.md).
"""
FLAT_FILES = {"fares.md": "# Fares\n\nBasic economy cannot be changed.\n",
              "cancellation.md": "# Cancellation\n\nWithin 24 hours of booking: full refund.\n",
              "baggage.md": "# Baggage\n\nGold members get three free bags.\n",
              "quote.py": "#!/usr/bin/env python3\nprint('quote')\n",
              "LICENSE.txt": "MIT\n"}


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def write_skill(root: Path, name: str, skill_md: str, files: dict[str, str], executable: tuple[str, ...]) -> Path:
    folder = root / name
    for rel, text in {"SKILL.md": skill_md, **files}.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
        (folder / rel).chmod(0o755 if rel in executable else 0o644)
    return folder


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def zip_modes(archive: Path) -> dict[str, int]:
    return {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in zipfile.ZipFile(archive).infolist()}


def reference_validate(path: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("agentskills")
    return subprocess.run([str(command), "validate", str(path)], capture_output=True, text=True, timeout=60)


def flat_public_skills() -> list[Path]:
    """Skills in the shared data with a flat layout (files beside SKILL.md other than a licence)."""
    found = sorted({p.parent for p in SHARED_DATA.rglob("SKILL.md")})
    return [d for d in found if any(p.is_file() and p.name != "SKILL.md" and not LICENSE_RE.match(p.name)
                                    for p in d.iterdir())]


def _flat_sources(tmp_path: Path, which: str) -> Path:
    if which == "hand-made":
        return write_skill(tmp_path / "src", "airline-desk", FLAT_SKILL_MD, FLAT_FILES, executable=("quote.py",))
    return Path(which)


@pytest.mark.parametrize("which", ["hand-made", *map(str, flat_public_skills())])
def test_flat_layout_skill_imports_deepens_and_exports_without_force(which, tmp_path):
    source = _flat_sources(tmp_path, which)
    db = str(tmp_path / "flat.db")
    cli("import", str(TAU_BENCH), "--db", db)
    imported = json.loads(cli("skills", "import", str(source), "--json", "--db", db))
    name = imported["skill"]
    assert not any("error" in w.lower() for w in imported["warnings"])
    with FakeLLMServer(responder) as srv:
        llm = ["--base-url", srv.base_url, "--model", "fake"]
        cli("extract", "--sample", "4", "--seed", "4", *llm, "--db", db)
        cli("lessons", "approve", "--all", "--db", db)
        result = json.loads(cli("consolidate", "--base-skill", name, "--batch-size", "3", "--no-embeddings", *llm,
                                "--json", "--db", db))
    assert result["applied"] >= 1 and result["version"] != imported["version"]
    assert [f for f in result["findings"] if f["severity"] == "error"] == []
    assert "+- Lesson learnt:" in cli("diff", imported["version"], result["version"], "--db", db)

    out = tmp_path / "export"
    cli("export", result["version"], "--out", str(out), "--db", db)  # no --force
    check = reference_validate(out / name)
    assert check.returncode == 0, check.stdout + check.stderr
    top = sorted(p.name for p in (out / name).iterdir())
    assert top == sorted(p.name for p in source.iterdir())  # still flat: nothing moved into folders
    archive = tmp_path / f"{name}.zip"
    cli("export", result["version"], "--out", str(archive), "--db", db)
    assert f"{name}/SKILL.md" in zip_modes(archive)
    if which == "hand-made":
        assert is_executable(out / name / "quote.py") and not is_executable(out / name / "fares.md")
        assert zip_modes(archive)[f"{name}/quote.py"] == 0o755


def test_import_with_name_and_description_writes_the_frontmatter(tmp_path):
    db = str(tmp_path / "named.db")
    description = "Build MCP servers that give agents well-designed tools."
    out = json.loads(cli("skills", "import", str(MCP), "--name", "mcp-guide", "--description", description,
                         "--json", "--db", db))
    assert out["skill"] == "mcp-guide"
    listed = {s["name"]: s for s in json.loads(cli("skills", "list", "--json", "--db", db))}
    assert set(listed) == {"mcp-guide"} and listed["mcp-guide"]["description"] == description

    folder = tmp_path / "export"
    cli("export", out["version"], "--out", str(folder), "--db", db)
    fm = parse_skill_md((folder / "mcp-guide" / "SKILL.md").read_text()).frontmatter
    assert fm["name"] == "mcp-guide" and fm["description"] == description
    assert fm["license"] == "Complete terms in LICENSE.txt"  # the other keys are kept
    check = reference_validate(folder / "mcp-guide")
    assert check.returncode == 0, check.stdout + check.stderr
    archive = tmp_path / "mcp-guide.zip"
    cli("export", out["version"], "--out", str(archive), "--db", db)
    with zipfile.ZipFile(archive) as zf:
        zipped = parse_skill_md(zf.read("mcp-guide/SKILL.md").decode()).frontmatter
    assert zipped["name"] == "mcp-guide" and zipped["description"] == description

    again = json.loads(cli("skills", "import", str(MCP), "--description", "Only the description changes.",
                           "--json", "--db", db))
    assert again["skill"] == "mcp-builder"
    cli("export", again["version"], "--out", str(tmp_path / "again"), "--db", db)
    fm = parse_skill_md((tmp_path / "again" / "mcp-builder" / "SKILL.md").read_text()).frontmatter
    assert fm["name"] == "mcp-builder" and fm["description"] == "Only the description changes."

    cli("skills", "import", str(MCP), "--name", "mcp-guide", "--description", "Second wording.", "--db", db)
    listed = {s["name"]: s for s in json.loads(cli("skills", "list", "--json", "--db", db))}
    assert listed["mcp-guide"]["description"] == "Second wording." and listed["mcp-guide"]["n_versions"] == 2


def test_export_keeps_the_exec_bit_in_a_folder_and_a_zip(tmp_path):
    source = write_skill(tmp_path / "src", "tool-skill",
                         "---\nname: tool-skill\ndescription: Run the checker.\n---\n# Use\n\nRun scripts/check.sh.\n",
                         {"scripts/check.sh": "#!/bin/sh\necho ok\n", "scripts/notes.txt": "plain\n"},
                         executable=("scripts/check.sh",))
    db = str(tmp_path / "modes.db")
    version = json.loads(cli("skills", "import", str(source), "--json", "--db", db))["version"]
    out = tmp_path / "export"
    cli("export", version, "--out", str(out), "--db", db)
    script = out / "tool-skill" / "scripts" / "check.sh"
    assert is_executable(script) and not is_executable(out / "tool-skill" / "scripts" / "notes.txt")
    assert subprocess.run([str(script)], capture_output=True, text=True, timeout=30).stdout == "ok\n"

    archive = tmp_path / "tool-skill.zip"
    cli("export", version, "--out", str(archive), "--db", db)
    modes = zip_modes(archive)
    assert modes["tool-skill/scripts/check.sh"] == 0o755 and modes["tool-skill/scripts/notes.txt"] == 0o644
    unzip = shutil.which("unzip")
    if unzip:  # what a user gets from the zip
        subprocess.run([unzip, "-q", str(archive), "-d", str(tmp_path / "unzipped")], check=True, timeout=30)
        assert is_executable(tmp_path / "unzipped" / "tool-skill" / "scripts" / "check.sh")

    # the zip imported into another workspace keeps it too
    other = str(tmp_path / "other.db")
    again = json.loads(cli("skills", "import", str(archive), "--json", "--db", other))["version"]
    cli("export", again, "--out", str(tmp_path / "again"), "--db", other)
    assert is_executable(tmp_path / "again" / "tool-skill" / "scripts" / "check.sh")
    assert os.access(tmp_path / "again" / "tool-skill" / "SKILL.md", os.R_OK)
