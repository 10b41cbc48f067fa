"""What a proposal must show before it is kept: the edit budget it was applied under (and the edits
that went over it), and the confirmation a reviewer gives to save a result with findings that
usually mean model garbage (markup, cut-off sentences, repeated lines) or any error."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlite_utils import Database

from trace2skill.errors import Trace2SkillError
from trace2skill.models import SkillVersion, content_hash
from trace2skill.skill.budget import DEFAULT_MAX_ADDED_LINES, DEFAULT_MAX_CHANGED_SHARE, describe_budget
from trace2skill.skill.lint import needs_confirmation
from trace2skill.skill.validate import Finding
from trace2skill.store import runs as run_store

OVER_COLUMNS = ["edit_id", "support", "moved", "reason"]
CONFIRM_LABEL = "I checked these findings: save anyway"


def edit_budget_inputs(key: str) -> tuple[int, float, str]:
    """The new-run form's edit budget: (max added lines, max changed share, "move" | "drop")."""
    c1, c2, c3 = st.columns(3)
    added = c1.number_input("Max added lines in SKILL.md", min_value=0, max_value=500, value=DEFAULT_MAX_ADDED_LINES,
                            key=f"{key}_added", help="Edit budget: lines of text one proposal may add.")
    share = c2.number_input("Max share of SKILL.md changed (%)", min_value=0, max_value=100,
                            value=int(DEFAULT_MAX_CHANGED_SHARE * 100), key=f"{key}_share",
                            help="Edit budget: lines changed (added plus removed) as a share of the base's lines "
                                 "of text; not applied to a new skill.")
    over = c3.segmented_control("Edits over budget", ["move", "drop"], default="move", required=True,
                                key=f"{key}_over", help="Least supported first: move them to "
                                                        "references/further-guidance.md (linked), or drop them.")
    return int(added), share / 100, str(over or "move")


def render_edit_budget(counters: dict[str, Any], key: str) -> None:
    """The budget line of a finished proposal and, in an expander, the edits that went over it."""
    budget = counters.get("budget")
    if not budget:
        return
    over = budget.get("over") or []
    st.caption(describe_budget(budget).capitalize(), help="Per proposal: at most N lines added to SKILL.md and "
               "at most P % of its lines changed; the best-supported edits are kept within it.")
    if over:
        with st.expander(f"Over the edit budget ({len(over)})", icon=":material/data_usage:"):
            st.dataframe(pd.DataFrame(over, columns=OVER_COLUMNS), hide_index=True, width="stretch", key=key,
                         column_config={"reason": st.column_config.TextColumn("reason", width="large")})


def proposal_counters(db: Database, version: SkillVersion) -> dict[str, Any]:
    """The counters of the consolidation (or re-run) that proposed `version` ({} when none did)."""
    if not version.run_id:
        return {}
    try:
        run = run_store.get_run(db, version.run_id)
    except Trace2SkillError:  # a version whose run is gone shows no budget
        return {}
    if run.counters.get("version") == version.id:
        return run.counters
    for rerun in run_store.list_runs(db, "rerun", limit=50, parent=run.id, with_progress=False):
        if rerun.counters.get("version") == version.id:
            return rerun.counters
    return {}


def confirm_findings(findings: list[Finding], checks: dict[int, str], key: str) -> tuple[bool, list[dict[str, Any]]]:
    """(may save, the findings confirmed) for a result with `findings` (`checks`: id(finding) ->
    "lint" | "spec"). Findings that need a look ask for an explicit tick first."""
    pending = needs_confirmation(findings)
    if not pending:
        return True, []
    rows = [{"check": checks.get(id(f), "lint"), "severity": f.severity, "code": f.code, "file": f.file,
             "line": f.line, "message": f.message} for f in pending]
    codes = sorted({f.code for f in pending})
    st.warning(f"{len(rows)} finding(s) to check before saving ({', '.join(codes)}): markup, cut-off or repeated "
               "text usually means the model's output went wrong, and errors break the skill. Edit the text above, "
               "or confirm.", icon=":material/rule:")
    ticked = st.checkbox(CONFIRM_LABEL, key=f"{key}:{content_hash(rows)[:12]}")
    return ticked, rows if ticked else []
