"""Skill folders: SKILL.md parse/serialise, import (folder, zip) with safety limits, export, spec
validation (strict and lenient), and the reference validator `skills-ref` on what we generate."""

from __future__ import annotations

import importlib.util
import io
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trace2skill.errors import SkillFormatError, SkillPathError
from trace2skill.skill import (
    Limits,
    SkillFolder,
    export_dir,
    load_dir,
    load_skill,
    load_zip,
    safe_relpath,
    to_zip,
    validate_skill,
    write_dir,
)
from trace2skill.skill.conventions import convention_findings, import_findings
from trace2skill.skill.frontmatter import parse_skill_md

REPO = Path(__file__).resolve().parents[1]
MCP_BUILDER = REPO / "data" / "anthropics-skills" / "skills" / "mcp-builder"
WIKI = REPO / "data" / "tau-bench" / "tau_bench" / "envs" / "airline" / "wiki.md"
AIRLINE_DESC = "Airline customer-service policy: booking, modifying and cancelling flights, baggage and refunds."


def _wiki_skill() -> SkillFolder:
    return SkillFolder.from_markdown("airline-policy", AIRLINE_DESC, WIKI.read_text())


def _zip(entries: dict[str, bytes | str], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name == symlink:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return buf.getvalue()


SIMPLE_MD = "---\nname: demo-skill\ndescription: A demo skill for tests.\n---\n\n# Demo\n\nSee [notes](references/notes.md).\n"


def _codes(findings) -> set[str]:
    return {f.code for f in findings}


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", ["../evil", "a/../../b", "/etc/passwd", "C:/x.md", "c:x", "a\\b.md", "a//b",
                                  "a/", "", "a/./b", "nul\x00.md", "./../x"])
def test_safe_relpath_refuses(path):
    with pytest.raises(SkillPathError):
        safe_relpath(path)


def test_safe_relpath_accepts_and_normalises():
    assert safe_relpath("./references/a.md") == "references/a.md"
    assert safe_relpath("SKILL.md") == "SKILL.md"
    assert safe_relpath("scripts/run-1.py") == "scripts/run-1.py"


# --------------------------------------------------------------------------- SKILL.md and new skills


def test_wiki_becomes_a_strictly_valid_skill():
    skill = _wiki_skill()
    text = skill.skill_md()
    assert text.startswith("---\nname: airline-policy\ndescription: ")
    assert "\n---\n\n# Airline Agent Policy\n" in text
    assert skill.body.strip() == WIKI.read_text().strip()
    assert validate_skill(skill, strict=True, dirname="airline-policy") == []
    again = SkillFolder.from_files(skill.as_files())
    assert again.as_files() == skill.as_files() and again.name == "airline-policy"
    assert again.description == AIRLINE_DESC


def test_from_markdown_with_own_frontmatter_or_leading_rule():
    doc = SkillFolder.from_markdown("a-skill", "Desc.", "---\nname: old\nlicense: MIT\n---\n# Doc\n")
    assert doc.frontmatter == {"name": "a-skill", "description": "Desc.", "license": "MIT"}
    assert doc.body == "\n# Doc\n"
    ruled = SkillFolder.from_markdown("a-skill", "Desc.", "---\nIntro: text: more\n---\nrest\n")
    assert ruled.frontmatter == {"name": "a-skill", "description": "Desc."}
    assert ruled.body == "\n---\nIntro: text: more\n---\nrest\n"


def test_frontmatter_key_order_kept_and_change_rerendered():
    text = "---\ndescription: First.\nname: x-skill\nlicense: MIT\nmetadata:\n  author: me\n---\nbody\n"
    skill = SkillFolder.from_files({"SKILL.md": text})
    assert list(skill.frontmatter) == ["description", "name", "license", "metadata"]
    assert skill.as_files()["SKILL.md"] == text
    skill.description = "Second: with a colon."
    out = skill.as_files()["SKILL.md"]
    assert out.startswith("---\ndescription: 'Second: with a colon.'\nname: x-skill\nlicense: MIT\n")
    assert parse_skill_md(out).frontmatter["description"] == "Second: with a colon."
    assert out.endswith("---\nbody\n")


