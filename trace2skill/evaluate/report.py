"""What an evaluation run found: per-arm pass rates (mean ± std over repeats), the tasks that flipped
between baseline and candidate (pass→fail first), the latest result for a skill version, and the
save gate of the Review screen.

A repeat's score is the share of tasks that passed in that repeat; an arm's mean and std are taken
over its repeats (std is the sample standard deviation, 0 with one repeat). A task flips when its
pass rate over the repeats differs between the two arms; pass→fail (the candidate does worse) comes
first, largest drop first, then fail→pass, largest gain first.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from trace2skill.errors import Trace2SkillError
from trace2skill.skill.frontmatter import parse_skill_md
from trace2skill.store import evaluation as eval_store
from trace2skill.store import runs as run_store
from trace2skill.textcut import cut_words

ANY = "any"


@dataclass
class ArmScore:
    arm: str
    role: str
    label: str
    version_id: str | None
    mean: float
    std: float
    per_repeat: list[float]
    results: int  # task results stored
    expected: int  # tasks x repeats

    @property
    def complete(self) -> bool:
        return self.results == self.expected


@dataclass
class Flip:
    task_id: str
    direction: str  # "pass→fail" or "fail→pass"
    baseline_rate: float
    candidate_rate: float
    prompt: str
    answers: list[str]
    baseline_answers: list[str] = field(default_factory=list)
    candidate_answers: list[str] = field(default_factory=list)


@dataclass
class ABResult:
    run_id: str
    status: str
    created: str
    repeats: int
    tasks: int
    candidate: ArmScore
    baseline: ArmScore
    flips: list[Flip]
    refused: list[str] = field(default_factory=list)  # why its scores are not the skills' (a skill was cut)

    @property
    def delta(self) -> float:
        """Candidate mean minus baseline mean (negative: the candidate does worse)."""
        return self.candidate.mean - self.baseline.mean

    @property
    def complete(self) -> bool:
        return self.status == "done" and self.candidate.complete and self.baseline.complete and not self.refused

    @property
    def regressions(self) -> list[Flip]:
        return [f for f in self.flips if f.direction == "pass→fail"]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(delta=self.delta, complete=self.complete)
        for side in ("candidate", "baseline"):
            data[side]["complete"] = getattr(self, side).complete
        return data


def _by_arm(db: Database, run_id: str) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in eval_store.list_results(db, run_id):
        rows[row["arm"]].append(row)
    return rows


def _score(arm: dict[str, Any], rows: list[dict[str, Any]], repeats: int, n_tasks: int) -> ArmScore:
    per_repeat_rows: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        per_repeat_rows[row["repeat"]].append(row["passed"])
    per_repeat = [sum(v) / len(v) for _, v in sorted(per_repeat_rows.items()) if v]
    mean = statistics.fmean(per_repeat) if per_repeat else 0.0
    std = statistics.stdev(per_repeat) if len(per_repeat) > 1 else 0.0
    return ArmScore(arm["arm"], arm["role"], arm["label"], arm["version_id"], mean, std, per_repeat, len(rows),
                    repeats * n_tasks)


def arm_scores(db: Database, run_id: str) -> dict[str, ArmScore]:
    """Every arm's score in an evaluation run (ablation runs have more than two arms)."""
    run = run_store.get_run(db, run_id)
    repeats, n_tasks = int(run.config["repeats"]), len(run.config["task_ids"])
    rows = _by_arm(db, run_id)
    return {a: _score(arm, rows.get(a, []), repeats, n_tasks) for a, arm in eval_store.get_arms(db, run_id).items()}


def _rates(rows: list[dict[str, Any]]) -> dict[str, tuple[float, list[str]]]:
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[row["task_id"]].append(row)
    return {t: (sum(r["passed"] for r in rs) / len(rs), [r["answer"] for r in sorted(rs, key=lambda r: r["repeat"])])
            for t, rs in by_task.items()}


def flips(db: Database, run_id: str, candidate_arm: str, baseline_arm: str) -> list[Flip]:
    """Tasks whose pass rate differs between the two arms, pass→fail first (see module docstring)."""
    rows = _by_arm(db, run_id)
    cand, base = _rates(rows.get(candidate_arm, [])), _rates(rows.get(baseline_arm, []))
    order = {t: k for k, t in enumerate(run_store.get_run(db, run_id).config["task_ids"])}
    changed = [t for t in cand if t in base and cand[t][0] != base[t][0]]
    tasks = {t.id: t for t in eval_store.get_tasks(db, changed)} if changed else {}
    out = [Flip(t, "pass→fail" if base[t][0] > cand[t][0] else "fail→pass", base[t][0], cand[t][0],
                tasks[t].prompt[:300], tasks[t].answers, base[t][1], cand[t][1])
           for t in changed]
    out.sort(key=lambda f: (f.direction != "pass→fail", -abs(f.candidate_rate - f.baseline_rate),
                            order.get(f.task_id, 0)))
    return out


