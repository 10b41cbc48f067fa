"""Our spec validation agrees with the Agent Skills reference validator (skills-ref) on valid/invalid:
every skill folder in the shared data (as found there and as we export it), what a consolidation
proposes (exported to a folder), and hand-made skills, valid and invalid, including the flat layout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from tests.helpers import seed_consolidation
from trace2skill.skill import SkillFolder, export_dir, load_dir, validate_skill
from trace2skill.store.skills import folder_of, get_version

skills_ref = pytest.importorskip("skills_ref.validator")

DATA_SKILLS = sorted({p.parent for pattern in ("SKILL.md", "skill.md") for p in SHARED_DATA.rglob(pattern)})
FM = "---\nname: {name}\ndescription: {description}\n{extra}---\n# Steps\n\n1. Do the thing.\n"

# folder name, SKILL.md text, other files, valid per the spec
HAND_MADE: dict[str, tuple[str, str, dict[str, str], bool]] = {
    "flat-layout": ("flat-layout", FM.format(name="flat-layout", description="Fill PDF forms.", extra="")
                    + "\nSee [forms](forms.md) and [reference](reference.md).\n",
                    {"forms.md": "# Forms\n", "reference.md": "# Reference\n", "check.py": "print('ok')\n"}, True),
    "nested-deep": ("nested-deep", FM.format(name="nested-deep", description="Deep files.", extra=""),
                    {"references/a/b/c.md": "x\n", "docs/guide.md": "y\n"}, True),
    "all-fields": ("all-fields", FM.format(name="all-fields", description="Every field.",
                                           extra="license: MIT\ncompatibility: Needs Python 3.11\n"
                                                 "allowed-tools: Bash Read\nmetadata:\n  author: me\n"), {}, True),
    "unicode-name": ("café-tools", FM.format(name="café-tools", description="Unicode names are letters.", extra=""),
                     {}, True),
    "number-name": ("2024", FM.format(name="2024", description="Digits are text.", extra=""), {}, True),
    "metadata-text": ("metadata-text", FM.format(name="metadata-text", description="d", extra="metadata: flat\n"),
                      {}, True),
    "long-skill-md": ("long-skill-md", FM.format(name="long-skill-md", description="Long.", extra="")
                      + "- step\n" * 600, {}, True),
    "bad-name": ("Bad_Name", FM.format(name="Bad_Name", description="Bad name.", extra=""), {}, False),
    "name-hyphens": ("a--b", FM.format(name="a--b", description="Two hyphens.", extra=""), {}, False),
    "name-not-folder": ("the-folder", FM.format(name="other-name", description="Name differs.", extra=""), {},
                        False),
    "no-description": ("no-description", "---\nname: no-description\n---\n# Body\n", {}, False),
    "empty-description": ("empty-description", FM.format(name="empty-description", description="''", extra=""), {},
                          False),
    "unknown-key": ("unknown-key", FM.format(name="unknown-key", description="d", extra="version: 1.0\n"), {}, False),
    "description-too-long": ("description-too-long", FM.format(name="description-too-long", description="d" * 1025,
                                                               extra=""), {}, False),
    "name-too-long": ("a" * 65, FM.format(name="a" * 65, description="d", extra=""), {}, False),
    "compatibility-too-long": ("compat", FM.format(name="compat", description="d", extra=f"compatibility: {'c' * 501}\n"),
                               {}, False),
    "flow-list": ("flow-list", FM.format(name="flow-list", description="d", extra="allowed-tools: [Bash, Read]\n"), {},
                  False),
    "duplicate-key": ("duplicate-key", FM.format(name="duplicate-key", description="d", extra="description: e\n"), {},
                      False),
    "invalid-yaml": ("invalid-yaml", FM.format(name="invalid-yaml", description="Use when: asked", extra=""), {},
                     False),
    "no-frontmatter": ("no-frontmatter", "# Just a document\n", {}, False),
}


def reference_valid(folder: Path) -> bool:
    """The reference validator's verdict (a crash in it counts as a refusal, as its CLI would exit non-zero)."""
    try:
        return skills_ref.validate(folder) == []
    except Exception:  # noqa: BLE001 - any failure of the reference validator is a refusal
        return False


def ours_valid(folder: SkillFolder, dirname: str) -> bool:
    return not [f for f in validate_skill(folder, strict=True, dirname=dirname) if f.severity == "error"]


def write_skill(root: Path, dirname: str, skill_md: str, files: dict[str, str]) -> Path:
    folder = root / dirname
    for rel, text in {"SKILL.md": skill_md, **files}.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


def test_the_shared_data_has_skills():
    assert DATA_SKILLS, f"no SKILL.md under {SHARED_DATA}"


@pytest.mark.parametrize("source", DATA_SKILLS, ids=lambda p: p.name)
def test_agree_on_every_skill_in_the_shared_data(source, tmp_path):
    folder = load_dir(source)
    assert ours_valid(folder, source.name) == reference_valid(source), validate_skill(folder, dirname=source.name)
    exported = export_dir(folder, tmp_path)
    assert ours_valid(load_dir(exported), exported.name) == reference_valid(exported)


@pytest.mark.parametrize("case", sorted(HAND_MADE))
def test_agree_on_hand_made_skills(case, tmp_path):
    dirname, skill_md, files, valid = HAND_MADE[case]
    source = write_skill(tmp_path, dirname, skill_md, files)
    folder = load_dir(source)
    ref, ours = reference_valid(source), ours_valid(folder, dirname)
    assert ref == valid, f"the reference validator's verdict on {case} changed: {skills_ref.validate(source)}"
    assert ours == ref, validate_skill(folder, dirname=dirname)
    if valid:  # what we export of a valid skill stays valid
        out = export_dir(folder, tmp_path / "out")
        assert reference_valid(out) and ours_valid(load_dir(out), out.name)


def test_agree_on_what_a_consolidation_proposes(ws, tmp_path):
    seeded = seed_consolidation(ws)
    for version in (seeded.base, seeded.result.version):
        folder = folder_of(get_version(ws.db, version))
        out = export_dir(folder, tmp_path / version[:12])
        assert ours_valid(folder, out.name) and reference_valid(out)
    broken = folder_of(get_version(ws.db, seeded.result.version))
    broken.frontmatter["owner"] = "ops team"  # a key the spec does not allow
    out = export_dir(broken, tmp_path / "broken")
    assert not ours_valid(broken, out.name) and not reference_valid(out)


def test_the_reference_validators_command_accepts_an_export(tmp_path):
    """The command the README names is the one the skills-ref package installs."""
    dirname, skill_md, files, _ = HAND_MADE["flat-layout"]
    out = export_dir(load_dir(write_skill(tmp_path, dirname, skill_md, files)), tmp_path / "out")
    command = Path(sys.executable).with_name("agentskills")
    assert command.exists(), "skills-ref no longer installs `agentskills`: update README.md"
    result = subprocess.run([str(command), "validate", str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Valid skill" in result.stdout, result.stdout + result.stderr
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "agentskills validate" in readme
