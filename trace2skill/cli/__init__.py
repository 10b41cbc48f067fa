"""The `trace2skill` command line: the same library functions the app calls."""

from trace2skill.cli import (  # noqa: F401  (register the commands)
    activity,
    batch,
    consolidate,
    data,
    evaluate,
    imports,
    lessons,
    local_model,
    logs,
    outcome_rules,
    runs,
    sessions,
    settings,
    skills,
    team,
    ui,
    verify,
)
from trace2skill.cli.common import main

__all__ = ["main"]
