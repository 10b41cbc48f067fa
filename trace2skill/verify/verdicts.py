"""What a replay says about a lesson.

A lesson is tried by re-running its trajectory's task with the frozen skill plus that one lesson,
k times, and once more k times with the frozen skill alone (the baseline). For a lesson drawn from
a failure the question is "does it fix the failure?"; for one drawn from a success, "does the task
still succeed with it?".

- ``fixed``: the task passes in at least half the replays with the lesson, and more often than
  without it. ``not_fixed`` otherwise.
- ``kept``: with the lesson the task passes at least as often as without it (or in at least half
  the replays). ``broken`` otherwise.
- ``not_verifiable``: the task cannot be re-run and scored (no gold answer for the QA evaluator,
  and no command evaluator given).
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["fixed", "not_fixed", "kept", "broken", "not_verifiable"]
VERIFIED: tuple[Verdict, ...] = ("fixed", "kept")
WORDS: dict[str, str] = {
    "fixed": "fixes the failure",
    "not_fixed": "does not fix the failure",
    "kept": "keeps the success",
    "broken": "breaks the success",
    "not_verifiable": "cannot be checked (the task cannot be replayed and scored)",
}


def rate(passed: list[bool]) -> float:
    return sum(passed) / len(passed) if passed else 0.0


def verdict(outcome: str, with_lesson: list[bool], baseline: list[bool]) -> Verdict:
    """The verdict on one lesson from its replays (`with_lesson`) and the baseline's."""
    r_with, r_without = rate(with_lesson), rate(baseline)
    if outcome == "failure":
        return "fixed" if r_with >= 0.5 and r_with > r_without else "not_fixed"
    return "kept" if r_with >= r_without or r_with >= 0.5 else "broken"


def is_verified(v: str | None) -> bool:
    return v in VERIFIED
