"""`trace2skill settings`: show, set and unset the workspace's model endpoint, model name and default
concurrency, and the price table (`settings price`): the same settings the app's Home screen edits,
resolved the same way."""

from __future__ import annotations

import os
from typing import Any

import click

from trace2skill.cli.common import (
    db_option,
    echo_workspace,
    json_option,
    main,
    open_workspace,
    print_json,
    workspace_file,
)
from trace2skill.costs import get_prices, remove_price, set_price
from trace2skill.errors import SettingsError
from trace2skill.llm.config import ENV_API_KEY
from trace2skill.models import ModelPrice
from trace2skill.settings import ENV_VARS, KEYS, Effective, check_key, effective_settings, get_settings, set_setting

SOURCE_TEXT = {"flag": "command-line flag", "workspace": "stored in the workspace", "default": "default"}


def _source_text(key: str, found: Effective) -> str:
    if found.source == "environment":
        return f"environment: ${ENV_VARS[key]}"
    return SOURCE_TEXT[found.source]


def _value_text(key: str, found: Effective) -> str:
    if found.value is None:
        return "(embedded local model)" if key == "base_url" else "(the endpoint's default)"
    return found.value


def _api_key() -> dict[str, Any]:
    return {"set": bool(os.environ.get(ENV_API_KEY)), "source": f"environment: ${ENV_API_KEY}"}


def _show(as_json: bool) -> None:
    ws = open_workspace()
    found = effective_settings(ws.db)
    prices = get_prices(ws.db)
    if as_json:
        print_json({**{k: v.as_dict() for k, v in found.items()}, "api_key": _api_key(),
                    "prices": {m: p.model_dump() for m, p in prices.items()}, "workspace": workspace_file(ws)})
        return
    for key in KEYS:
        click.echo(f"{key:<12} {_value_text(key, found[key]):<40} ({_source_text(key, found[key])})")
    key_state = "set" if _api_key()["set"] else "not set"
    click.echo(f"{'api_key':<12} {key_state:<40} (environment: ${ENV_API_KEY}; never stored)")
    _show_prices(prices)
    click.echo(f"workspace: {workspace_file(ws)}", err=True)


def _show_prices(prices: dict[str, ModelPrice]) -> None:
    if not prices:
        click.echo("prices       none (set one: trace2skill settings price MODEL --prompt P --completion C; "
                   "the embedded model is free)")
        return
    click.echo("prices per 1M tokens: model, prompt, cached prompt, completion (the embedded model is free)")
    for model, price in prices.items():
        click.echo(f"  {model:<38} {price.prompt:>10g} {price.cached_prompt:>10g} {price.completion:>10g}")


def _note_override(key: str) -> None:
    env_var = ENV_VARS.get(key)
    if env_var and os.environ.get(env_var):
        click.echo(f"note: ${env_var} is set and takes precedence over the workspace's {key}", err=True)


@main.group("settings", invoke_without_command=True)
@json_option
@db_option
@click.pass_context
def settings_group(ctx: click.Context, as_json: bool) -> None:
    """Show the model settings in use and where each comes from (flag, environment, workspace, default).

    Order, per setting: command-line flags, then $OPENAI_BASE_URL / $TRACE2SKILL_MODEL, then the
    workspace's stored settings, then the embedded local model. The API key is read from
    $OPENAI_API_KEY only and never stored."""
    if ctx.invoked_subcommand is None:
        _show(as_json)


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@db_option
def settings_set(key: str, value: str) -> None:
    """Store KEY (base_url, model, concurrency, flagged_lessons, context_window or required_approvals) in the
    workspace."""
    check_key(key)
    if not value.strip():
        raise SettingsError(f"give a value for {key}, or remove it with `trace2skill settings unset {key}`")
    ws = open_workspace()
    set_setting(ws.db, key, value)
    click.echo(f"{key} = {get_settings(ws.db)[key]}")
    _note_override(key)
    echo_workspace(ws)


@settings_group.command("unset")
@click.argument("key")
@db_option
def settings_unset(key: str) -> None:
    """Remove KEY from the workspace (the environment or the default applies again)."""
    check_key(key)
    ws = open_workspace()
    set_setting(ws.db, key, None)
    found = effective_settings(ws.db)[key]
    click.echo(f"{key} unset; now {_value_text(key, found)} ({_source_text(key, found)})")
    echo_workspace(ws)


@settings_group.command("price")
@click.argument("model")
@click.option("--prompt", default=None, help="Price of 1M prompt tokens.")
@click.option("--cached", default=None, help="Price of 1M cached prompt tokens (default: the prompt price).")
@click.option("--completion", default=None, help="Price of 1M completion tokens.")
@click.option("--remove", is_flag=True, help="Remove MODEL from the price table.")
@db_option
def settings_price(model: str, prompt: str | None, cached: str | None, completion: str | None, remove: bool) -> None:
    """Set MODEL's prices (currency units per 1M tokens) in the workspace's price table, used by the
    estimate before a run, the cost meter and money budgets; --remove takes it out."""
    ws = open_workspace()
    if remove:
        if prompt or cached or completion:
            raise SettingsError("--remove takes no prices")
        remove_price(ws.db, model)
        click.echo(f"price of {model} removed")
    else:
        if prompt is None or completion is None:
            raise SettingsError(f"give --prompt and --completion (per 1M tokens) for {model}, or --remove")
        price = set_price(ws.db, model, prompt=prompt, completion=completion, cached_prompt=cached)
        click.echo(f"{model}: {price.prompt:g} prompt, {price.cached_prompt:g} cached prompt, "
                   f"{price.completion:g} completion per 1M tokens")
    echo_workspace(ws)
