"""The Trajectories screen's "Set outcomes by rule": pick a rule, see what it would change on the
trajectories matching the filters, then apply it (each change a decision naming the rule)."""

from __future__ import annotations

import streamlit as st

from trace2skill.errors import Trace2SkillError
from trace2skill.outcome_rules import RULE_KINDS, RULE_WORDS, OutcomeRule, apply_rule, plan_rule
from trace2skill.store import Workspace
from trace2skill.store.trajectories import TrajectoryFilter
from trace2skill.ui.reviewer import ui_reviewer
from trace2skill.ui.words import plural

OUTCOMES = ["success", "failure", "unknown"]
LEAVE = "leave as it is"
FLASH = "traj_flash"


def render_outcome_rules(ws: Workspace, flt: TrajectoryFilter, matching: int) -> None:
    with st.expander(f"Set outcomes by rule · {plural(matching, 'matching trajectory')}", icon=":material/rule:"):
        st.caption("For data without labels (or with labels you do not trust): a rule reads each trajectory "
                   "matching the filters above. Preview first; applying records each change as your decision, "
                   "naming the rule.")
        c1, c2, c3 = st.columns([2, 1, 1])
        for key, value in zip(("rule_then", "rule_else"), _defaults(None), strict=True):
            st.session_state.setdefault(key, value)
        kind: str = c1.selectbox("Rule: the trajectory gets an outcome when…", list(RULE_KINDS),
                                 format_func=lambda k: RULE_WORDS[k], key="rule_kind", on_change=_kind_changed)
        then = c2.selectbox("…then", OUTCOMES, key="rule_then")
        otherwise = c3.selectbox("…else", [LEAVE, *OUTCOMES], key="rule_else")
        pattern = threshold = None
        if kind == "answer_matches":
            pattern = st.text_input("Pattern (a regular expression searched in the final answer)", key="rule_pattern")
            if not pattern:
                st.caption("Type a pattern to see what this rule would change.")
                return
        elif kind == "reward_at_least":
            threshold = st.number_input("At least", value=1.0, key="rule_threshold")
        try:
            rule = OutcomeRule(kind, then, None if otherwise == LEAVE else otherwise,  # type: ignore[arg-type]
                               pattern=pattern or None, threshold=threshold)
        except Trace2SkillError as exc:
            st.caption(str(exc))
            return
        plan = plan_rule(ws.db, rule, flt)
        st.info(f"If applied: {plan.summary()}.", icon=":material/preview:")
        if st.button(f"Apply to {plural(plan.changed, 'trajectory')}", key="rule_apply", disabled=not plan.changed,
                     icon=":material/rule:"):
            apply_rule(ws.db, plan, actor=ui_reviewer())
            st.session_state[FLASH] = f"Outcomes set by rule ({rule.describe()}): {plan.summary()}."
            st.rerun()


def _defaults(kind: str | None) -> tuple[str, str]:
    """The outcomes a rule starts with: a failed last tool call marks a failure and leaves the rest;
    the other rules mark success, else failure."""
    return ("failure", LEAVE) if kind == "last_call_failed" else ("success", "failure")


def _kind_changed() -> None:
    st.session_state["rule_then"], st.session_state["rule_else"] = _defaults(st.session_state.get("rule_kind"))
