"""Plain words for the screens: the method's terms explained once (tooltips), and the values and
column names of stored records as a domain expert reads them."""

from __future__ import annotations

from typing import Any

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


def trajectory_table_row(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the trajectories table in words: the split always named (unmarked is evolve),
    signals separated by commas and spaces."""
    signals = row.get("signals") or ""
    return {**row, "split": SPLIT_WORDS.get(row.get("split"), str(row.get("split"))),
            "signals": ", ".join(s for s in signals.split(",") if s)}


def plural(n: int, word: str, words: str | None = None) -> str:
    """ "1 edit", "2 edits", "1 trajectory", "3 trajectories" (`words` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