def test_invalid_yaml_frontmatter_is_read_leniently():
    text = "---\nname: loose\ndescription: Use when: the user asks\n---\n# Body\n"
    skill = SkillFolder.from_files({"SKILL.md": text})
    assert skill.description == "Use when: the user asks"
    assert any("not valid YAML" in w for w in skill.warnings)
    assert skill.as_files()["SKILL.md"] == text  # unchanged frontmatter is written back as it was
    assert "import_note" in _codes(validate_skill(skill, strict=False))


def test_yaml_aliases_refused_and_dates_kept_as_text():
    bomb = "---\nname: x\na: &a [1, 1, 1, 1]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n---\nbody\n"
    skill = SkillFolder.from_files({"SKILL.md": bomb})
    assert any("not valid YAML" in w for w in skill.warnings) and skill.name == "x"
    dated = SkillFolder.from_files({"SKILL.md": "---\nname: d\nmetadata:\n  updated: 2024-05-15\n---\n"})
    assert dated.frontmatter["metadata"] == {"updated": "2024-05-15"}


def test_skill_md_without_frontmatter_uses_folder_name(tmp_path):
    folder = tmp_path / "plain-doc"
    folder.mkdir()
    (folder / "SKILL.md").write_text("# Just text\n")
    skill = load_dir(folder)
    assert skill.name == "plain-doc" and skill.body == "# Just text\n"
    codes = _codes(validate_skill(skill, strict=False))
    assert "description_missing" in codes and "import_note" in codes


# --------------------------------------------------------------------------- mcp-builder (real, non-standard)


def test_mcp_builder_imports_with_warnings_and_keeps_reference_folder():
    skill = load_dir(MCP_BUILDER)
    assert skill.name == "mcp-builder"
    assert sorted(skill.files) == ["LICENSE.txt", "reference/evaluation.md", "reference/mcp_best_practices.md",
                                   "reference/node_mcp_server.md", "reference/python_mcp_server.md"]
    findings = import_findings(skill, dirname="mcp-builder")
    assert {f.severity for f in findings} == {"warning"}
    unknown = [f for f in findings if f.code == "unknown_folder"]
    assert len(unknown) == 1 and "did you mean references/" in unknown[0].message
    mentions = {f.message.split()[0] for f in findings if f.code == "dangling_mention"}
    assert mentions == {"scripts/requirements.txt", "scripts/evaluation.py"}
    # the reference validator accepts it, so strict validation does too: reference/ is a convention warning
    assert validate_skill(skill, strict=True, dirname="mcp-builder") == []


def test_mcp_builder_export_unchanged_round_trips_byte_for_byte(tmp_path):
    skill = load_dir(MCP_BUILDER)
    out = write_dir(skill, tmp_path / "mcp-builder")
    original = {p.relative_to(MCP_BUILDER).as_posix(): p.read_bytes() for p in MCP_BUILDER.rglob("*") if p.is_file()}
    exported = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert exported == original
    zipped = load_zip(to_zip(skill))
    assert zipped.as_files() == skill.as_files() and zipped.name == "mcp-builder"


# --------------------------------------------------------------------------- zips


def test_zip_with_single_top_folder_and_binary_skipped():
    data = _zip({"demo-skill/SKILL.md": SIMPLE_MD, "demo-skill/references/notes.md": "# Notes\n",
                 "demo-skill/assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR",
                 "__MACOSX/demo-skill/._SKILL.md": b"\x00\x05junk"})
    skill = load_zip(data)
    assert skill.name == "demo-skill"
    assert sorted(skill.files) == ["references/notes.md"]
    assert any("assets/logo.png" in w and "binary" in w for w in skill.warnings)
    assert validate_skill(skill, dirname="demo-skill") == []


