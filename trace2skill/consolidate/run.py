"""The consolidation run kind: approved lessons -> per-trajectory patches (in parallel) -> the merge
tree -> deterministic apply to the frozen base skill -> lint -> a proposed skill version with line
provenance. The run engine owns state, cancel and resume: proposals are the run's items, the merge
tree checks for cancel between levels and abandons merges in flight, and resume reuses every
proposal and merge node already done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from trace2skill import runs
from trace2skill.analysis.quality import POLICY_ACTOR
from trace2skill.consolidate.conflicts import run_conflicts
from trace2skill.consolidate.heldout import HeldOutSelection, record_inclusion, select_for_consolidation
from trace2skill.consolidate.propose import DIAGNOSIS, leaf_patch_id, proposal_skill, propose_patch
from trace2skill.consolidate.schemas import FULL, LOCAL, Budget
from trace2skill.consolidate.tree import build_tree
from trace2skill.context_window import CONSOLIDATION_SHARE
from trace2skill.errors import Trace2SkillError
from trace2skill.humanize import plural
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Edit, Lesson, Patch, Run, SkillVersion
from trace2skill.settings import skill_chars_setting
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.budget import DEFAULT_MAX_ADDED_LINES, DEFAULT_MAX_CHANGED_SHARE, EditBudget, describe_budget
from trace2skill.skill.folder import SkillFolder
from trace2skill.skill.lint import lint_skill
from trace2skill.store import Workspace
from trace2skill.store import lessons as lesson_store
from trace2skill.store.lesson_maps import approved_trajectories, trajectories_and_kinds
from trace2skill.store.lessons import LessonFilter, lessons_by_ids, rejected_for_skill
from trace2skill.store.patches import get_patch, save_patch
from trace2skill.store.provenance import save_line_origins
from trace2skill.store.runs import item_ids
from trace2skill.store.skills import folder_of, get_version, latest_version, locked_sections, save_version
from trace2skill.store.trajectories import trajectory_text
from trace2skill.store.verifications import verified_ids


@dataclass
class ConsolidationConfig:
    base_version: str | None = None  # deepen this version...
    new_skill: str | None = None  # ...or create a new skill with this name
    description: str = ""
    batch_size: int = 8
    min_support: int = 0
    move_low_support: bool = False
    concurrency: int = 8
    embeddings: bool = True
    max_tokens: int = 1536
    base_url: str | None = None  # None: the embedded local model (prompts kept short for it)
    model: str | None = None
    skill_chars: int | None = None  # how much of SKILL.md the prompts show; None: fit the endpoint
    verified_only: bool = False  # only lessons whose replay verification passed
    max_added_lines: int | None = DEFAULT_MAX_ADDED_LINES  # edit budget per proposal (None: no limit)...
    max_changed_share: float | None = DEFAULT_MAX_CHANGED_SHARE  # ...of SKILL.md's lines of text
    over_budget: str = "move"  # edits over it: "move" (to references/) or "drop"
    include_heldout: bool = False  # use lessons from held-out data anyway (recorded as a decision)

    def budget(self) -> Budget:
        return (LOCAL if self.base_url is None else FULL).with_skill_chars(self.skill_chars)

    def edit_budget(self) -> EditBudget:
        return EditBudget(self.max_added_lines, self.max_changed_share, self.over_budget)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsolidationConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _new_skill_stub(ws: Workspace, name: str, description: str) -> str:
    """A new skill starts as a stub version (name, description, a title), so the proposal has a
    parent to be diffed against."""
    if latest_version(ws.db, name):
        raise Trace2SkillError(f"a skill named {name!r} exists already: deepen it with --base-skill {name}")
    return save_version(ws.db, name, stub_files(name, description), source="manual", parent=None,
                        message="new skill: name and description")


def stub_files(name: str, description: str) -> dict[str, str]:
    """A new skill's first version: its name, description and a title."""
    title = name.replace("-", " ").strip().capitalize()
    return SkillFolder(name, description, body=f"\n# {title}\n\n{description}\n").as_files()


