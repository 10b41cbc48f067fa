"""Outcomes set by rule, for data that comes without labels: the final answer matches a pattern, the
final answer states the gold answer, the reward is at least x, the last tool call failed. A rule is
previewed first (how many trajectories each label gets, how many keep theirs, how many cannot be
judged and why); applying it records every change as a decision naming the rule. The CLI
(`trajectories label-by-rule`) and the Trajectories screen use this module."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sqlite_utils import Database

from trace2skill.errors import InvalidValueError
from trace2skill.evaluate.scoring import score_answer
from trace2skill.humanize import plural
from trace2skill.models import OutcomeLabel
from trace2skill.relabel import check_outcome
from trace2skill.store.outcomes import RuleInput, rule_inputs, set_outcomes
from trace2skill.store.trajectories import TrajectoryFilter

RuleKind = Literal["answer_matches", "answer_is_gold", "reward_at_least", "last_call_failed"]
RULE_KINDS: tuple[RuleKind, ...] = ("answer_matches", "answer_is_gold", "reward_at_least", "last_call_failed")
RULE_WORDS = {"answer_matches": "the final answer matches a pattern",
              "answer_is_gold": "the final answer states the gold answer",
              "reward_at_least": "the reward is at least a threshold",
              "last_call_failed": "the last tool call failed"}
CANNOT = {"answer_matches": "no final answer", "answer_is_gold": "no final answer or no gold answer",
          "reward_at_least": "no reward", "last_call_failed": "no tool call"}


@dataclass(frozen=True)
class OutcomeRule:
    """When the rule holds a trajectory gets `then`; when it does not, `otherwise` (None: it keeps
    its outcome). Trajectories the rule cannot judge (no final answer, …) keep theirs."""

    kind: RuleKind
    then: OutcomeLabel = "success"
    otherwise: OutcomeLabel | None = None
    pattern: str | None = None  # answer_matches: a regular expression searched in the final answer
    threshold: float | None = None  # reward_at_least

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise InvalidValueError(f"unknown rule {self.kind!r}; use one of {', '.join(RULE_KINDS)}")
        check_outcome(self.then)
        if self.otherwise is not None:
            check_outcome(self.otherwise)
        if self.kind == "answer_matches":
            if not self.pattern:
                raise InvalidValueError("the rule answer_matches needs a pattern (--pattern REGEX)")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise InvalidValueError(f"the pattern {self.pattern!r} is not a regular expression ({exc})") from exc
        if self.kind == "reward_at_least" and self.threshold is None:
            raise InvalidValueError("the rule reward_at_least needs a threshold (--at-least X)")

    def holds(self, t: RuleInput) -> bool | None:
        """Whether the rule holds for this trajectory; None when it cannot tell."""
        if self.kind == "answer_matches":
            return None if t.final_output is None else bool(re.search(self.pattern or "", t.final_output))
        if self.kind == "answer_is_gold":
            gold = (t.ground_truth or {}).get("answer")
            if t.final_output is None or gold in (None, ""):
                return None
            values = [str(g) for g in gold] if isinstance(gold, list) else [str(gold)]
            return score_answer(t.final_output, values).passed
        if self.kind == "reward_at_least":
            return None if t.reward is None else t.reward >= (self.threshold or 0.0)
        return None if t.last_result is None else bool(t.last_result.get("is_error"))

    def describe(self) -> str:
        what = {"answer_matches": f"the final answer matches /{self.pattern}/",
                "reward_at_least": f"the reward is at least {self.threshold:g}" if self.threshold is not None else "",
                }.get(self.kind, RULE_WORDS[self.kind])
        rest = f", else {self.otherwise}" if self.otherwise else ", else unchanged"
        return f"{what} → {self.then}{rest}"


@dataclass
class RulePlan:
    """What a rule would do to the trajectories it was tried on."""

    rule: OutcomeRule
    changes: dict[OutcomeLabel, list[str]] = field(default_factory=dict)
    unchanged: int = 0  # already had the label the rule gives, or the rule leaves them
    undecided: int = 0  # the rule cannot judge them

    @property
    def changed(self) -> int:
        return sum(len(ids) for ids in self.changes.values())

    def summary(self) -> str:
        parts = [f"{plural(len(ids), 'trajectory')} → {label}" for label, ids in self.changes.items() if ids]
        text = "; ".join(parts) or "no trajectory changes"
        text += f"; {plural(self.unchanged, 'trajectory')} keep their outcome"
        if self.undecided:
            text += f"; {plural(self.undecided, 'trajectory')} cannot be judged ({CANNOT[self.rule.kind]})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule.describe(), "changes": {k: len(v) for k, v in self.changes.items()},
                "unchanged": self.unchanged, "undecided": self.undecided, "summary": self.summary()}


def plan_rule(db: Database, rule: OutcomeRule, flt: TrajectoryFilter | None = None) -> RulePlan:
    """Try the rule on the trajectories matching `flt`; change nothing."""
    plan = RulePlan(rule)
    for t in rule_inputs(db, flt):
        held = rule.holds(t)
        if held is None:
            plan.undecided += 1
            continue
        label = rule.then if held else rule.otherwise
        if label is None or label == t.outcome:
            plan.unchanged += 1
        else:
            plan.changes.setdefault(label, []).append(t.id)
    return plan


def apply_rule(db: Database, plan: RulePlan, *, actor: str = "user") -> RulePlan:
    """Set the outcomes the plan found; each change is a decision naming the rule."""
    for label, ids in plan.changes.items():
        set_outcomes(db, ids, label, actor=actor, why={"rule": plan.rule.describe()})
    return plan
