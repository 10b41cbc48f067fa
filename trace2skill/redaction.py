"""Secrets in trajectory text: found, and redacted before any text is sent to an LLM.

Patterns cover the common key shapes (OpenAI, Anthropic, AWS, GitHub, Slack, Google, private key
blocks, bearer tokens, `api_key=...` assignments). The lint of proposed skills uses `find_secrets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERNS: dict[str, re.Pattern[str]] = {
    "anthropic_key": re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    "openai_key": re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github_token": re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"),
    "slack_token": re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
    "google_api_key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "private_key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    "bearer_token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{20,}"),
    "assigned_secret": re.compile(
        r"(?i)\b(?:api[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|password)\b[\"']?\s*[:=]\s*[\"']?"
        r"(?P<value>[A-Za-z0-9_\-\.+/]{12,})"
    ),
}


@dataclass(frozen=True)
class SecretFinding:
    kind: str
    start: int
    end: int


def find_secrets(text: str) -> list[SecretFinding]:
    found: list[SecretFinding] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            start, end = (m.start("value"), m.end("value")) if "value" in pattern.groupindex else m.span()
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append(SecretFinding(kind, start, end))
    return sorted(found, key=lambda f: f.start)


def redact(text: str) -> str:
    """Replace every secret-looking span with a marker naming its kind."""
    findings = find_secrets(text)
    if not findings:
        return text
    parts, last = [], 0
    for f in findings:
        parts.append(text[last : f.start])
        parts.append(f"[REDACTED {f.kind}]")
        last = f.end
    parts.append(text[last:])
    return "".join(parts)
