"""Deterministic apply of a patch to a skill, with guardrails and line provenance.

Order of checks (each edit is planned against the same frozen base, see `plan`):
1. Minimum support: with ``support`` (edit id -> distinct trajectories) and ``min_support`` K,
   edits below K are rejected — or, with ``move_low_support``, content-adding edits (inserts,
   appends, new sections) go to ``references/low-support.md`` instead, linked from SKILL.md by
   one line. An edit missing from ``support`` counts as 0.
2. Planning: missing files, unsafe paths, unknown sections and unmatched anchors are rejected.
3. Locks: an edit that would change a locked section of SKILL.md (its heading, text or
   subsections) is rejected. A new section placed right after a locked one, at the same or a
   higher level, does not change it.
4. Duplicates: an edit making the very same change as an earlier one is rejected as a duplicate.
5. Conflicts (withheld: neither edit applies, both are reported): two edits changing overlapping
   line ranges; an insertion strictly inside lines another edit replaces or deletes, or placed by
   lines another edit changes (its anchor text, or the heading of the section it goes into or
   after); any edit to
   a file another edit deletes; two different creations of one file; and two insertions at the
   same place whose contents are variants of each other (similarity >= 0.85 but not equal) —
   dissimilar insertions at one place are both kept, in patch order.
6. Edit budget (when given, see `trace2skill.skill.budget`): the best-supported SKILL.md changes
   are kept within it; the rest move to ``references/further-guidance.md`` or are rejected, with
   the reason "over budget".
7. Orphans: a created file is kept only when the resulting SKILL.md mentions its path.
The result is checked against the Agent Skills spec (strictly: what the reference validator
refuses is an error) and keeps the base's executable files executable. Line ranges are 0-based,
end-exclusive indices into the resulting file's lines — the same indices as ``line_origins``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import combinations
from typing import NamedTuple

from trace2skill.models import Edit, Patch
from trace2skill.skill.budget import OVER_BUDGET, OVER_BUDGET_FILE, BudgetUse, EditBudget, fit_budget
from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.plan import Change, FileView, plan_edit
from trace2skill.skill.sections import join_lines, locked_spans, split_lines
from trace2skill.skill.support import (
    LOW_SUPPORT,
    LOW_SUPPORT_FILE,
    MOVABLE_OPS,
    low_support_changes,
    split_by_support,
)
from trace2skill.skill.validate import Finding, line_count, validate_skill

VARIANT_SIMILARITY = 0.85


class AppliedEdit(NamedTuple):
    edit_id: str
    file: str
    start: int  # 0-based line index in the resulting file
    end: int  # exclusive; start == end for a deletion
    match: str  # "exact" | "fuzzy" ("exact" for edits placed by section or path)
    moved: bool = False  # content went to references/low-support.md


class Rejected(NamedTuple):
    edit_id: str
    reason: str


class Conflict(NamedTuple):
    edit_ids: tuple[str, ...]
    reason: str


@dataclass
class ApplyResult:
    skill: SkillFolder
    applied: list[AppliedEdit] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    line_origins: dict[str, list[str | None]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    moved: list[Rejected] = field(default_factory=list)  # edits moved to references/, with the reason
    budget: BudgetUse | None = None  # the edit budget and its use, when one was given

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def _with_ids(edits: Iterable[Edit]) -> tuple[list[Edit], list[Rejected]]:
    out, rejected, seen = [], [], set()
    for i, edit in enumerate(edits):
        edit = edit if edit.id else edit.model_copy(update={"id": f"edit-{i + 1}"})
        if edit.id in seen:
            rejected.append(Rejected(edit.id, "another edit of this patch has the same id"))
            continue
        seen.add(edit.id)
        out.append(edit)
    return out, rejected


def _changes_section(change: Change, view: FileView, span: tuple[int, int, int]) -> bool:
    start, end, level = span
    if not change.is_insertion:
        return change.start < end and start < change.end
    at = change.start
    if at <= start or at > end:
        return False
    after_section = all(not line.strip() for line in view.lines[at:end])
    return not (after_section and change.opens_level is not None and change.opens_level <= level)


def _similar(a: list[str], b: list[str]) -> float:
    return SequenceMatcher(None, "\n".join(a).strip(), "\n".join(b).strip(), autojunk=False).ratio()


def _conflict(a: Change, b: Change) -> str | None:
    if a.file != b.file:
        return None
    if "delete_file" in (a.kind, b.kind):
        return f"{a.file} is deleted by one edit and changed by the other"
    if a.kind == "create" or b.kind == "create":
        return f"both create {a.file} with different content"
    if a.is_insertion and b.is_insertion:
        if a.start == b.start and _similar(a.lines, b.lines) >= VARIANT_SIMILARITY:
            return f"both insert variants of the same text at line {a.start + 1} of {a.file}"
        return None
    if a.is_insertion or b.is_insertion:
        ins, rng = (a, b) if a.is_insertion else (b, a)
        if rng.start < ins.start < rng.end:
            return f"one inserts inside lines {rng.start + 1}-{rng.end} of {a.file}, which the other replaces"
        if ins.anchor and ins.anchor[0] < rng.end and rng.start < ins.anchor[1]:
            return f"one is placed by lines {ins.anchor[0] + 1}-{ins.anchor[1]} of {a.file}, which the other changes"
        return None
    if a.start < b.end and b.start < a.end:
        return f"both change lines {max(a.start, b.start) + 1}-{min(a.end, b.end)} of {a.file}"
    return None


def _placement(c: Change) -> tuple[int, bool, int, int]:
    """Sort key: by position; at one position insertions before a replacement, text continuing the
    section before headings, deeper new headings before shallower ones, then patch order."""
    rank = 0 if c.opens_level is None else 7 - c.opens_level
    return c.start, c.end > c.start, rank, c.order


def _assemble(view: FileView | None, changes: list[Change], applied: list[AppliedEdit], moved: set[str]
              ) -> tuple[list[str], list[str | None], bool]:
    base = view.lines if view else []
    lines: list[str] = []
    origins: list[str | None] = []
    ordered = sorted(changes, key=_placement)
    pos = 0
    for ch in ordered:
        lines += base[pos:ch.start]
        origins += [None] * (ch.start - pos)
        pos = max(pos, ch.start)
        begin = len(lines)
        lines += ch.lines
        origins += [ch.edit_id if ch.edit_id else None] * len(ch.lines)
        pos = max(pos, ch.end)
        if ch.edit_id:
            applied.append(AppliedEdit(ch.edit_id, ch.file, begin, len(lines), ch.match, ch.edit_id in moved))
    lines += base[pos:]
    origins += [None] * (len(base) - pos)
    return lines, origins, view.trailing if view else True


def _drop_locked(planned: list[Change], view: FileView, spans: list[tuple[tuple[int, int, int], str]],
                 rejected: list[Rejected]) -> list[Change]:
    kept = []
    for ch in planned:
        hit = next((title for span, title in spans if ch.file == SKILL_MD and ch.kind == "lines"
                    and _changes_section(ch, view, span)), None)
        if hit:
            rejected.append(Rejected(ch.edit_id, f"section {hit!r} is locked"))
        else:
            kept.append(ch)
    return kept


def _dedupe(planned: list[Change], rejected: list[Rejected]) -> list[Change]:
    unique: list[Change] = []
    for ch in planned:
        key = (ch.file, ch.start, ch.end, ch.lines, ch.kind)
        twin = next((u for u in unique if (u.file, u.start, u.end, u.lines, u.kind) == key), None)
        if twin:
            rejected.append(Rejected(ch.edit_id, f"duplicate of edit {twin.edit_id}"))
        else:
            unique.append(ch)
    return unique


def _drop_orphans(changes: list[Change], skill_view: FileView, rejected: list[Rejected]) -> list[Change]:
    """The changes without created files that the resulting SKILL.md does not mention."""
    skill_lines = [c for c in changes if c.file == SKILL_MD and c.kind == "lines"]
    skill_text = "\n".join(_assemble(skill_view, skill_lines, [], set())[0])
    kept = []
    for ch in changes:
        if ch.kind == "create" and ch.file not in (LOW_SUPPORT_FILE, OVER_BUDGET_FILE) and ch.file not in skill_text:
            rejected.append(Rejected(ch.edit_id, f"orphan: no SKILL.md edit links to {ch.file}"))
        else:
            kept.append(ch)
    return kept


def _linked(extra: list[Change], view: FileView, spans: list[tuple[tuple[int, int, int], str]],
            link: str) -> list[Change]:
    """Overflow changes, the link line moved to the top of the body when the end of SKILL.md is locked."""
    for ch in extra:
        if ch.file == SKILL_MD and any(_changes_section(ch, view, span) for span, _ in spans):
            at = view.floor
            at += 1 if at < len(view.lines) and not view.lines[at].strip() else 0
            ch.start = ch.end = at
            ch.lines = [link, ""]
    return extra


def _settle_over(over: list[tuple[Change, str]], edits: list[Edit], budget: EditBudget, use: BudgetUse,
                 support: Mapping[str, int], rejected: list[Rejected], moves: list[Rejected]) -> list[Edit]:
    """Over-budget edits: moved to the further-guidance file (those that add text, in "move" mode)
    or rejected; each reported in `use.over`. Returns the edits to move."""
    by_id = {e.id: e for e in edits}
    moved: list[Edit] = []
    for ch, why in over:
        edit = by_id[ch.edit_id]
        movable = budget.over_budget == "move" and edit.op in MOVABLE_OPS and bool(edit.content.strip())
        reason = f"{why}; moved to {OVER_BUDGET_FILE}" if movable else why
        if movable:
            moved.append(edit)
            moves.append(Rejected(edit.id, reason))
        else:
            rejected.append(Rejected(edit.id, reason))
        use.over.append({"edit_id": edit.id, "support": int(support.get(edit.id, 0)), "reason": reason,
                         "moved": movable})
    return moved


def apply_patch(base: SkillFolder, patch: Patch | Iterable[Edit], *, locked_sections: Iterable[str] = (),
                support: Mapping[str, int] | None = None, min_support: int = 0, move_low_support: bool = False,
                dirname: str | None = None, budget: EditBudget | None = None, new_skill: bool = False) -> ApplyResult:
    """Apply `patch` to `base` (left unchanged) and return the proposed skill with a full report.

    `locked_sections`: titles or ``A > B`` paths of SKILL.md sections that must not change.
    `support`: edit id -> number of distinct trajectories behind it, used with `min_support`.
    `dirname`: the folder name the skill will be exported under (checked against its name).
    `budget`: how much SKILL.md may change (see `trace2skill.skill.budget`; `new_skill`: the base
    is a new skill's stub, so only the added lines are limited).
    """
    edits, rejected = _with_ids(patch.edits if isinstance(patch, Patch) else patch)
    edits, moved_edits, low = split_by_support(edits, support, min_support, move_low_support)
    rejected += [Rejected(*r) for r in low]
    moves = [Rejected(e.id, f"support {int((support or {}).get(e.id, 0))} is below the minimum {min_support}; "
                            f"moved to {LOW_SUPPORT_FILE}") for e in moved_edits]
    files = base.as_files()
    views: dict[str, FileView] = {}
    planned: list[Change] = []
    for order, edit in enumerate(edits):
        result = plan_edit(edit, order, files, views)
        if isinstance(result, str):
            rejected.append(Rejected(edit.id, result))
        else:
            planned.append(result)
    skill_view = views.setdefault(SKILL_MD, FileView.of(SKILL_MD, files[SKILL_MD]))
    spans = [((s.start, s.end, s.level), title) for s, title in locked_spans(skill_view.sections, locked_sections)]
    unique = _dedupe(_drop_locked(planned, skill_view, spans, rejected), rejected)
    conflicts = [Conflict((a.edit_id, b.edit_id), reason) for a, b in combinations(unique, 2)
                 if (reason := _conflict(a, b))]
    withheld = {i for c in conflicts for i in c.edit_ids}
    changes = [c for c in unique if c.edit_id not in withheld]
    use, over_moved = None, []
    if budget is not None:
        changes, over, use = fit_budget(changes, skill_view, support or {}, budget, new_skill=new_skill)
        over_moved = _settle_over(over, edits, budget, use, support or {}, rejected, moves)
    for target, group in ((LOW_SUPPORT, moved_edits), (OVER_BUDGET, over_moved)):
        if group:
            changes += _linked(low_support_changes(group, support or {}, files, views, target), skill_view, spans,
                               target.link)
    kept = _drop_orphans(changes, skill_view, rejected)
    out = _build(files, views, kept, rejected, conflicts, {e.id for e in [*moved_edits, *over_moved]}, dirname)
    out.moved = moves
    out.skill.set_modes(base.modes)
    if use is not None:
        use.skill_md_lines = line_count(out.skill.as_files()[SKILL_MD])
        out.budget = use
    return out


def _build(files: dict[str, str], views: dict[str, FileView], changes: list[Change],
           rejected: list[Rejected], conflicts: list[Conflict], moved: set[str], dirname: str | None) -> ApplyResult:
    applied: list[AppliedEdit] = []
    out_files: dict[str, str] = {}
    origins: dict[str, list[str | None]] = {}
    deleted = {c.file: c for c in changes if c.kind == "delete_file"}
    for path in [*files, *sorted({c.file for c in changes if c.kind == "create"})]:
        if path in deleted:
            applied.append(AppliedEdit(deleted[path].edit_id, path, 0, 0, "exact"))
            continue
        mine = [c for c in changes if c.file == path and c.kind != "delete_file"]
        if not mine:
            out_files[path] = files[path]
            origins[path] = [None] * len(split_lines(files[path])[0])
            continue
        view = views.get(path) or (FileView.of(path, files[path]) if path in files else None)
        lines, origins[path], trailing = _assemble(view, mine, applied, moved)
        out_files[path] = join_lines(lines, trailing)
    skill = SkillFolder.from_files(out_files)
    skill.warnings = []
    order = {c.edit_id: c.order for c in changes}
    applied.sort(key=lambda a: (order.get(a.edit_id, 0), a.file))
    return ApplyResult(skill, applied, rejected, conflicts, origins,
                       validate_skill(skill, strict=True, dirname=dirname))


__all__ = ["apply_patch", "ApplyResult", "AppliedEdit", "Rejected", "Conflict", "LOW_SUPPORT_FILE", "EditBudget",
           "OVER_BUDGET_FILE"]