def _check(config: ConsolidationConfig) -> None:
    if bool(config.base_version) == bool(config.new_skill):
        raise Trace2SkillError("choose a base skill version to deepen, or a name for a new skill (not both)")
    if config.batch_size < 2:
        raise Trace2SkillError("batch size must be at least 2")
    if config.new_skill and not config.description.strip():
        raise Trace2SkillError("a new skill needs a description")
    config.edit_budget()  # InvalidValueError for a bad budget, before anything is stored


def skill_chars_for(ws: Workspace, config: ConsolidationConfig) -> int | None:
    """How much skill the run's prompts show: the config's, else what the workspace's context window
    allows (None: the budget's default)."""
    return config.skill_chars if config.skill_chars is not None else skill_chars_setting(ws.db, CONSOLIDATION_SHARE)


def rejected_ledger(ws: Workspace, skill: str, budget: Budget) -> list[Lesson]:
    """The lessons reviewers rejected for this skill that the merges are shown, newest first."""
    return rejected_for_skill(ws.db, skill, limit=budget.rejected_lessons, exclude_actors=(POLICY_ACTOR,))


def ledger_text(lesson: Lesson) -> str:
    """A rejected lesson as the merge prompt's ledger shows it."""
    return f"{lesson.title}: {lesson.content}"


def _check_prompts_fit(ws: Workspace, config: ConsolidationConfig, lesson_ids: list[str]) -> None:
    """Size the prompts by the model's context window (workspace setting `context_window`), and refuse
    now, before any call, when a proposal could not be shown the skill sections its lessons need
    (their text is read only when SKILL.md does not fit whole)."""
    config.skill_chars = skill_chars_for(ws, config)
    files = get_version(ws.db, config.base_version or "").files
    if len(files.get("SKILL.md", "")) <= config.budget().skill_chars:
        return
    by_trajectory: dict[str, list[Lesson]] = defaultdict(list)
    for lesson in lessons_by_ids(ws.db, lesson_ids):
        by_trajectory[lesson.trajectory_id].append(lesson)
    for group in by_trajectory.values():
        proposal_skill(files, group, config.budget())


def select_lessons(ws: Workspace, config: ConsolidationConfig,
                   lesson_ids: list[str] | None = None) -> tuple[dict[str, str], HeldOutSelection]:
    """The lessons a run uses (the approved ones among `lesson_ids`, all when None; only the verified
    ones when the config asks; held-out data's left out unless included), with each approved
    lesson's trajectory. Trace2SkillError when there are none to use."""
    trajectory_of = approved_trajectories(ws.db, lesson_ids)
    if not trajectory_of:
        raise Trace2SkillError("no approved lessons: approve some lessons first")
    chosen = sorted(trajectory_of)
    if config.verified_only:
        verified = verified_ids(ws.db, chosen)
        chosen = [lesson_id for lesson_id in chosen if lesson_id in verified]
        if not chosen:
            raise Trace2SkillError("none of the approved lessons is verified by replay: verify them first (Extract "
                                   "screen, or `trace2skill verify`), or use unverified lessons too "
                                   "(without --verified-only)")
    return trajectory_of, select_for_consolidation(ws.db, chosen, include_heldout=config.include_heldout)


def create_consolidation_run(ws: Workspace, config: ConsolidationConfig, lesson_ids: list[str] | None = None) -> str:
    """Create the run (one item per trajectory with approved lessons); nothing is sent yet."""
    _check(config)
    trajectory_of, selection = select_lessons(ws, config, lesson_ids)
    chosen = selection.lesson_ids
    if config.new_skill:
        config.base_version = _new_skill_stub(ws, config.new_skill, config.description)
    else:
        config.base_version = get_version(ws.db, config.base_version or "").id
    trajectories = sorted(set(map(trajectory_of.__getitem__, chosen)))  # C speed: 166,667 lessons
    skill = config.new_skill or get_version(ws.db, config.base_version).skill
    _check_prompts_fit(ws, config, chosen)
    ledger = rejected_ledger(ws, skill, config.budget())
    data = asdict(config) | {"lesson_ids": chosen,  # in id order
                             "rejected_ids": [lesson.id for lesson in ledger],
                             "heldout_left_out": selection.left_out}
    run_id = runs.create(ws, "consolidation", data, trajectories)
    record_inclusion(ws.db, run_id, selection)
    return run_id