@pytest.mark.parametrize("bad", ["../evil.md", "demo/../../evil.md", "/abs/evil.md", "C:/evil.md", "a\\..\\evil.md"])
def test_zip_refuses_unsafe_paths(bad):
    with pytest.raises(SkillPathError, match="zip entry refused"):
        load_zip(_zip({"SKILL.md": SIMPLE_MD, bad: "x"}))


def test_zip_refuses_symlinks():
    with pytest.raises(SkillPathError, match="symbolic link"):
        load_zip(_zip({"SKILL.md": SIMPLE_MD, "references/link.md": "/etc/passwd"}, symlink="references/link.md"))


def test_zip_bomb_refused_by_ratio():
    bomb = _zip({"SKILL.md": SIMPLE_MD, "references/zeros.md": b"0" * (3 * 1024 * 1024)})
    assert len(bomb) < 50_000
    with pytest.raises(SkillFormatError, match="zip bomb"):
        load_zip(bomb)


def test_zip_refuses_oversized_file_and_total():
    big = _zip({"SKILL.md": SIMPLE_MD, "references/big.md": b"0" * (6 * 1024 * 1024)})
    with pytest.raises(SkillFormatError, match="per file"):
        load_zip(big)
    many_bytes = _zip({"SKILL.md": SIMPLE_MD, **{f"references/{i}.md": "x" * 600 for i in range(3)}})
    with pytest.raises(SkillFormatError, match="more than 1500 bytes"):
        load_zip(many_bytes, limits=Limits(max_total_bytes=1500))


def test_zip_refuses_too_many_files():
    data = _zip({"SKILL.md": SIMPLE_MD, **{f"references/n{i}.md": "x" for i in range(500)}})
    with pytest.raises(SkillFormatError, match="501 files; at most 500"):
        load_zip(data)


def test_zip_errors_are_clear():
    with pytest.raises(SkillFormatError, match="not a readable zip"):
        load_zip(b"this is not a zip")
    with pytest.raises(SkillFormatError, match="no SKILL.md"):
        load_zip(_zip({"references/a.md": "x", "README.md": "y"}))


# --------------------------------------------------------------------------- export


def test_export_to_dir_and_zip(tmp_path):
    skill = _wiki_skill()
    skill.files["references/notes.md"] = "# Notes\n"
    path = export_dir(skill, tmp_path)
    assert path == tmp_path / "airline-policy"
    assert (path / "SKILL.md").read_text() == skill.skill_md()
    assert (path / "references" / "notes.md").read_text() == "# Notes\n"
    with pytest.raises(SkillFormatError, match="not empty"):
        export_dir(skill, tmp_path)
    data = to_zip(skill, tmp_path / "airline-policy.zip")
    assert data == to_zip(skill)  # deterministic
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["airline-policy/SKILL.md", "airline-policy/references/notes.md"]
    assert load_skill(tmp_path / "airline-policy.zip").as_files() == skill.as_files()
    assert load_skill(path).as_files() == skill.as_files()


def test_export_refuses_unsafe_names(tmp_path):
    skill = _wiki_skill()
    skill.name = "../escape"
    with pytest.raises(SkillPathError):
        export_dir(skill, tmp_path)
    with pytest.raises(SkillPathError):
        to_zip(skill)
    good = _wiki_skill()
    good.files["../x.md"] = "x"  # slipped in after construction
    with pytest.raises(SkillPathError):
        write_dir(good, tmp_path / "out")


# --------------------------------------------------------------------------- strict validation rules


@pytest.mark.parametrize("name,code", [("Airline", "name_format"), ("-air", "name_format"), ("air-", "name_format"),
                                       ("air--line", "name_format"), ("air_line", "name_format"),
                                       ("a" * 65, "name_too_long"), ("", "name_missing")])
