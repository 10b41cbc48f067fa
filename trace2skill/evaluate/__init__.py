"""Held-out evaluation of skill versions: task sets, the evolve/held-out split, leakage checks,
evaluators (built-in QA, user command), A/B and ablation runs, results and the save gate.

For the Review screen:
- `start_ab_run(ws, candidate, baseline, task_ids, config)` creates the run; the run engine
  (`trace2skill.runs`) executes, cancels and resumes it; progress lives in the store;
- `latest_ab_result(db, version_id, baseline=...)` -> `ABResult | None` (scores, flips, status);
- `gate(db, version_id, base_version_id, max_drop=0.0)` -> `GateDecision` (allowed, reason, result);
- `start_ablation(ws, version_id, task_ids, config)` and `ablation_report(db, run_id)`.
"""

from trace2skill.evaluate.ablation import ablation_report, edit_groups, start_ablation
from trace2skill.evaluate.command import CommandEvaluator
from trace2skill.evaluate.evaluators import Evaluator, TaskResult
from trace2skill.evaluate.leakage import LeakageReport, check_leakage
from trace2skill.evaluate.qa import QAEvaluator
from trace2skill.evaluate.report import ANY, ABResult, ArmScore, Flip, GateDecision, ab_result, gate, latest_ab_result
from trace2skill.evaluate.run import NO_SKILL, EvalConfig, resolve_version, start_ab_run
from trace2skill.evaluate.scoring import Score, score_answer
from trace2skill.evaluate.tasks import (
                                        PRESETS,
                                        WTQ_MAPPING,
                                        TaskMapping,
                                        load_mapping,
                                        load_tasks,
                                        task_from_trajectory,
                                        tasks_from_trajectories,
)
from trace2skill.splits import heldout_ids, random_split, refuse_heldout, set_split

__all__ = [
    "ABResult", "ANY", "ArmScore", "CommandEvaluator", "EvalConfig", "Evaluator", "Flip", "GateDecision",
    "LeakageReport", "NO_SKILL", "PRESETS", "QAEvaluator", "Score", "TaskMapping", "TaskResult", "WTQ_MAPPING",
    "ab_result", "ablation_report", "check_leakage", "edit_groups",
    "gate", "heldout_ids", "latest_ab_result", "load_mapping", "load_tasks", "random_split", "refuse_heldout",
    "resolve_version",
    "score_answer", "set_split", "start_ab_run", "start_ablation", "task_from_trajectory", "tasks_from_trajectories",
]
