"""Ablation: which groups of a proposal's edits help or hurt on held-out tasks.

The proposal's edits are those of the final patch of the consolidation run that produced the version
(the top of its merge tree; after a re-run, the top patch whose edits wrote the version's lines).
They are grouped by target (`edit_groups`): a SKILL.md section, with any file created for it. Arms: "full"
applies every edit to the base skill (with the skill's locked sections and the run's minimum
support, as the run did), "base" is the base version, and one arm per group applies every edit but
that group's. A group's effect is full.mean - mean without the group: positive when the group helps,
negative when it hurts. Groups are reported worst first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import Trace2SkillError
from trace2skill.evaluate.report import arm_scores
from trace2skill.evaluate.run import Arm, EvalConfig, create_evaluation, version_arm
from trace2skill.models import Edit, Patch, Run, SkillVersion
from trace2skill.skill.apply import ApplyResult, apply_patch
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.sections import PATH_SEP, innermost, parse_sections
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.evaluation import get_arms
from trace2skill.store.lessons import lesson_trajectories
from trace2skill.store.patches import get_patch, top_patches
from trace2skill.store.provenance import written_edits
from trace2skill.store.skills import folder_of, get_version, locked_sections

MAX_GROUPS = 12


@dataclass
class EditGroup:
    key: str
    edit_ids: list[str]


def edit_groups(edits: list[Edit], applied: ApplyResult) -> list[EditGroup]:
    """Edits grouped by target, in the order each target first appears: the SKILL.md section an edit's
    lines landed in (its second-level section when the file has one top-level title, as most skills
    do; else its top-level one); another file goes with the SKILL.md edit that links to it, else
    forms a group of its own."""
    lines = applied.skill.skill_md().split("\n")
    sections = parse_sections(lines)
    depth = 2 if sum(s.level == 1 for s in sections) == 1 else 1
    landed = {a.edit_id: a for a in applied.applied if a.file == SKILL_MD and a.end > a.start}
    keys: dict[str, str] = {}
    for edit in edits:
        if edit.file != SKILL_MD:
            continue
        if edit.id in landed:
            span = landed[edit.id]
            first = next((i for i in range(span.start, span.end) if lines[i].strip()), span.start)
            section = innermost(sections, first)
            where = PATH_SEP.join(section.path[:depth]) if section and section.path else "(preamble)"
            keys[edit.id] = f"{SKILL_MD} › {where}"
        else:  # deleted or not applied: by the section it names
            keys[edit.id] = f"{SKILL_MD} › {edit.section or '(no section)'}"
    for edit in edits:  # a file stays with the SKILL.md edit that links to it (else it is an orphan)
        if edit.file != SKILL_MD:
            linking = next((e for e in edits if e.file == SKILL_MD and edit.file in e.content), None)
            keys[edit.id] = keys[linking.id] if linking else edit.file
    groups: dict[str, list[str]] = defaultdict(list)
    for edit in edits:
        groups[keys[edit.id]].append(edit.id)
    return [EditGroup(k, ids) for k, ids in groups.items()]


def proposal_patch(db: Database, version_id: str) -> tuple[SkillVersion, Patch, Run]:
    """(base version, final patch, consolidation run) behind a proposal version."""
    version = get_version(db, version_id)
    run = run_store.get_run(db, version.run_id) if version.run_id else None
    if run is None or run.kind != "consolidation" or not version.parent:
        raise Trace2SkillError(f"version {version_id[:12]} is not a consolidation proposal: ablation needs the "
                               "edits of the run that proposed it")
    written = written_edits(db, version.id)
    for patch_id in top_patches(db, run.id):
        patch = get_patch(db, patch_id)
        if written <= {e.id for e in patch.edits}:
            return get_version(db, version.parent), patch, run
    raise Trace2SkillError(f"the final patch of run {run.id} was not found; resume the run first")


def _support(db: Database, run: Run, edits: list[Edit]) -> dict[str, int]:
    trajectory_of = lesson_trajectories(db, run.config.get("lesson_ids", []))
    return {e.id: len({trajectory_of.get(s, s) for s in e.support}) for e in edits}


def start_ablation(ws: Workspace, version_id: str, task_ids: list[str], config: EvalConfig | None = None, *,
                   max_groups: int = MAX_GROUPS) -> str:
    """An evaluation run with arms full, base and one per edit group left out (see module docstring)."""
    db = ws.db
    base, patch, run = proposal_patch(db, version_id)
    base_folder, locks = folder_of(base), locked_sections(db, base.skill)
    support = _support(db, run, patch.edits)
    min_support = int(run.config.get("min_support", 0))
    move_low_support = bool(run.config.get("move_low_support", False))

    def apply_without(skip: set[str]) -> ApplyResult:
        edits = [e for e in patch.edits if e.id not in skip]
        return apply_patch(base_folder, edits, locked_sections=locks, support=support, dirname=base.skill,
                           min_support=min_support, move_low_support=move_low_support)

    everything = apply_without(set())
    groups = edit_groups(patch.edits, everything)
    if not groups:
        raise Trace2SkillError(f"the proposal {version_id[:12]} has no edits to ablate")
    if len(groups) > max_groups:
        raise Trace2SkillError(f"the proposal has {len(groups)} edit groups; at most {max_groups} can be ablated "
                               "at once (raise max_groups)")
    full = everything.skill.as_files()
    proposal = get_version(db, version_id)
    arms = [Arm("full", "candidate", f"proposal {proposal.id[:8]}",
                proposal.id if full == proposal.files else None, full,
                {"matches_version": full == proposal.files}),
            version_arm(db, "base", "baseline", base.id)]
    for k, group in enumerate(groups, start=1):
        arms.append(Arm(f"g{k}", "ablation", f"without {group.key}", None,
                        apply_without(set(group.edit_ids)).skill.as_files(),
                        {"group": group.key, "edit_ids": group.edit_ids}))
    return create_evaluation(ws, arms, task_ids, config or EvalConfig(), purpose="ablation")


@dataclass
class GroupEffect:
    group: str
    edits: int
    mean: float  # pass rate without the group
    std: float
    effect: float  # full mean - mean without the group


def ablation_report(db: Database, run_id: str) -> dict[str, Any]:
    """{"full": score, "base": score, "groups": [GroupEffect as dicts, worst first]}."""
    scores = arm_scores(db, run_id)
    arms = get_arms(db, run_id)
    if "full" not in scores:
        raise Trace2SkillError(f"run {run_id} is not an ablation run")
    full = scores["full"]
    effects = [GroupEffect(arms[a]["detail"]["group"], len(arms[a]["detail"]["edit_ids"]), s.mean, s.std,
                           full.mean - s.mean)
               for a, s in scores.items() if s.role == "ablation"]
    effects.sort(key=lambda e: (e.effect, e.group))
    return {"full": asdict(full), "base": asdict(scores["base"]), "groups": [asdict(e) for e in effects],
            "complete": all(s.complete for s in scores.values())}

