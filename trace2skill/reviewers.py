"""Who makes a decision: the reviewer's name recorded with every lesson approval, hunk, save, lock,
split change and outcome label. The CLI takes `--reviewer` (default: $TRACE2SKILL_REVIEWER, else
the operating-system user); the app the signed-in user, else the name given in its sidebar."""

from __future__ import annotations

import getpass
import os

from trace2skill.errors import InvalidValueError

ENV_REVIEWER = "TRACE2SKILL_REVIEWER"
UNNAMED_APP_USER = "app user (unnamed)"
MAX_NAME = 80


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment (some containers)
        return "unknown user"


def check_name(name: str) -> str:
    """A reviewer's name as given, trimmed; InvalidValueError when it is empty, too long or holds
    line breaks or control characters."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidValueError("a reviewer's name cannot be empty")
    if len(cleaned) > MAX_NAME:
        raise InvalidValueError(f"a reviewer's name has at most {MAX_NAME} characters")
    if any(not ch.isprintable() for ch in name.strip()):
        raise InvalidValueError("a reviewer's name cannot hold line breaks or control characters")
    return cleaned


def default_reviewer() -> str:
    """The CLI's reviewer when --reviewer is not given: $TRACE2SKILL_REVIEWER, else the OS user."""
    given = os.environ.get(ENV_REVIEWER)
    return check_name(given) if given and given.strip() else os_user()