def ab_result(db: Database, run_id: str) -> ABResult:
    """The A/B comparison of an evaluation run (candidate arm vs baseline arm)."""
    run = run_store.get_run(db, run_id)
    if run.kind != "evaluation":
        raise Trace2SkillError(f"run {run_id} is a {run.kind} run, not an evaluation")
    scores = arm_scores(db, run_id)
    roles = {s.role: s for s in scores.values() if s.role in ("candidate", "baseline")}
    if set(roles) != {"candidate", "baseline"}:
        raise Trace2SkillError(f"evaluation run {run_id} has no candidate/baseline pair of arms")
    cand, base = roles["candidate"], roles["baseline"]
    return ABResult(run_id, run.status, run.created, int(run.config["repeats"]),
                    len(run.config["task_ids"]), cand, base, flips(db, run_id, cand.arm, base.arm),
                    cut_skills(db, run_id))


# What the QA evaluator showed of a skill before skill texts were recorded (migration m013): the
# body cut to this many characters (local model / endpoint) unless the run set its own limit.
OLD_LOCAL_SKILL_CHARS, OLD_SKILL_CHARS = 2000, 16000


def cut_skills(db: Database, run_id: str) -> list[str]:
    """The arms of an evaluation run whose model saw a skill cut to fit its prompt (runs from before
    skill texts were recorded; later runs refuse such a skill before they start), each as a sentence."""
    config = run_store.get_run(db, run_id).config
    if config.get("evaluator", "qa") != "qa":
        return []
    limit = config.get("skill_chars") or (OLD_SKILL_CHARS if config.get("base_url") else OLD_LOCAL_SKILL_CHARS)
    out = []
    for arm in eval_store.get_arms(db, run_id).values():
        if arm["files"] is None or arm.get("skill_hash") is not None:
            continue
        body = parse_skill_md(arm["files"].get("SKILL.md", "")).body.strip()
        if len(body) > limit:
            out.append(f"arm {arm['arm']} ({arm['label']}) was evaluated with its SKILL.md ({len(body):,} characters) "
                       f"cut to {limit:,} to fit the prompt, so its score is not the skill's: evaluate it again")
    return out


def latest_ab_result(db: Database, version_id: str, *, baseline: str | None = ANY,
                     complete_only: bool = False) -> ABResult | None:
    """The newest A/B result with `version_id` as the candidate; `baseline` narrows it to one
    baseline version (None: "no skill"; ANY: whichever). `complete_only` skips unfinished runs (and
    runs whose scores are refused because a skill was cut)."""
    for run_id in eval_store.runs_with_arm(db, version_id, "candidate"):
        result = ab_result(db, run_id)
        if baseline != ANY and result.baseline.version_id != baseline:
            continue
        if complete_only and not result.complete:
            continue
        return result
    return None


@dataclass
class GateDecision:
    allowed: bool
    reason: str
    result: ABResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason,
                "result": self.result.as_dict() if self.result else None}


def gate(db: Database, version_id: str, base_version_id: str | None, *, max_drop: float = 0.0,
         require_result: bool = False) -> GateDecision:
    """May `version_id` be saved over `base_version_id`? Refused when its latest complete held-out
    A/B result against that base has a mean pass rate more than `max_drop` below the base's. With
    no such result the answer is yes, unless `require_result`."""
    result = latest_ab_result(db, version_id, baseline=base_version_id, complete_only=True)
    if result is None:
        if require_result:
            return GateDecision(False, "no finished held-out A/B result against this base yet: run one first")
        return GateDecision(True, "no finished held-out A/B result against this base; not gated")
    score = (f"held-out pass rate {result.candidate.mean:.1%} ± {result.candidate.std:.1%} vs "
             f"{result.baseline.mean:.1%} ± {result.baseline.std:.1%} (run {result.run_id})")
    if result.delta < -max_drop - 1e-9:
        return GateDecision(False, f"regressed: {score}; {len(result.regressions)} tasks went pass→fail", result)
    return GateDecision(True, f"no regression: {score}", result)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _clip(text: str, width: int) -> str:
    return cut_words(text, width - 1, where=None, fold=True)


def result_lines(result: ABResult, ablation: dict[str, Any] | None = None, *, max_flips: int = 30) -> list[str]:
    """An A/B (or ablation) result for people: both arms, the change, flipped tasks worst first."""
    refused = [f"not scored: {why}" for why in result.refused]
    lines = refused + [f"{side.arm:<5} {side.label:<28} {_pct(side.mean)} ± {_pct(side.std)}  "
             f"(repeats: {', '.join(_pct(r) for r in side.per_repeat) or '-'})"
             for side in (result.candidate, result.baseline)]
    lines.append(f"delta {100 * result.delta:+.1f} points over {result.tasks} tasks x {result.repeats} repeats; "
                 f"run {result.run_id} {result.status}{'' if result.complete else ' (incomplete)'}")
    for flip in result.flips[:max_flips]:
        lines.append(f"  {flip.direction}  {flip.baseline_rate:.2f} -> {flip.candidate_rate:.2f}  "
                     f"{_clip(flip.prompt, 70)}  gold: {_clip(' | '.join(flip.answers), 30)}  "
                     f"answers: {_clip(' / '.join(flip.candidate_answers), 40)}")
    if len(result.flips) > max_flips:
        lines.append(f"  ... and {len(result.flips) - max_flips} more flips (see --json)")
    for group in (ablation or {}).get("groups", []):
        lines.append(f"  group {_clip(group['group'], 50):<50} {group['edits']} edits: without it "
                     f"{_pct(group['mean'])}, effect {100 * group['effect']:+.1f} points")
    return lines
