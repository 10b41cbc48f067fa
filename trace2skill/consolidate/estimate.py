"""What a consolidation run will ask of the model, before it starts: its calls, prompt tokens, the
most completion tokens, and so its cost and time.

The proposals' prompts are built as the run would build them (one per trajectory with guidance
lessons; on a seeded sample of trajectories, scaled up, when there are many) and counted. The merges
depend on what the proposals answer, so they are bounded: the tree's shape is known (groups of
`batch_size`, level by level; a level's lone leftover passes up without a call), and each input patch
is at most the completion limit long, so a merge's prompt is at most its fixed part (instructions,
skill, rejected-lessons ledger) plus its inputs at that length. A merge whose answer fails its checks
is asked once more; that is not counted.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

from trace2skill.consolidate.propose import DIAGNOSIS, proposal_messages
from trace2skill.consolidate.run import (
    ConsolidationConfig,
    ledger_text,
    rejected_ledger,
    select_lessons,
    skill_chars_for,
    stub_files,
)
from trace2skill.consolidate.tree import ledger_context
from trace2skill.costs import usage_cost
from trace2skill.llm.estimate import estimate_messages_tokens, estimate_tokens
from trace2skill.models import ModelPrice
from trace2skill.prompts import load_prompt
from trace2skill.store import Workspace
from trace2skill.store.lessons import lessons_by_ids
from trace2skill.store.skills import get_version

EXACT_UP_TO = 200  # trajectories whose proposal prompts are built; more are sampled and scaled


@dataclass(frozen=True)
class ConsolidationEstimate:
    lessons: int
    trajectories: int  # the tree's leaves (a trajectory with only failure causes is one, asked nothing)
    proposal_calls: int
    merge_calls: tuple[int, ...]  # per level, bottom up
    proposal_prompt_tokens: int
    merge_prompt_tokens: int  # at most
    max_completion_tokens: int
    sampled: int = 0  # trajectories the proposal figures come from (0: all of them)

    @property
    def calls(self) -> int:
        return self.proposal_calls + sum(self.merge_calls)

    @property
    def prompt_tokens(self) -> int:
        return self.proposal_prompt_tokens + self.merge_prompt_tokens

    def max_cost(self, price: ModelPrice) -> float:
        """The cost at `price` with every merge prompt and every completion at its bound."""
        return usage_cost({"prompt_tokens": self.prompt_tokens, "completion_tokens": self.max_completion_tokens},
                          price)


def merge_levels(leaves: int, batch_size: int) -> list[int]:
    """Merge calls per level of the tree over `leaves` proposals, bottom up."""
    calls: list[int] = []
    while leaves > 1:
        groups = math.ceil(leaves / batch_size)
        calls.append(groups - (1 if leaves % batch_size == 1 else 0))
        leaves = groups
    return calls


def estimate_consolidation(ws: Workspace, config: ConsolidationConfig, *,
                           exact_up_to: int = EXACT_UP_TO) -> ConsolidationEstimate:
    """The estimate for a run with this config over the approved lessons (Trace2SkillError when
    there is nothing to consolidate, or a proposal could not be shown the skill it needs)."""
    trajectory_of, selection = select_lessons(ws, config)
    by_trajectory: dict[str, list[str]] = defaultdict(list)
    for lesson_id in selection.lesson_ids:
        by_trajectory[trajectory_of[lesson_id]].append(lesson_id)
    budget = config.budget().with_skill_chars(skill_chars_for(ws, config))
    if config.new_skill:
        files, skill = stub_files(config.new_skill, config.description), config.new_skill
    else:
        base = get_version(ws.db, config.base_version or "")
        files, skill = base.files, base.skill

    trajectories = sorted(by_trajectory)
    shown = trajectories if len(trajectories) <= exact_up_to else random.Random(0).sample(trajectories, exact_up_to)
    lessons = {x.id: x for x in lessons_by_ids(ws.db, [i for t in shown for i in by_trajectory[t]])}
    calls = tokens = 0
    for trajectory in shown:
        group = [lessons[i] for i in by_trajectory[trajectory] if i in lessons]
        if any(x.kind != DIAGNOSIS for x in group):  # failure causes alone are not sent
            calls += 1
            tokens += estimate_messages_tokens(proposal_messages(group, files, budget))
    scale = len(trajectories) / len(shown) if shown else 0.0

    ledger = ledger_context([ledger_text(x) for x in rejected_ledger(ws, skill, budget)], budget)
    skill_text = files.get("SKILL.md", "")
    fixed = estimate_messages_tokens([
        {"role": "system", "content": load_prompt("merger").render()},
        {"role": "user", "content": load_prompt("consolidate_input").render(
            skill="", ledger=ledger, what="patches to merge", items="", context="")},
    ]) + estimate_tokens(skill_text[:budget.skill_chars])
    merges = merge_levels(len(trajectories), config.batch_size)
    proposal_calls = round(calls * scale)
    return ConsolidationEstimate(
        lessons=len(selection.lesson_ids), trajectories=len(trajectories), proposal_calls=proposal_calls,
        merge_calls=tuple(merges), proposal_prompt_tokens=round(tokens * scale),
        merge_prompt_tokens=sum(merges) * (fixed + config.batch_size * config.max_tokens),
        max_completion_tokens=(proposal_calls + sum(merges)) * config.max_tokens,
        sampled=len(shown) if len(shown) < len(trajectories) else 0)
