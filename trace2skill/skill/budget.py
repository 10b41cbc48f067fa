"""The edit budget: how much one proposal may change SKILL.md.

Per proposal, at most ``max_added_lines`` new lines of text in SKILL.md, and at most
``max_changed_share`` of its lines of text changed (lines added plus lines removed or replaced;
never fewer than `MIN_CHANGED_LINES`; no share limit for a new skill's stub, which has no human
text to protect), and the result stays under the spec's 500 lines. Blank lines are not counted
against the two limits, only against the 500.

Which edits fit: the planned SKILL.md changes are taken best supported first (distinct
trajectories; ties in patch order), each kept while it fits; one that does not fit is over budget
(a smaller, less supported one after it may still fit). Over-budget edits that add text go to
``references/further-guidance.md`` (linked from SKILL.md) with ``over_budget="move"``; the others,
and all of them with ``"drop"``, are rejected with the reason "over budget: ...". Changes to other
files cost nothing. Deterministic: the same patch and support give the same choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trace2skill.errors import InvalidValueError
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.plan import Change, FileView
from trace2skill.skill.support import MOVED_ORDER, Overflow
from trace2skill.skill.validate import MAX_SKILL_MD_LINES

DEFAULT_MAX_ADDED_LINES = 60
DEFAULT_MAX_CHANGED_SHARE = 0.3
MIN_CHANGED_LINES = 10
LINK_RESERVE = 4  # lines kept free under the 500 for the links to references/ files (blank + link, twice)
OVER_BUDGET_FILE = "references/further-guidance.md"
OVER_BUDGET = Overflow(
    OVER_BUDGET_FILE,
    ("# Further guidance", "",
     "Guidance kept out of SKILL.md to keep it short. Each section says how many trajectories support it."),
    f"More guidance, less often needed, is in [{OVER_BUDGET_FILE}]({OVER_BUDGET_FILE}).",
    MOVED_ORDER * 3,
)
OverBudget = Literal["move", "drop"]


@dataclass(frozen=True)
class EditBudget:
    max_added_lines: int | None = DEFAULT_MAX_ADDED_LINES  # None: no limit
    max_changed_share: float | None = DEFAULT_MAX_CHANGED_SHARE  # of SKILL.md's lines of text; None: no limit
    over_budget: OverBudget = "move"

    def __post_init__(self) -> None:
        if self.max_added_lines is not None and self.max_added_lines < 0:
            raise InvalidValueError(f"max added lines must be 0 or more, not {self.max_added_lines}")
        if self.max_changed_share is not None and not 0 <= self.max_changed_share <= 1:
            raise InvalidValueError(f"max changed share is a fraction from 0 to 1, not {self.max_changed_share}")
        if self.over_budget not in ("move", "drop"):
            raise InvalidValueError(f"over budget is 'move' or 'drop', not {self.over_budget!r}")


@dataclass
class BudgetUse:
    """What the budget allowed and what the kept edits used (for the run's counters and screens)."""

    max_added_lines: int | None
    max_changed_lines: int | None
    max_changed_share: float | None
    over_budget: OverBudget
    base_lines: int  # lines of text (non-blank) in the base SKILL.md
    added_lines: int = 0
    changed_lines: int = 0
    skill_md_lines: int = 0  # lines of the resulting SKILL.md (filled in after the apply)
    over: list[dict[str, Any]] = field(default_factory=list)  # edit_id, support, reason, moved

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _text_lines(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip())


def _cost(ch: Change, view: FileView) -> tuple[int, int, int]:
    """(lines of text added, lines of text changed, growth of the file in lines) of one change."""
    added = _text_lines(ch.lines)
    removed = _text_lines(view.lines[ch.start:ch.end])
    return added, added + removed, len(ch.lines) - (ch.end - ch.start)


def _use(budget: EditBudget, view: FileView, new_skill: bool) -> BudgetUse:
    base = _text_lines(view.lines[view.floor:])
    share = None if new_skill else budget.max_changed_share
    most = None if share is None else max(math.ceil(share * base), MIN_CHANGED_LINES)
    return BudgetUse(budget.max_added_lines, most, share, budget.over_budget, base)


def _why(use: BudgetUse, added: int, changed: int, growth: int, room: int) -> str:
    if use.max_added_lines is not None and use.added_lines + added > use.max_added_lines:
        return f"over budget: {added} more added lines would pass the limit of {use.max_added_lines}"
    if use.max_changed_lines is not None and use.changed_lines + changed > use.max_changed_lines:
        return (f"over budget: {changed} more changed lines would pass the limit of {use.max_changed_lines} "
                f"({use.max_changed_share:.0%} of SKILL.md's {use.base_lines} lines of text)")
    if growth > room:
        return f"over budget: SKILL.md would reach the spec's limit of {MAX_SKILL_MD_LINES} lines"
    return ""


def fit_budget(changes: list[Change], view: FileView, support: Mapping[str, int], budget: EditBudget, *,
               new_skill: bool = False) -> tuple[list[Change], list[tuple[Change, str]], BudgetUse]:
    """(changes kept, over-budget changes with their reason, the budget's use). Only SKILL.md line
    changes cost; everything else is kept. The kept list keeps the input order."""
    use = _use(budget, view, new_skill)
    room = MAX_SKILL_MD_LINES - 1 - len(view.lines) - LINK_RESERVE
    costed = [ch for ch in changes if ch.file == SKILL_MD and ch.kind == "lines"]
    ranked = sorted(costed, key=lambda ch: (-int(support.get(ch.edit_id, 0)), ch.order))
    over: dict[int, str] = {}
    for ch in ranked:
        added, changed, growth = _cost(ch, view)
        why = _why(use, added, changed, growth, room)
        if why:
            over[id(ch)] = why
            continue
        use.added_lines, use.changed_lines, room = use.added_lines + added, use.changed_lines + changed, room - growth
    kept = [ch for ch in changes if id(ch) not in over]
    return kept, [(ch, over[id(ch)]) for ch in ranked if id(ch) in over], use


def describe_budget(use: Mapping[str, Any]) -> str:
    """One line for people: the budget, what the kept edits used, and what went over it."""
    def of(used: int, most: int | None) -> str:
        return f"{used} of {most}" if most is not None else f"{used} (no limit)"

    changed = of(use.get("changed_lines", 0), use.get("max_changed_lines"))
    if use.get("max_changed_share") is not None:
        changed += f" ({use['max_changed_share']:.0%} of {use.get('base_lines', 0)})"
    line = (f"edit budget: {of(use.get('added_lines', 0), use.get('max_added_lines'))} lines added, {changed} lines "
            f"changed, SKILL.md {use.get('skill_md_lines', 0)} lines")
    over = use.get("over") or []
    if over:
        moved = sum(1 for o in over if o.get("moved"))
        line += (f"; {len(over)} edit(s) over budget: {moved} moved to {OVER_BUDGET_FILE}, "
                 f"{len(over) - moved} dropped")
    return line
