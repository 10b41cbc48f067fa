"""What the Review screen shows beside a diff (no streamlit): for each added line of the new
version, the edit that wrote it and how many distinct trajectories support that edit; per hunk the
union; over all hunks the spread of that support (for its chart); hunk text; the trajectory texts
lint checks values against (the side-by-side table is in `trace2skill.ui.review_view`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlite_utils import Database

from trace2skill.diff import FileDiff, Hunk
from trace2skill.errors import NotFoundError
from trace2skill.humanize import plural
from trace2skill.models import Edit
from trace2skill.provenance import line_origin
from trace2skill.store.lessons import lesson_trajectories, run_lesson_trajectories
from trace2skill.store.patches import run_edits
from trace2skill.store.provenance import stored_origins
from trace2skill.store.trajectories import trajectory_text

MAX_TRACED_LINES = 400  # lines traced through the version history per file (stored origins are free)


@dataclass
class LineSupport:
    edit_id: str
    run_id: str
    trajectories: frozenset[str]
    lessons: frozenset[str]
    content: str = ""


@dataclass
class HunkSupport:
    trajectories: set[str] = field(default_factory=set)
    edits: list[str] = field(default_factory=list)
    lines: int = 0  # added lines that come from an edit
    lessons: set[str] = field(default_factory=set)
    verified: int = 0  # how many of those lessons passed replay verification

    @property
    def count(self) -> int:
        return len(self.trajectories)


def _origins(db: Database, version_id: str, file: str, lines: Iterable[int]) -> dict[int, tuple[str, str]]:
    """0-based line -> (edit id, run id) for the given lines that an edit wrote."""
    wanted = sorted(set(lines))
    stored = stored_origins(db, version_id, file)
    if stored is not None:
        origins, run_id = stored
        return {i: (edit_id, run_id) for i in wanted if i < len(origins) and (edit_id := origins[i]) and run_id}
    out = {}
    for i in wanted[:MAX_TRACED_LINES]:
        try:
            origin = line_origin(db, version_id, file, i)
        except NotFoundError:
            continue
        if origin["kind"] == "edit" and origin.get("run_id"):
            out[i] = (origin["edit_id"], origin["run_id"])
    return out


def line_support(db: Database, version_id: str, file: str, lines: Iterable[int]) -> dict[int, LineSupport]:
    """0-based line of the version's file -> the supporting edit, for lines written by an edit."""
    origins = _origins(db, version_id, file, lines)
    by_run: dict[str, set[str]] = {}
    for edit_id, run_id in origins.values():
        by_run.setdefault(run_id, set()).add(edit_id)
    edits: dict[str, Edit] = {}
    for run_id, ids in by_run.items():
        edits.update(run_edits(db, run_id, ids))
    trajectory_of = lesson_trajectories(db, {s for e in edits.values() for s in e.support})
    out = {}
    for i, (edit_id, run_id) in origins.items():
        edit = edits.get(edit_id)
        support = frozenset(edit.support if edit else [])
        out[i] = LineSupport(edit_id, run_id, frozenset(trajectory_of.get(s, s) for s in support), support,
                             edit.content if edit else "")
    return out


def added_new_lines(fd: FileDiff) -> list[int]:
    """0-based indices (in the new text) of the lines the diff adds."""
    return [ln.new_no - 1 for h in fd.hunks for ln in h.lines if ln.tag == "+" and ln.new_no]


def hunk_support(hunks: Iterable[Hunk], support: dict[int, LineSupport],
                 verified: set[str] | None = None) -> list[HunkSupport]:
    """Per hunk: the edits, trajectories and lessons behind its added lines (and how many of those
    lessons are in `verified`)."""
    out = []
    for h in hunks:
        hs = HunkSupport()
        for ln in h.lines:
            s = support.get((ln.new_no or 0) - 1) if ln.tag == "+" else None
            if s:
                hs.lines += 1
                hs.trajectories |= s.trajectories
                hs.lessons |= s.lessons
                if s.edit_id not in hs.edits:
                    hs.edits.append(s.edit_id)
        hs.verified = len(hs.lessons & (verified or set()))
        out.append(hs)
    return out


@dataclass(frozen=True)
class SupportSpread:
    """How many trajectories stand behind the changes (hunks) of a diff: trajectories -> number of
    changes backed by that many, and the changes no consolidation edit wrote (removals, base text)."""

    counts: dict[int, int]
    untraced: int = 0

    @property
    def changes(self) -> int:
        return sum(self.counts.values())


def support_spread(per_hunk: Iterable[HunkSupport]) -> SupportSpread:
    """The spread over every hunk of a diff (`hunk_support` of each file, all together)."""
    counts: dict[int, int] = {}
    untraced = 0
    for hs in per_hunk:
        if hs.lines:
            counts[hs.count] = counts.get(hs.count, 0) + 1
        else:
            untraced += 1
    return SupportSpread(dict(sorted(counts.items())), untraced)


def spread_rows(spread: SupportSpread, fill_up_to: int = 12) -> list[tuple[int, int]]:
    """(trajectories, changes) to chart, smallest support first; every count from 1 to the largest
    is listed (0 changes where none) when the largest is at most `fill_up_to`."""
    if not spread.counts:
        return []
    top = max(spread.counts)
    keys = sorted({*spread.counts, *range(1, top + 1)}) if top <= fill_up_to else sorted(spread.counts)
    return [(k, spread.counts.get(k, 0)) for k in keys]


def _by(n: int) -> str:
    return {0: "no trajectory", 1: "one trajectory"}.get(n, f"{n} trajectories")


def spread_words(spread: SupportSpread) -> str:
    """The spread in one line: "2 changes: 1 backed by 3 trajectories, 1 by 6 trajectories." (at most
    three groups: one trajectory, two, three or more, when the supports are more varied)."""
    total = spread.changes
    if not total:
        return ""
    groups = [(_by(k), n) for k, n in spread.counts.items()]
    if len(groups) > 3:
        wanted = {"no trajectory": lambda k: k == 0, "one trajectory": lambda k: k == 1,
                  "two trajectories": lambda k: k == 2, "three or more": lambda k: k >= 3}
        groups = [(name, n) for name, test in wanted.items()
                  if (n := sum(c for k, c in spread.counts.items() if test(k)))]
    if len(groups) == 1:
        text = f"{plural(total, 'change')}, {'all ' if total > 1 else ''}backed by {groups[0][0]}"
    else:
        text = f"{plural(total, 'change')}: " + ", ".join(
            f"{n} {'backed by ' if i == 0 else 'by '}{name}" for i, (name, n) in enumerate(groups))
    if spread.untraced:
        text += (f"; {plural(spread.untraced, 'more change')} "
                 + ("has no consolidation edit behind it" if spread.untraced == 1 else
                    "have no consolidation edit behind them"))
    return text + "."


def hunk_text(h: Hunk) -> str:
    return h.header + "\n" + "\n".join(f"{ln.tag}{ln.text}" for ln in h.lines)


def run_trajectory_texts(db: Database, run_id: str | None, limit: int = 200) -> dict[str, str]:
    """Texts of the trajectories whose lessons a run used (for lint's copied-value check)."""
    if not run_id:
        return {}
    ids = sorted(set(run_lesson_trajectories(db, run_id).values()))[:limit]
    return {t: trajectory_text(db, t) for t in ids}
