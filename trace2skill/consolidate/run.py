"""A consolidation run, end to end: approved lessons -> per-trajectory patches (in parallel) -> the
merge tree -> deterministic apply to the frozen base skill -> lint -> a proposed skill version with
line provenance. State is in the database, so a run can be watched live and resumed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Callable

from trace2skill.analysis.analysts import StructuredClient
from trace2skill.consolidate.propose import leaf_patch_id, propose_patch
from trace2skill.consolidate.schemas import FULL, LOCAL, Budget
from trace2skill.consolidate.tree import build_tree
from trace2skill.errors import Trace2SkillError
from trace2skill.models import Edit, MergeNode
from trace2skill.provenance import save_line_origins
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import SkillFolder
from trace2skill.skill.lint import lint_skill
from trace2skill.store import Workspace, write_transaction
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import LessonFilter, list_lessons
from trace2skill.store.patches import get_patch, save_patch
from trace2skill.store.skills import folder_of, get_version, latest_version, locked_sections, save_version
from trace2skill.store.trajectories import get_trajectory


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
    skill_chars: int | None = None  # how much of SKILL.md the prompts show; None: fit the endpoint

    def budget(self) -> Budget:
        return (LOCAL if self.base_url is None else FULL).with_skill_chars(self.skill_chars)


def _new_skill_stub(ws: Workspace, name: str, description: str) -> str:
    """A new skill starts as a stub version (name, description, a title), so the proposal has a
    parent to be diffed against."""
    if latest_version(ws.db, name):
        raise Trace2SkillError(f"a skill named {name!r} exists already: deepen it with --base-skill {name}")
    title = name.replace("-", " ").strip().capitalize()
    stub = SkillFolder(name, description, body=f"\n# {title}\n\n{description}\n")
    return save_version(ws.db, name, stub.as_files(), source="manual", parent=None,
                        message="new skill: name and description")


def start_consolidation(ws: Workspace, config: ConsolidationConfig, lesson_ids: list[str] | None = None) -> str:
    """Create the run (one item per trajectory with approved lessons); nothing is sent yet."""
    if bool(config.base_version) == bool(config.new_skill):
        raise Trace2SkillError("choose a base skill version to deepen, or a name for a new skill (not both)")
    if config.batch_size < 2:
        raise Trace2SkillError("batch size must be at least 2")
    if config.new_skill:
        if not config.description.strip():
            raise Trace2SkillError("a new skill needs a description")
        config.base_version = _new_skill_stub(ws, config.new_skill, config.description)
    else:
        config.base_version = get_version(ws.db, config.base_version or "")["id"]
    lessons = _approved(ws, lesson_ids)
    if not lessons:
        raise Trace2SkillError("no approved lessons: approve some lessons first")
    trajectories = sorted({lesson["trajectory_id"] for lesson in lessons})
    data = asdict(config) | {"lesson_ids": sorted(lesson["id"] for lesson in lessons)}
    return run_store.create_run(ws.db, "consolidation", data, trajectories)


def _approved(ws: Workspace, lesson_ids: list[str] | None) -> list[dict[str, Any]]:
    rows = list_lessons(ws.db, LessonFilter(status="approved"), limit=1_000_000)
    return [r for r in rows if lesson_ids is None or r["id"] in set(lesson_ids)]


@dataclass
class ConsolidationResult:
    run_id: str
    version: str
    levels: int
    merge_calls: int
    proposals: int
    applied: int
    rejected: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    findings: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, **{k: v for k, v in asdict(self).items() if k != "run_id"}}


def _propose_all(ws: Workspace, client: StructuredClient, run_id: str, by_trajectory: dict[str, list[dict]],
                 skill_files: dict[str, str], config: ConsolidationConfig) -> int:
    pending = run_store.pending_items(ws.db, run_id)

    def work(trajectory_id: str) -> int:
        db = ws.db
        run_store.start_item(db, run_id, trajectory_id)
        try:
            patch = propose_patch(client, run_id, trajectory_id, by_trajectory[trajectory_id], skill_files,
                                  max_tokens=config.max_tokens, budget=config.budget())
            with write_transaction(db):
                save_patch(db, patch)
                run_store.finish_item(db, run_id, trajectory_id, "done")
            return 1
        except Exception as exc:  # recorded; this trajectory's lessons sit out this run
            run_store.finish_item(db, run_id, trajectory_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            return 0

    with ThreadPoolExecutor(max_workers=max(1, config.concurrency), thread_name_prefix=f"propose-{run_id}") as pool:
        return sum(pool.map(work, pending))


def execute_consolidation(ws: Workspace, run_id: str, client: StructuredClient, *,
                          on_node: Callable[[MergeNode], None] | None = None) -> ConsolidationResult:
    """Run (or resume) a consolidation and save its proposal as a new skill version."""
    run = run_store.get_run(ws.db, run_id)
    data = dict(run["config"])
    lesson_ids = data.pop("lesson_ids")
    config = ConsolidationConfig(**data)
    base = get_version(ws.db, config.base_version or "")
    base_folder = folder_of(base)
    lessons = [r for r in list_lessons(ws.db, LessonFilter(), limit=1_000_000) if r["id"] in set(lesson_ids)]
    by_trajectory: dict[str, list[dict]] = defaultdict(list)
    for lesson in sorted(lessons, key=lambda r: r["id"]):
        by_trajectory[lesson["trajectory_id"]].append(lesson)
    run_store.set_run_status(ws.db, run_id, "running")
    try:
        proposals = _propose_all(ws, client, run_id, by_trajectory, base["files"], config)
        done = [i["item_id"] for i in run_store.list_items(ws.db, run_id, status="done", limit=1_000_000)]
        leaves = [get_patch(ws.db, leaf_patch_id(run_id, t)) for t in sorted(done)]
        trajectory_of = {lesson["id"]: lesson["trajectory_id"] for lesson in lessons}

        def support_of(edit: Edit) -> int:
            return len({trajectory_of.get(s, s) for s in edit.support})

        tree = build_tree(ws, client, run_id, leaves, batch_size=config.batch_size, skill_files=base["files"],
                          support_of=support_of, concurrency=config.concurrency, embeddings=config.embeddings,
                          on_node=on_node, budget=config.budget(), max_tokens=config.max_tokens)
        result = apply_patch(base_folder, tree.root, locked_sections=locked_sections(ws.db, base["skill"]),
                             support={e.id: support_of(e) for e in tree.root.edits}, min_support=config.min_support,
                             move_low_support=config.move_low_support, dirname=base["skill"])
        texts = {t: _trajectory_text(ws, t) for t in by_trajectory}
        findings = list(result.findings) + lint_skill(result.skill, base_folder, trajectory_texts=texts)
        version = save_version(ws.db, base["skill"], result.skill.as_files(), source="proposal", parent=base["id"],
                               run_id=run_id, message=f"proposal of consolidation run {run_id}")
        save_line_origins(ws.db, version, result.line_origins, run_id)
        outcome = ConsolidationResult(
            run_id=run_id, version=version, levels=tree.levels, merge_calls=tree.merge_calls,
            proposals=proposals, applied=len(result.applied),
            rejected=[r._asdict() for r in result.rejected],
            conflicts=[{"edit_ids": list(c.edit_ids), "reason": c.reason} for c in result.conflicts],
            findings=[asdict(f) for f in findings])
    except BaseException as exc:
        run_store.set_run_status(ws.db, run_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    with write_transaction(ws.db):
        ws.db.execute("UPDATE runs SET counters = ? WHERE id = ?", [json.dumps(outcome.as_dict()), run_id])
    run_store.set_run_status(ws.db, run_id, "done")
    return outcome


def _trajectory_text(ws: Workspace, trajectory_id: str) -> str:
    t = get_trajectory(ws.db, trajectory_id)
    parts = [t["task"] or ""]
    for s in t["steps"]:
        parts.append(s["text"])
        parts.extend(json.dumps(c["arguments"]) for c in s["tool_calls"])
        parts.extend(r["content"] for r in s["tool_results"])
    return "\n".join(parts)
