"""Short answers inside longer text: the final answer a model states after its reasoning, and the
gold answer at the end of a worked solution (GSM8K's "#### 18"), with a check that warns when gold
answers still look like whole solutions (a QA evaluator cannot score a short answer against them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from trace2skill.errors import TaskFormatError
from trace2skill.models import EvalTask

# "Final answer: 18", "The answer is 18.", "**Answer:** 18", "#### 18" (the last one in the text wins)
_FINAL = re.compile(r"(?:final\s+answer|the\s+(?:final\s+)?answer\s+is|^\W*answer)\b\s*[*_]{0,2}\s*[:=]?\s*(.+?)\s*$"
                    r"|^\s*#{4}\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_WRAP = re.compile(r"^(?:[*_`\"'“”‘’]\s*)+|(?:\s*[*_`\"'“”‘’])+$")
GSM8K_PATTERN = r"####\s*(.+?)\s*$"
SOLUTION_CHARS = 100  # a gold answer longer than this (or on several lines) reads as a worked solution


def _clean(text: str) -> str:
    text = text.strip()
    boxed = _BOXED.findall(text)
    if boxed:
        text = boxed[-1]
    text = _WRAP.sub("", text.strip()).strip()
    if text.endswith(".") and text[-2:-1].isdigit():  # "18." is the number 18; "U.S." stays
        text = text[:-1]
    return text


def stated_answer(text: str) -> str | None:
    """The answer a text states with a final-answer marker (the last one), else None."""
    found = _FINAL.findall(text)
    if not found:
        return None
    last = found[-1][0] or found[-1][1]
    return _clean(last) or None


def final_answer(answer: str, reasoning: str = "") -> str:
    """The model's final answer: its answer field (or the answer a sentence in it states, "The
    answer is 18."), else the answer its reasoning ends by stating ("Final answer: 18")."""
    answer = answer.strip()
    if answer:
        return stated_answer(answer) or _clean(answer)
    return stated_answer(reasoning) or ""


def check_pattern(pattern: str | None) -> str | None:
    """The pattern itself when it is a valid regular expression; TaskFormatError otherwise."""
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        raise TaskFormatError(f"answer_pattern {pattern!r} is not a valid regular expression ({exc})") from None
    return pattern


def extract_gold(text: str, pattern: str, where: str) -> str:
    """The gold answer `pattern` finds in `text` (its first group, else the whole match; matched line
    by line, the last match wins); TaskFormatError naming `where` when it finds nothing."""
    found = list(re.finditer(pattern, text, re.MULTILINE))
    if not found:
        clipped = " ".join(text.split())[:80]
        raise TaskFormatError(f"{where}: answer_pattern {pattern!r} finds nothing in the gold answer {clipped!r}")
    match = found[-1]
    value = next((g for g in match.groups() if g is not None), None) if match.groups() else None
    return (value if value is not None else match.group(0)).strip()


def extract_all(answers: Sequence[str], pattern: str | None, where: str) -> list[str]:
    return list(answers) if pattern is None else [extract_gold(a, pattern, where) for a in answers]


def looks_like_solution(answer: str) -> bool:
    return "\n" in answer.strip() or len(answer.strip()) > SOLUTION_CHARS


def gold_warnings(tasks: Sequence[EvalTask]) -> list[str]:
    """Warnings about gold answers a short final answer cannot match (whole worked solutions)."""
    long = [t for t in tasks if any(looks_like_solution(a) for a in t.answers)]
    if not long:
        return []
    first = next(a for a in long[0].answers if looks_like_solution(a))
    hashes = sum(any(re.search(GSM8K_PATTERN, a, re.MULTILINE) for a in t.answers) for t in long)
    hint = (f"they end in '#### <answer>': use answer_pattern {GSM8K_PATTERN!r} (or --mapping gsm8k)" if hashes
            else "say where the answer is with answer_pattern, e.g. 'The answer is (.+)$'")
    return [f"{len(long)} of {len(tasks)} gold answers look like whole worked solutions (several lines, or over "
            f"{SOLUTION_CHARS} characters; first: {' '.join(first.split())[:70]!r}…), and the QA evaluator compares "
            f"the model's short final answer with them, so those tasks cannot pass; {hint} in the task mapping, "
            "or --answer-pattern on the command line"]
