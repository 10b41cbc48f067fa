"""Held out means held out: lessons that come from held-out trajectories, or that quote a held-out
task's text (the leakage check's findings), stay out of a consolidation unless the user includes
them explicitly, and that choice is recorded as a decision on the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlite_utils import Database

from trace2skill.errors import HeldOutError
from trace2skill.evaluate.leakage import check_leakage, heldout_texts
from trace2skill.store.decisions import record_decision

FROM_HELDOUT = "from a held-out trajectory"
QUOTES_HELDOUT = "quoting a held-out task"


@dataclass
class HeldOutSelection:
    """The lessons a consolidation may use (their ids), and those held-out data kept out (id -> reason)."""

    lesson_ids: list[str]
    left_out: dict[str, str] = field(default_factory=dict)
    included: dict[str, str] = field(default_factory=dict)  # held-out lessons the user chose to use

    def summary(self) -> str:
        return reasons_summary(self.left_out or self.included)


def reasons_summary(reasons: dict[str, str]) -> str:
    """ "3 from a held-out trajectory, 1 quoting a held-out task" (or "")."""
    return ", ".join(f"{n} {why}" for why, n in sorted(Counter(reasons.values()).items()))


def heldout_reasons(db: Database, lesson_ids: list[str]) -> dict[str, str]:
    """Lesson id -> why it touches held-out data, for the lessons that do."""
    if not lesson_ids or not heldout_texts(db):
        return {}
    report = check_leakage(db, lesson_ids=lesson_ids)
    reasons: dict[str, str] = {}
    for finding in report.findings:
        lesson_id = finding.where.removeprefix("lesson ")
        if finding.kind == "heldout_source":
            reasons[lesson_id] = FROM_HELDOUT
        else:
            reasons.setdefault(lesson_id, QUOTES_HELDOUT)
    return reasons


def select_for_consolidation(db: Database, lesson_ids: list[str], *, include_heldout: bool) -> HeldOutSelection:
    """Keep held-out lessons out (or in, with `include_heldout`); all kept out is an error."""
    reasons = heldout_reasons(db, lesson_ids)
    if include_heldout or not reasons:
        return HeldOutSelection(lesson_ids, included=reasons)
    kept = [lesson_id for lesson_id in lesson_ids if lesson_id not in reasons]
    selection = HeldOutSelection(kept, left_out=reasons)
    if not kept:
        raise HeldOutError(f"all {len(lesson_ids)} approved lessons touch held-out data ({selection.summary()}); "
                           "held-out trajectories measure the skill and must not shape it; mark them evolve, or "
                           "include them explicitly (--include-heldout), which is recorded")
    return selection


def record_inclusion(db: Database, run_id: str, selection: HeldOutSelection, actor: str = "user") -> None:
    """The user's choice to consolidate held-out lessons, as a decision on the run."""
    if selection.included:
        record_decision(db, "run", run_id, "include_heldout", actor=actor,
                        detail={"lessons": sorted(selection.included), "summary": selection.summary()})


def left_out_note(left_out: dict[str, str]) -> str:
    """What a run's config says was kept out, for people ("" when nothing was)."""
    if not left_out:
        return ""
    n = len(left_out)
    which = "1 approved lesson was" if n == 1 else f"{n} approved lessons were"
    return f"{which} left out as held-out data ({reasons_summary(left_out)})"