@dataclass
class Plan:
    """What a consolidation works from: its settings, the frozen base version and the lessons (by
    id, trajectory and kind: a trajectory's lessons are read whole when its proposal is made)."""

    config: ConsolidationConfig
    base: SkillVersion
    trajectory_of: dict[str, str] = field(default_factory=dict)  # lesson id -> trajectory id
    kind_of: dict[str, str] = field(default_factory=dict)  # lesson id -> kind
    rejected: list[str] = field(default_factory=list)  # the ledger: lessons reviewers rejected, newest first

    def support_of(self, edit: Edit) -> int:
        """Distinct trajectories behind an edit."""
        return len({self.trajectory_of.get(s, s) for s in edit.support})

    def lessons_of(self, ws: Workspace, trajectory_id: str) -> list[Lesson]:
        """The run's lessons of one trajectory, in id order (read on the calling thread's connection)."""
        found = lesson_store.lesson_ids(ws.db, LessonFilter(trajectory_id=trajectory_id))
        ids = [i for i in found if i in self.trajectory_of]
        return lessons_by_ids(ws.db, ids)

    def diagnoses_only(self, trajectories: Iterable[str]) -> int:
        """How many of these trajectories have only diagnoses (failure causes) among the run's lessons."""
        guided = {self.trajectory_of[i] for i, kind in self.kind_of.items() if kind != DIAGNOSIS}
        return sum(t not in guided for t in trajectories)


def load_plan(ws: Workspace, config_data: dict[str, Any]) -> Plan:
    config = ConsolidationConfig.from_dict(config_data)
    plan = Plan(config, get_version(ws.db, config.base_version or ""))
    plan.trajectory_of, plan.kind_of = trajectories_and_kinds(ws.db, config_data.get("lesson_ids") or [])
    ledger_ids = config_data.get("rejected_ids") or []  # snapshot taken when the run was created
    texts = {lesson.id: ledger_text(lesson) for lesson in lessons_by_ids(ws.db, ledger_ids)}
    plan.rejected = [texts[i] for i in ledger_ids if i in texts]
    return plan


@dataclass
class ConsolidationResult:
    run_id: str
    version: str
    levels: int
    merge_calls: int
    proposals: int
    applied: int
    rejected: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]  # conflicts.run_conflicts: settled in merges, then withheld when applying
    findings: list[dict[str, Any]]
    moved: list[dict[str, Any]] = field(default_factory=list)  # edits moved to references/, with the reason
    budget: dict[str, Any] = field(default_factory=dict)  # the edit budget and its use (BudgetUse)
    diagnoses_only: int = 0  # trajectories whose approved lessons were all failure causes (never skill text)

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, **{k: v for k, v in asdict(self).items() if k != "run_id"}}

    @classmethod
    def from_counters(cls, run_id: str, counters: dict[str, Any]) -> ConsolidationResult:
        """The result a finished run stored in its counters."""
        names = [f for f in cls.__dataclass_fields__ if f != "run_id"]
        return cls(run_id=run_id, **{k: counters[k] for k in names if k in counters})


def propose_version(ws: Workspace, run_id: str, plan: Plan, root: Patch, *, message: str) -> ConsolidationResult:
    """Apply the root patch to the base, lint, and save the proposal version with its line origins.
    `levels`, `merge_calls` and `proposals` are left at 0 for the caller to fill in."""
    base_folder = folder_of(plan.base)
    result = apply_patch(base_folder, root, locked_sections=locked_sections(ws.db, plan.base.skill),
                         support={e.id: plan.support_of(e) for e in root.edits}, min_support=plan.config.min_support,
                         move_low_support=plan.config.move_low_support, dirname=plan.base.skill,
                         budget=plan.config.edit_budget(), new_skill=bool(plan.config.new_skill))
    texts = {t: trajectory_text(ws.db, t) for t in sorted(set(plan.trajectory_of.values()))}
    findings = list(result.findings) + lint_skill(result.skill, base_folder, trajectory_texts=texts)
    version = save_version(ws.db, plan.base.skill, result.skill.as_files(), source="proposal",
                           parent=plan.base.id, run_id=run_id, message=message)
    save_line_origins(ws.db, version, result.line_origins, run_id)
    return ConsolidationResult(
        run_id=run_id, version=version, levels=0, merge_calls=0, proposals=0, applied=len(result.applied),
        rejected=[r._asdict() for r in result.rejected],
        conflicts=[{"edit_ids": list(c.edit_ids), "reason": c.reason} for c in result.conflicts],
        findings=[asdict(f) for f in findings], moved=[m._asdict() for m in result.moved],
        budget=result.budget.as_dict() if result.budget else {})


