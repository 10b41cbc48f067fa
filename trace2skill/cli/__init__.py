"""The `trace2skill` command line: the same library functions the app calls."""

from trace2skill.cli import consolidate, data, evaluate, lessons, logs, runs, settings, skills, ui  # noqa: F401  (register the commands)
from trace2skill.cli.common import main

__all__ = ["main"]
