"""Plain words for the screens: the method's terms explained once (tooltips), and the values and
column names of stored records as a domain expert reads them."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import streamlit as st
from sqlite_utils import Database

from trace2skill.humanize import ago, exact, parse_time
from trace2skill.humanize import plural as plural  # re-exported: screens import it from here
from trace2skill.store.version_states import current_of, version_states

GLOSSARY = {
    "proposal": "What one trajectory's approved lessons suggest changing in the skill: a short list of edits "
                "(add a rule to a section, reword a line, …), written by the model.",
    "merge": "The model reads several proposals at once and writes one list of edits: duplicates become one "
             "edit, contradictions are settled by how many trajectories support each side.",
    "batch": "How many proposals one merge call reads at once. Larger batches: fewer levels in the merge "
             "tree, longer prompts.",
    "frozen": "The skill every analyst reads, as it was when the run started: no lesson sees another's "
              "changes, so each lesson comes from one trajectory only.",
    "support": "How many different trajectories stand behind an edit.",
    "held_out": "Trajectories kept back to measure a skill; they never shape it.",
}

SPLIT_WORDS = {"heldout": "held out", "evolve": "evolve", None: "evolve"}
NOT_RECORDED = "—"  # a cell the file did not fill (no task id, no model): not Streamlit's grey "None"

KIND_WORDS = {"failure_lesson": "from a failure", "failure_cause": "diagnosis of a failure",
              "success_lesson": "from a success"}

FORMAT_WORDS = {"tau_bench": "τ-bench", "openai_chat": "OpenAI chat", "anthropic": "Anthropic messages",
                "swe_agent": "SWE-agent", "openhands": "OpenHands", "claude_code": "Claude Code", "atif": "ATIF",
                "generic": "mapped records", "text_log": "text log", "otel_genai": "OpenTelemetry GenAI trace",
                "openinference": "OpenInference trace", "openai_agents": "OpenAI Agents SDK trace",
                "langfuse": "Langfuse trace", "langsmith": "LangSmith run"}

SIGNAL_WORDS = {  # what trace2skill.signals found, as a reviewer says it
    "tool_error": "tool error",
    "repeated_action": "same call repeated",
    "loop": "call made 3+ times",
    "halted": "run stopped early",
    "truncated": "last call got no answer",
    "gold_missing": "expected action missing",
    "gold_mismatch": "expected action with other arguments",
    "gold_extra": "call beyond the expected actions",
}

# τ-bench's reward parts ("r_actions=0.0, r_outputs=1.0"): what each one checks
_SCORE_PARTS = {"r_actions": ("the agent's actions", "matched the expected ones", "did not match the expected ones"),
                "r_outputs": ("the answers the user needed", "were all given", "were not all given")}


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.replace("_", " "))


def format_words(name: str | None) -> str:
    return FORMAT_WORDS.get(name or "", name or "")


def signal_words(kind: str) -> str:
    return SIGNAL_WORDS.get(kind, kind.replace("_", " "))


def outcome_detail_words(detail: str) -> str:
    """ "r_actions=0.0" -> "The agent's actions did not match the expected ones (score 0.0)."; other
    details are returned as they are."""
    if detail.startswith("reward_info missing"):
        return "The data records a failure but not why (no score detail)."
    sentences: list[str] = []
    for part in (p.strip() for p in detail.split(",")):
        key, _, value = part.partition("=")
        known = _SCORE_PARTS.get(key.strip())
        try:
            score = float(value)
        except ValueError:
            known = None
        if known is None:
            return detail
        what, good, bad = known
        sentences.append(f"{what[0].upper()}{what[1:]} {good if score >= 1.0 else bad} (score {value.strip()}).")
    return " ".join(sentences) or detail


def trajectory_table_row(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the trajectories table in words: the split always named (unmarked is evolve),
    signals separated by commas and spaces, a task id or model the file did not record as a dash."""
    signals = row.get("signals") or ""
    return {**row, "split": SPLIT_WORDS.get(row.get("split"), str(row.get("split"))),
            "model": row.get("model") or NOT_RECORDED, "task_id": row.get("task_id") or NOT_RECORDED,
            "source_format": format_words(row.get("source_format")),
            "signals": ", ".join(signal_words(s) for s in signals.split(",") if s)}


def time_html(timestamp: str | None) -> str:
    """ "5 minutes ago", with the exact time shown on hover (for captions rendered with HTML)."""
    if not timestamp:
        return "at an unknown time"
    return f'<span title="{html.escape(exact(timestamp))}" class="t2s-time">{html.escape(ago(timestamp))}</span>'


def as_time(timestamp: str | None) -> pd.Timestamp | None:
    """A stored timestamp as a table cell for `time_column` (None stays empty)."""
    moment = parse_time(timestamp)
    return pd.Timestamp(moment) if moment is not None else None


def time_column(label: str, help: str | None = None) -> Any:
    """A table column showing "5 minutes ago"; it sorts by the real time."""
    return st.column_config.DatetimeColumn(label, format="distance", help=help)


def library_row(db: Database, skill: dict[str, Any]) -> dict[str, Any]:
    """One skill of the Skills library in words: its current (saved) version, drafts waiting for
    review, locked sections listed."""
    states = version_states(db, skill["name"])
    current = current_of(states)
    reviewed = {s.parent for s in states if s.state == "saved"}  # drafts whose reviewed result was saved
    return {"skill": skill["name"], "description": skill["description"], "versions": skill["n_versions"],
            "current version": current[:12] if current else "none saved yet",
            "drafts to review": sum(s.state == "draft" and s.id not in reviewed for s in states),
            "locked sections": ", ".join(skill["locked_sections"]) or "none", "created": as_time(skill["created"])}
