"""Minimum support: drop edits seen in too few trajectories, or move their text to a reference.

Moved edits become sections of ``references/low-support.md`` (created, or extended at its end
when the base has it), each titled after the edit's section (or the heading of its content) with
its support count; SKILL.md gets one line linking to the file (appended at the end of its body,
or put at the top of the body when the last section is locked; that line's origin is None — it
is scaffolding, not any edit's content).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from trace2skill.models import Edit
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.plan import Change, FileView, content_block
from trace2skill.skill.sections import heading

LOW_SUPPORT_FILE = "references/low-support.md"
MOVABLE_OPS = {"insert_after", "insert_before", "append_to_section", "add_section"}
LINK_LINE = f"Lessons seen in few trajectories are kept in [{LOW_SUPPORT_FILE}]({LOW_SUPPORT_FILE})."
FILE_HEADER = ["# Low-support notes", "",
               "Guidance seen in fewer trajectories than the chosen minimum support. Check it before relying on it."]
MOVED_ORDER = 1_000_000


@dataclass(frozen=True)
class Overflow:
    """A references/ file that takes edits out of SKILL.md, and the line that links to it."""

    path: str
    header: tuple[str, ...]
    link: str
    order: int  # the order of its changes (after every edit of the patch)


LOW_SUPPORT = Overflow(LOW_SUPPORT_FILE, tuple(FILE_HEADER), LINK_LINE, MOVED_ORDER)


class _Rejected(NamedTuple):
    edit_id: str
    reason: str


def split_by_support(edits: list[Edit], support: Mapping[str, int] | None, min_support: int,
                     move: bool) -> tuple[list[Edit], list[Edit], list[_Rejected]]:
    """(kept, moved to references, rejected) by each edit's distinct-trajectory support."""
    if support is None or min_support <= 0:
        return edits, [], []
    kept, moved, rejected = [], [], []
    for edit in edits:
        n = int(support.get(edit.id, 0))
        if n >= min_support:
            kept.append(edit)
        elif move and edit.op in MOVABLE_OPS and edit.content.strip():
            moved.append(edit)
        else:
            why = f"support {n} is below the minimum {min_support}"
            if move:
                why += f" ({edit.op} adds no text that could move to {LOW_SUPPORT_FILE})"
            rejected.append(_Rejected(edit.id, why))
    return kept, moved, rejected


def _section(edit: Edit, n: int) -> list[str]:
    block = content_block(edit.content)
    first = heading(block[0]) if block else None
    if first:
        title, block = first[1], block[1:]
        while block and not block[0].strip():
            block = block[1:]
    else:
        title = (edit.section or "").split(">")[-1].strip().lstrip("#").strip() or "Note"
    plural = "trajectory" if n == 1 else "trajectories"
    return ["", f"## {title} (seen in {n} {plural})", "", *block]


def low_support_changes(moved: list[Edit], support: Mapping[str, int], files: dict[str, str],
                        views: dict[str, FileView], target: Overflow = LOW_SUPPORT) -> list[Change]:
    """The changes that put moved edits into the target file (the low-support file by default)
    and link it from SKILL.md."""
    changes: list[Change] = []
    path = target.path
    if path in files:
        view = views.setdefault(path, FileView.of(path, files[path]))
        at = view.last_text_line(0, len(view.lines)) + 1
    else:
        at = 0
        changes.append(Change("", target.order - 1, path, 0, 0, list(target.header), kind="create"))
    for k, edit in enumerate(moved):
        changes.append(Change(edit.id, target.order + k, path, at, at, _section(edit, int(support.get(edit.id, 0)))))
    if path not in files[SKILL_MD]:
        view = views.setdefault(SKILL_MD, FileView.of(SKILL_MD, files[SKILL_MD]))
        end = view.last_text_line(view.floor, len(view.lines)) + 1
        changes.append(Change("", target.order + MOVED_ORDER - 1, SKILL_MD, end, end, view.padded(end, [target.link])))
    return changes
