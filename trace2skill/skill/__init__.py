"""Agent Skill folders: I/O (folder, zip), frontmatter, spec validation, sections, edit apply, lint."""

from trace2skill.skill.apply import AppliedEdit, ApplyResult, Conflict, Rejected, apply_patch
from trace2skill.skill.archive import Limits, export_dir, load_dir, load_skill, load_zip, to_zip, write_dir
from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.lint import lint_skill
from trace2skill.skill.paths import safe_relpath
from trace2skill.skill.sections import Section, find_section, parse_sections
from trace2skill.skill.validate import Finding, has_errors, validate_skill

__all__ = [
    "AppliedEdit", "ApplyResult", "Conflict", "Rejected", "apply_patch",
    "Limits", "export_dir", "load_dir", "load_skill", "load_zip", "to_zip", "write_dir",
    "SKILL_MD", "SkillFolder", "lint_skill", "safe_relpath",
    "Section", "find_section", "parse_sections", "Finding", "has_errors", "validate_skill",
]