def test_strict_name_rules(name, code):
    skill = SkillFolder(name, "Does things.", body="\n# X\n")
    errors = [f for f in validate_skill(skill) if f.severity == "error"]
    assert code in _codes(errors)


def test_strict_rules_are_the_specs_and_layout_links_and_length_are_warnings():
    skill = SkillFolder("demo-skill", "d" * 1025, frontmatter={"version": "1", "metadata": "flat"},
                        body="\n# X\n\n[gone](references/gone.md) [ok](references/ok.md) [web](https://x.org/a.md)\n"
                             "[up](../outside.md)\n",
                        files={"references/ok.md": "ok", "references/deep/x.md": "x", "notes.txt": "n",
                               "LICENSE.txt": "MIT"})
    findings = validate_skill(skill, dirname="other-name")
    assert {f.severity for f in findings} == {"error"}
    assert _codes(findings) == {"description_too_long", "frontmatter_keys", "name_mismatch"}
    lenient = validate_skill(skill, strict=False, dirname="other-name")
    assert {f.severity for f in lenient} == {"warning"} and len(lenient) == len(findings)
    conventions = convention_findings(skill)
    assert {f.severity for f in conventions} == {"warning"}
    assert _codes(conventions) == {"metadata_format", "nested_file", "stray_files", "dangling_link", "link_outside"}
    stray = [f for f in conventions if f.code == "stray_files"]
    assert len(stray) == 1 and "notes.txt" in stray[0].message and "LICENSE" not in stray[0].message
    dangling = [f for f in conventions if f.code == "dangling_link"]
    assert len(dangling) == 1 and dangling[0].line == 10 and "gone.md" in dangling[0].message
    long_skill = SkillFolder("long-skill", "Long.", body="\n" + "line\n" * 496)
    assert validate_skill(long_skill) == []  # the spec recommends under 500 lines; it does not require it
    assert "skill_md_too_long" in _codes(import_findings(long_skill))
    ok_skill = SkillFolder("long-skill", "Long.", body="\n" + "line\n" * 494)
    assert validate_skill(ok_skill) == [] and import_findings(ok_skill) == []


def test_flat_layout_is_valid_with_one_grouped_warning():
    files = {f"{n}.md": f"# {n}\n" for n in ("forms", "reference", "examples", "advanced", "api", "faq", "glossary")}
    body = "\n# PDF\n\n" + "".join(f"- See [{n}]({n})\n" for n in files)
    skill = SkillFolder("pdf-tools", "Fill PDF forms.", body=body, files={**files, "run.py": "print(1)\n"})
    assert validate_skill(skill, dirname="pdf-tools") == []
    conventions = convention_findings(skill)
    assert [f.code for f in conventions] == ["stray_files"]
    assert "8 files sit beside SKILL.md" in conventions[0].message and "and 3 more" in conventions[0].message


# --------------------------------------------------------------------------- the reference validator


def _skills_ref(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skills_ref.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(importlib.util.find_spec("skills_ref") is None, reason="skills-ref is not installed")
def test_generated_skill_passes_skills_ref(tmp_path):
    skill = _wiki_skill()
    skill.frontmatter["metadata"] = {"generated-by": "trace2skill", "version": "1"}
    skill.frontmatter["license"] = "Apache-2.0"
    skill.body += "\nSee [notes](references/notes.md).\n"
    skill.files["references/notes.md"] = "# Notes\n"
    assert validate_skill(skill, dirname="airline-policy") == []
    result = _skills_ref(export_dir(skill, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Valid skill" in result.stdout
    broken = SkillFolder("airline-policy", AIRLINE_DESC, frontmatter={"owner": "x"}, body="\n# X\n")
    bad = _skills_ref(export_dir(broken, tmp_path / "bad"))
    assert bad.returncode == 1 and "Unexpected fields" in bad.stderr
