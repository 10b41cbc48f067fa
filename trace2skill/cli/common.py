"""Shared pieces of the command line: the `main` group, common options, output helpers."""

from __future__ import annotations

import json
from typing import Any

import click

from trace2skill.errors import Trace2SkillError
from trace2skill.store import Workspace

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Workspace database file (default: $TRACE2SKILL_DB or the per-user data folder).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def open_workspace(db_path: str | None) -> Workspace:
    return Workspace(db_path)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


class _Group(click.Group):
    """Turns library errors into one clear line and exit status 2, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Trace2SkillError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="trace2skill")
def main() -> None:
    """Turn LLM-agent trajectories into a reviewed Agent Skill."""
