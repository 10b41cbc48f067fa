"""How much of a prompt a skill may take, from the model's context window (in tokens).

The embedded model's window is known (`local.SLOT_CTX`); an endpoint's is what the workspace
setting `context_window` says, and without it the prompts keep to sizes any current chat model
holds. Characters are converted to tokens conservatively (3 characters a token; English prose is
nearer 4), so a budget derived here fits.
"""

from __future__ import annotations

CONTEXT_SETTING = "context_window"
CHARS_PER_TOKEN = 3
LOCAL_CONTEXT_TOKENS = 8192  # the embedded model's context per parallel slot (llm.local.SLOT_CTX)
MIN_CONTEXT_TOKENS = 1024
MAX_CONTEXT_TOKENS = 10_000_000

# The share of the window the skill may take: the rest is the instructions, the lessons or edits
# (consolidation) or the task's data (evaluation), and the answer.
CONSOLIDATION_SHARE = 0.3
EVALUATION_SHARE = 0.5

ANSWER_TOKENS = 1024  # a QA answer with its reasoning: room to work a multi-step problem out


def skill_chars(context_window: int, share: float) -> int:
    """Characters of skill a prompt may carry in a window of `context_window`."""
    return int(context_window * share) * CHARS_PER_TOKEN