def _propose_one(ws: Workspace, client: StructuredClient, run_id: str, plan: Plan,
                 trajectory_id: str) -> runs.ItemResult:
    patch = propose_patch(client, run_id, trajectory_id, plan.lessons_of(ws, trajectory_id),
                          plan.base.files, max_tokens=plan.config.max_tokens, budget=plan.config.budget())
    return runs.ItemResult(save=lambda db: save_patch(db, patch))


def _execute(ctx: runs.RunContext) -> None:
    plan, run_id, client = load_plan(ctx.ws, ctx.config), ctx.run.id, ctx.client
    workers = ctx.workers(plan.config.concurrency)
    ctx.process_items(lambda t: _propose_one(ctx.ws, client, run_id, plan, t), concurrency=workers)
    done = item_ids(ctx.ws.db, run_id, "done")
    leaves = [get_patch(ctx.ws.db, leaf_patch_id(run_id, t)) for t in sorted(done)]
    tree = build_tree(ctx, client, run_id, leaves, batch_size=plan.config.batch_size,
                      skill_files=plan.base.files, support_of=plan.support_of, concurrency=workers,
                      embeddings=plan.config.embeddings, budget=plan.config.budget(),
                      max_tokens=plan.config.max_tokens, rejected=plan.rejected)
    ctx.checkpoint()
    outcome = propose_version(ctx.ws, run_id, plan, tree.root, message=f"proposal of consolidation run {run_id}")
    outcome.levels, outcome.merge_calls, outcome.proposals = tree.levels, tree.merge_calls, len(done)
    outcome.conflicts = [c.as_dict() for c in run_conflicts(ctx.ws.db, run_id, outcome.conflicts)]
    outcome.diagnoses_only = plan.diagnoses_only(done)
    ctx.set_counters(**outcome.as_dict())


def report_lines(result: ConsolidationResult, base_version: str) -> list[str]:
    """What a finished consolidation (or re-run) proposes, for people."""
    lines = [f"  {f['severity']}: {f['file']}:{f['line'] or ''} {f['message']}" for f in result.findings]
    if result.budget:
        lines.insert(0, f"  {describe_budget(result.budget)}")
    if result.version == base_version or not result.applied:
        return [f"nothing was applied ({plural(len(result.rejected), 'edit')} rejected): no new proposal to review",
                *([f"  {why}"] if (why := diagnoses_note(result)) else []), *lines]
    return [f"proposal {result.version}: {result.levels} levels, {result.merge_calls} merge calls, "
            f"{plural(result.applied, 'edit')} applied, {len(result.rejected)} rejected, "
            f"{plural(len(result.conflicts), 'conflict')}",
            *lines, f"review it: trace2skill diff {base_version} {result.version}"]


def diagnoses_note(result: ConsolidationResult) -> str:
    """Why a run proposed nothing when its lessons were only diagnoses; empty otherwise."""
    if not result.diagnoses_only:
        return ""
    return (f"{result.diagnoses_only} of {result.proposals} trajectories had only diagnoses (failure causes) among "
            "their approved lessons; a diagnosis never becomes skill text by itself. Approve guidance lessons "
            "(\"When …, do …, because …\") to consolidate them.")


def _report(_ws: Workspace, run: Run) -> tuple[list[str], dict[str, Any]]:
    if "version" not in run.counters:
        return [], {}
    result = ConsolidationResult.from_counters(run.id, run.counters)
    return report_lines(result, run.config.get("base_version") or ""), result.as_dict()


runs.register(runs.RunKind("consolidation", _execute, items="patch proposals", report=_report))
