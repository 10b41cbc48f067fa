"""Grouping an import's per-record errors: the same problem in the same file is one line
("1,319 records: field 'question' (task) not found; first at line 2"), with the first few
occurrences kept for whoever wants the detail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

EXAMPLES = 5


class Issue(Protocol):
    """What the grouping needs of an import issue (`trace2skill.ingest.records.ImportIssue`)."""

    file: str
    problem: str
    record: int | None
    line: int | None


@dataclass
class IssueGroup:
    file: str
    problem: str
    count: int = 0
    examples: list[Any] = field(default_factory=list)  # the first few issues, in file order

    @property
    def first(self) -> Any:
        return self.examples[0]

    def where(self) -> str:
        first = self.first
        if first.line is not None:
            return f"line {first.line}"
        return f"record {first.record}" if first.record is not None else ""

    def __str__(self) -> str:
        if self.count == 1:
            return str(self.first)
        where = self.where()
        return f"{self.file}: {self.count:,} records: {self.problem}" + (f"; first at {where}" if where else "")

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "problem": self.problem, "count": self.count, "first": self.where() or None,
                "examples": [str(e) for e in self.examples]}


def group_issues(issues: Iterable[Issue]) -> list[IssueGroup]:
    """One group per (file, problem), in the order each problem first appeared."""
    groups: dict[tuple[str, str], IssueGroup] = {}
    for issue in issues:
        key = (issue.file, issue.problem)
        group = groups.get(key)
        if group is None:
            group = groups[key] = IssueGroup(issue.file, issue.problem)
        group.count += 1
        if len(group.examples) < EXAMPLES:
            group.examples.append(issue)
    return list(groups.values())


def grouped_lines(issues: Iterable[Issue], limit: int | None = None) -> list[str]:
    """The groups as lines of text (at most `limit`, then how many more)."""
    groups = group_issues(issues)
    shown = groups if limit is None else groups[:limit]
    lines = [str(g) for g in shown]
    if len(groups) > len(shown):
        rest = sum(g.count for g in groups[len(shown):])
        lines.append(f"… and {len(groups) - len(shown)} more kinds of problem ({rest:,} records)")
    return lines
