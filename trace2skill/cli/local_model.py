"""`trace2skill local-model status|stop`: the embedded model server shared by the app and every
command of this user on this machine (see trace2skill.llm.shared)."""

from __future__ import annotations

from typing import Any

import click

from trace2skill.cli.common import json_option, main, print_json


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown time"
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _programs(users: list[dict[str, Any]]) -> str:
    if not users:
        return "no program (it stops by itself shortly)"
    named = "; ".join(f"{u.get('pid')} ({u.get('program') or 'unknown'})" for u in users)
    return f"{len(users)} program{'s' if len(users) != 1 else ''}: {named}"


def _threads(info: dict[str, Any]) -> str:
    threads, batch = info.get("threads"), info.get("batch_threads")
    text = f"{threads} thread{'s' if threads != 1 else ''}"
    return text + (f" ({batch} while reading a prompt)" if batch and batch != threads else "")


@main.group("local-model")
def local_model() -> None:
    """See or stop the embedded model shared by the app and every command."""


@local_model.command("status")
@json_option
def status(as_json: bool) -> None:
    """Whether the shared embedded model runs: its process, address, threads, users and uptime."""
    from trace2skill.llm.shared import server_status

    info = server_status()
    if as_json:
        print_json({"running": info is not None, **(info or {})})
        return
    if info is None:
        click.echo("The shared embedded model is not running; the app or a command starts it when it first "
                   "needs the model.")
        return
    if not info["ready"]:
        click.echo(f"The shared embedded model is starting (process {info.get('pid')}).")
        click.echo(f"  used by {_programs(info['users'])}")
        return
    click.echo(f"The shared embedded model is running: {info.get('model_name')} at {info['base_url']}")
    click.echo(f"  process {info.get('pid')}, {_threads(info)}, up {_duration(info['uptime_s'])}")
    click.echo(f"  used by {_programs(info['users'])}")
    click.echo(f"It stops by itself {info.get('idle_s', 30):.0f} s after the last of them exits; "
               "`trace2skill local-model stop` stops it now.")


@local_model.command("stop")
@json_option
def stop(as_json: bool) -> None:
    """Stop the shared embedded model now (a model call under way fails; it starts again when needed)."""
    from trace2skill.llm.shared import stop_server

    before = stop_server()
    if as_json:
        print_json({"stopped": before is not None, **(before or {})})
        return
    if before is None:
        click.echo("The shared embedded model was not running.")
        return
    users = before["users"]
    click.echo(f"Stopped the shared embedded model (process {before.get('pid')}).")
    if users:
        click.echo(f"It was used by {_programs(users)}; a model call they had under way fails, and they start "
                   "the model again when they next need it.")
