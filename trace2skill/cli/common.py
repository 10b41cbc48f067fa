"""Shared pieces of the command line: the `main` group, common options, the workspace a command
works on, the model settings it uses, output helpers and the one-line error report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trace2skill.errors import Trace2SkillError
from trace2skill.store import Workspace
from trace2skill.textcut import cut_words

if TYPE_CHECKING:
    from trace2skill.llm import LLMClient, LLMConfig

DB_META_KEY = "trace2skill.db"
PATH_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

# --------------------------------------------------------------------------- the workspace (--db)


def _same_file(a: str, b: str) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def remember_db(ctx: click.Context, path: str) -> None:
    """Record `--db PATH` for the whole invocation; a second, different file is a usage error."""
    meta = ctx.find_root().meta
    known = meta.get(DB_META_KEY)
    if known is not None and not _same_file(known, path):
        raise click.UsageError(f"--db given twice with different files: {known} and {path}", ctx=ctx)
    meta[DB_META_KEY] = path


def _db_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        remember_db(ctx, value)


_db_only = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    expose_value=False,
    callback=_db_callback,
    help="Workspace database file (default: $TRACE2SKILL_DB or the per-user data folder). "
         "Accepted before or after any command name.",
)
REVIEWER_META_KEY = "trace2skill_reviewer"


def _reviewer_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        from trace2skill.reviewers import check_name

        ctx.find_root().meta[REVIEWER_META_KEY] = check_name(value)


_reviewer_only = click.option(
    "--reviewer", default=None, expose_value=False, callback=_reviewer_callback,
    help="Who makes this command's decisions, recorded with each (default: $TRACE2SKILL_REVIEWER, else the "
         "operating-system user). Accepted before or after any command name.")


def db_option(func: Any) -> Any:
    """`--db FILE` and `--reviewer NAME`, accepted on the root, a group or a command."""
    return _db_only(_reviewer_only(func))


def cli_reviewer() -> str:
    """Who this command line's decisions are recorded as: its --reviewer, else the default."""
    from trace2skill.reviewers import default_reviewer

    ctx = click.get_current_context(silent=True)
    given = ctx.find_root().meta.get(REVIEWER_META_KEY) if ctx is not None else None
    return given or default_reviewer()


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def selected_db() -> str | None:
    """The `--db` given anywhere on this command line (root, group or command), or None."""
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().meta.get(DB_META_KEY) if ctx is not None else None


def open_workspace(db_path: str | None = None) -> Workspace:
    """The workspace of this invocation: its `--db`, else $TRACE2SKILL_DB, else the per-user default.

    `db_path` is accepted for older callers; it must agree with any `--db` on the command line."""
    ctx = click.get_current_context(silent=True)
    if db_path is not None and ctx is not None:
        remember_db(ctx, db_path)
    return Workspace(db_path or selected_db())


def workspace_file(ws: Workspace) -> str:
    return str(ws.path.expanduser().resolve())


def echo_workspace(ws: Workspace, *, as_json: bool = False) -> None:
    """Name the workspace file a command changed: `workspace: /abs/path` on stderr.

    With --json the line is left out (CliRunner and `2>&1` mix it into the JSON): put the file in the
    JSON instead, with `print_json(data, ws=ws)`."""
    if not as_json:
        click.echo(f"workspace: {workspace_file(ws)}", err=True)


# --------------------------------------------------------------------------- model settings


def cli_llm_config(ws: Workspace, base_url: str | None, model: str | None, **overrides: Any) -> LLMConfig:
    """The model a command uses: flags -> environment -> the workspace's settings -> embedded model."""
    from trace2skill.settings import resolve_llm

    return resolve_llm(ws.db, base_url, model, **overrides)


def cli_llm_client(ws: Workspace, base_url: str | None, model: str | None, **overrides: Any) -> LLMClient:
    """An LLM client over `cli_llm_config`."""
    from trace2skill.llm import LLMClient

    return LLMClient(ws, cli_llm_config(ws, base_url, model, **overrides))


def cli_concurrency(ws: Workspace, concurrency: int | None, default: int = 8) -> int:
    """--concurrency, else the workspace's stored concurrency, else `default`."""
    from trace2skill.settings import resolve_concurrency

    return resolve_concurrency(ws.db, concurrency, default)


# --------------------------------------------------------------------------- output


def print_json(value: Any, *, ws: Workspace | None = None) -> None:
    """Print JSON on stdout; with `ws`, a dict also names the workspace file (`"workspace"`)."""
    if ws is not None and isinstance(value, dict):
        value = {**value, "workspace": workspace_file(ws)}
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def clip(text: str | None, width: int) -> str:
    """One line of at most `width` characters, cut between words."""
    text = " ".join((text or "").split())
    return text if len(text) <= width else cut_words(text, width - 1, where=None)


def one_line(text: str) -> str:
    """A message on one line: line breaks folded into '; '."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def error_message(exc: BaseException) -> str:
    """The one-line text for an error the user caused."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return one_line(f"{exc.filename}: {exc.strerror or exc}")
    return one_line(str(exc)) or type(exc).__name__


# --------------------------------------------------------------------------- the root group


class _Group(click.Group):
    """Turns library errors (and missing/unreadable files) into one `error: ...` line and exit
    status 2, instead of a traceback; nested groups and their commands run inside this `invoke`.
    Anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (Trace2SkillError, *PATH_ERRORS) as exc:
            click.echo(f"error: {error_message(exc)}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="trace2skill")
@db_option
def main() -> None:
    """Turn LLM-agent trajectories into a reviewed Agent Skill."""
