"""Lint a proposed skill against its base: copied values, secrets, injected instructions, size,
and our folder conventions.

- ``single_trajectory_value`` (warning): an id, code, email, date, long number or personal name
  in an added line that the base does not contain and that appears in exactly one of the given
  trajectories — a trajectory-specific value copied into general guidance. Values found in no
  given trajectory, or when no trajectory texts are given, are reported as ``unknown_value``
  (info). Values seen in two or more trajectories are not reported. Personal names (two
  capitalised words) are only checked against trajectory texts (too common to flag blind).
- ``secret`` (error): anything `trace2skill.redaction.find_secrets` recognises, in any line.
- ``injection`` (error) / ``suspicious_instruction`` (warning): text in added lines that reads
  like prompt injection carried over from tool output ("ignore previous instructions", "you are
  now", "system prompt", ``<script``, hidden Unicode controls, ...) or shouted directives
  ("IMPORTANT: ... must", HTML comments).
- ``size_budget``: SKILL.md lines against the 500-line limit (error at the limit, warning from
  80%) and a token estimate (characters / 4) against 5,000 tokens (warning above, info from 80%).
- ``markup``, ``truncated``, ``repeated_line`` (warnings, in added lines of markdown files): raw
  HTML, template placeholders or JSON in prose; a sentence cut off; a line said twice (see
  `trace2skill.skill.lint_text`).
- our conventions (warnings, see `trace2skill.skill.conventions`): where files sit (a flat layout
  is valid, only reported), links and mentioned paths that lead nowhere, field formats. They are
  preferences stricter than the Agent Skills spec and never block a save or an export.
Saving a result with a finding of those three kinds, or with any error, needs an explicit
confirmation (`needs_confirmation`), recorded with the save.
Line numbers are 1-based.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from trace2skill.diff import added_lines
from trace2skill.redaction import find_secrets
from trace2skill.skill.conventions import convention_findings
from trace2skill.skill.folder import SKILL_MD, SkillFolder
from trace2skill.skill.lint_text import text_findings
from trace2skill.skill.validate import MAX_SKILL_MD_LINES, Finding, line_count

TOKEN_BUDGET = 5000
NEAR = 0.8

VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "date": re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
    # letters and digits mixed (HAT136, mia_li_3668, ZFA04Y, order #W2378156 -> W2378156)
    "id": re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{3,}\b"),
    "number": re.compile(r"(?<![\w.])\d{4,}(?:\.\d+)?(?![\w.])|(?<![\w.])\d+\.\d{2,}(?![\w.])"),
}
NAME_RUN = re.compile(r"\b[A-Z][a-z]{1,20}(?: [A-Z][a-z]{1,20})+\b")  # "Ask Mia Li" -> "Ask Mia", "Mia Li"

INJECTION_ERRORS = [re.compile(p, re.IGNORECASE) for p in (
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|"
    r"preceding|system|original)\s+(?:instructions?|prompts?|rules|guidelines|messages?)",
    r"\byou\s+are\s+now\b",
    r"\bsystem\s+prompt\b",
    r"\bnew\s+instructions?\s*:",
    r"\breveal\s+(?:your|the)\s+(?:instructions|prompt|system)",
    r"\bdo\s+not\s+(?:tell|inform|let)\s+the\s+user\b",
    r"<\s*script\b", r"javascript:", r"<\s*/?\s*(?:system|assistant|im_start|im_end)\s*>", r"\[/?INST\]",
)]
INJECTION_WARNINGS = [re.compile(p) for p in (
    r"\bIMPORTANT\b\s*[:!].*\b(?:must|MUST|always|ALWAYS|never|NEVER)\b",
    r"<!--",
    r"(?i)\bas an ai (?:language )?model\b",
)]
HIDDEN_CHARS = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]")


def _values(line: str, with_names: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in VALUE_PATTERNS.items():
        for m in pattern.finditer(line):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append(m.span())
            found.append((kind, m.group(0)))
    if with_names:
        for m in NAME_RUN.finditer(line):
            words = m.group(0).split(" ")
            found += [("name", f"{a} {b}") for a, b in zip(words, words[1:])]
    return found


def trajectory_counts(tokens: Iterable[str], trajectory_texts: Mapping[str, str]) -> dict[str, int]:
    """In how many trajectories each token appears (as a substring)."""
    return {tok: sum(1 for text in trajectory_texts.values() if tok in text) for tok in set(tokens)}


def _copied_values(path: str, lines: list[str], added: set[int], base_text: str,
                   trajectory_texts: Mapping[str, str] | None, counts: Mapping[str, int] | None) -> list[Finding]:
    known = counts is not None or trajectory_texts is not None
    hits = [(i, kind, tok) for i in sorted(added) for kind, tok in _values(lines[i], known) if tok not in base_text]
    lookup = dict(counts or {})
    if trajectory_texts is not None:
        lookup.update(trajectory_counts([t for _, _, t in hits if t not in lookup], trajectory_texts))
    out, seen = [], set()
    for i, kind, tok in hits:
        if tok in seen:
            continue
        seen.add(tok)
        n = lookup.get(tok) if known else None
        if n == 1:
            out.append(Finding("warning", "single_trajectory_value",
                               f"{kind} {tok!r} appears in only one trajectory; write the general rule, not this "
                               "run's value", path, i + 1))
        elif (n is None or n == 0) and kind != "name":
            out.append(Finding("info", "unknown_value",
                               f"{kind} {tok!r} is new and its source is unknown; check it is not run-specific",
                               path, i + 1))
    return out


def _injections(path: str, lines: list[str], added: set[int]) -> list[Finding]:
    out = []
    for i in sorted(added):
        line = lines[i]
        if HIDDEN_CHARS.search(line):
            out.append(Finding("error", "injection", "hidden Unicode control characters (invisible text)", path, i + 1))
        err = next((p for p in INJECTION_ERRORS if p.search(line)), None)
        if err:
            quote = err.search(line).group(0)  # type: ignore[union-attr]
            out.append(Finding("error", "injection", f"instruction-like text {quote!r} looks carried over from tool "
                               "output or a prompt injection", path, i + 1))
            continue
        warn = next((p for p in INJECTION_WARNINGS if p.search(line)), None)
        if warn:
            out.append(Finding("warning", "suspicious_instruction",
                               "shouted or hidden directive; check it came from a lesson, not from tool output",
                               path, i + 1))
    return out


def _secrets(path: str, text: str) -> list[Finding]:
    return [Finding("error", "secret", f"looks like a secret ({s.kind}); remove it before saving or exporting",
                    path, text.count("\n", 0, s.start) + 1) for s in find_secrets(text)]


def _size(skill_md: str) -> list[Finding]:
    out = []
    n = line_count(skill_md)
    if n >= MAX_SKILL_MD_LINES:
        out.append(Finding("error", "size_budget", f"SKILL.md has {n} lines; the limit is under {MAX_SKILL_MD_LINES}"))
    elif n >= NEAR * MAX_SKILL_MD_LINES:
        out.append(Finding("warning", "size_budget",
                           f"SKILL.md has {n} lines, near the {MAX_SKILL_MD_LINES}-line limit; "
                           "move detail to references/"))
    tokens = len(skill_md) // 4
    if tokens > TOKEN_BUDGET:
        out.append(Finding("warning", "size_budget",
                           f"SKILL.md is about {tokens} tokens; aim for under {TOKEN_BUDGET}"))
    elif tokens >= NEAR * TOKEN_BUDGET:
        out.append(Finding("info", "size_budget", f"SKILL.md is about {tokens} tokens, near the {TOKEN_BUDGET} budget"))
    return out


def lint_skill(proposed: SkillFolder, base: SkillFolder | None = None, *,
               trajectory_texts: Mapping[str, str] | None = None,
               token_counts: Mapping[str, int] | None = None) -> list[Finding]:
    """Findings for `proposed`; lines it adds to `base` (all lines without a base) are checked for
    copied values and injected instructions, every line for secrets."""
    new_files = proposed.as_files()
    old_files = base.as_files() if base is not None else {}
    base_text = "\n".join(old_files.values())
    out: list[Finding] = []
    for path, text in new_files.items():
        lines = text.split("\n")
        added = added_lines(old_files.get(path, ""), text)
        out += _secrets(path, text)
        out += _injections(path, lines, added)
        out += _copied_values(path, lines, added, base_text, trajectory_texts, token_counts)
        out += text_findings(path, lines, added)
    out += _size(new_files[SKILL_MD])
    return out + convention_findings(proposed)


CONFIRM_CODES = frozenset({"markup", "truncated", "repeated_line"})


def needs_confirmation(findings: Iterable[Finding]) -> list[Finding]:
    """The findings a reviewer must confirm before saving: model-output garbage (markup, cut-off
    sentences, repeated lines) and every error."""
    return [f for f in findings if f.code in CONFIRM_CODES or f.severity == "error"]
