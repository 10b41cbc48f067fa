"""Which workspace and which model a command uses: `--db` wherever it is written, the `workspace:`
line of commands that change data, and one resolution of the model settings for the app and the CLI
(flag -> environment -> workspace -> embedded model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import main
from trace2skill.cli.common import cli_llm_config
from trace2skill.models import Lesson
from trace2skill.settings import (
    batch_price,
    effective_settings,
    llm_config,
    resolve_concurrency,
    resolve_llm,
    set_setting,
)
from trace2skill.store import Workspace
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.trajectories import TrajectoryFilter, trajectory_ids


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _with_lessons(path: Path | str) -> Workspace:
    """A workspace with one small trajectory and three proposed lessons."""
    ws = Workspace(path)
    record = {"messages": [{"role": "user", "content": "Book a flight to Oslo"},
                           {"role": "assistant", "content": "Booked."}]}
    source = Path(path).with_suffix(".jsonl")
    source.write_text(json.dumps(record) + "\n")
    assert invoke("import", str(source), "--db", str(path)).exit_code == 0
    tid = trajectory_ids(ws.db, TrajectoryFilter())[0]
    insert_lessons(ws.db, [Lesson(id=f"{Path(path).stem}-{k}", trajectory_id=tid, kind="failure_lesson",
                                  title=f"Lesson {k}", content="Confirm the date.") for k in range(3)])
    return ws


def _statuses(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.db.execute("SELECT status FROM lessons ORDER BY id")]


# --------------------------------------------------------------------------- --db anywhere


@pytest.mark.parametrize("args", [
    ["lessons", "--db", "{w}", "approve", "--all"],
    ["--db", "{w}", "lessons", "approve", "--all"],
    ["lessons", "approve", "--all", "--db", "{w}"],
    ["--db", "{w}", "lessons", "--db", "{w}", "approve", "--all", "--db", "{w}"],  # the same file thrice is fine
], ids=["group", "root", "command", "everywhere"])
def test_db_means_the_same_workspace_wherever_it_is_written(args: list[str], tmp_path: Path) -> None:
    default = _with_lessons(os.environ["TRACE2SKILL_DB"])
    target = _with_lessons(tmp_path / "w.db")
    result = invoke(*(a.format(w=tmp_path / "w.db") for a in args))
    assert result.exit_code == 0, result.output
    assert "3 lessons approved" in result.stdout
    assert _statuses(target) == ["approved"] * 3
    assert _statuses(default) == ["proposed"] * 3  # the default workspace is untouched


def test_a_relative_and_an_absolute_db_for_the_same_file_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _with_lessons(tmp_path / "w.db")
    monkeypatch.chdir(tmp_path)
    result = invoke("--db", "w.db", "lessons", "approve", "--all", "--db", str(tmp_path / "w.db"))
    assert result.exit_code == 0, result.output
    assert _statuses(target) == ["approved"] * 3


@pytest.mark.parametrize("args", [
    ["skills", "--db", "{w}", "list", "--json"],
    ["split", "--db", "{w}", "show", "--json"],
    ["settings", "--db", "{w}", "--json"],
    ["--db", "{w}", "stats", "--json"],
])
def test_every_group_takes_db(args: list[str], tmp_path: Path) -> None:
    Workspace(tmp_path / "w.db")
    result = invoke(*(a.format(w=tmp_path / "w.db") for a in args))
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert not Path(os.environ["TRACE2SKILL_DB"]).exists()


def test_without_db_the_environment_default_is_used() -> None:
    default = _with_lessons(os.environ["TRACE2SKILL_DB"])
    result = invoke("lessons", "approve", "--all")
    assert result.exit_code == 0, result.output
    assert _statuses(default) == ["approved"] * 3
    assert f"workspace: {Path(os.environ['TRACE2SKILL_DB']).resolve()}" in result.stderr


# --------------------------------------------------------------------------- naming the changed workspace


@pytest.mark.parametrize("args", [
    ["lessons", "reject", "--all"],
    ["settings", "set", "model", "m1"],
    ["settings", "unset", "model"],
    ["split", "random", "--heldout", "0.5"],
    ["split", "evolve", "{tid}"],
])
def test_commands_that_change_data_name_the_workspace_on_stderr(args: list[str], tmp_path: Path) -> None:
    ws = _with_lessons(tmp_path / "w.db")
    tid = trajectory_ids(ws.db, TrajectoryFilter())[0]
    result = invoke(*(a.format(tid=tid) for a in args), "--db", str(tmp_path / "w.db"))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == f"workspace: {(tmp_path / 'w.db').resolve()}"
    assert "workspace:" not in result.stdout


def test_with_json_stdout_is_clean_json_naming_the_workspace(tmp_path: Path) -> None:
    _with_lessons(tmp_path / "w.db")
    result = invoke("lessons", "approve", "--all", "--json", "--db", str(tmp_path / "w.db"))
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["workspace"] == str((tmp_path / "w.db").resolve())


def test_read_only_commands_do_not_print_a_workspace_line(tmp_path: Path) -> None:
    _with_lessons(tmp_path / "w.db")
    result = invoke("lessons", "--db", str(tmp_path / "w.db"))
    assert result.exit_code == 0 and "workspace:" not in result.output


# --------------------------------------------------------------------------- one model setting


@pytest.fixture
def no_llm_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("OPENAI_BASE_URL", "TRACE2SKILL_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_resolution_order_per_field(ws: Workspace, no_llm_env: pytest.MonkeyPatch) -> None:
    config = resolve_llm(ws.db)
    assert (config.base_url, config.model, config.is_local) == (None, None, True)  # the embedded model
    set_setting(ws.db, "base_url", "http://stored.test/v1")
    set_setting(ws.db, "model", "stored-model")
    assert (resolve_llm(ws.db).base_url, resolve_llm(ws.db).model) == ("http://stored.test/v1", "stored-model")
    no_llm_env.setenv("TRACE2SKILL_MODEL", "env-model")
    config = resolve_llm(ws.db)
    assert (config.base_url, config.model) == ("http://stored.test/v1", "env-model")  # per field
    no_llm_env.setenv("OPENAI_BASE_URL", "http://env.test/v1")
    config = resolve_llm(ws.db, model="flag-model")
    assert (config.base_url, config.model) == ("http://env.test/v1", "flag-model")
    config = resolve_llm(ws.db, base_url="http://flag.test/v1")
    assert (config.base_url, config.model) == ("http://flag.test/v1", "env-model")
    sources = effective_settings(ws.db, model="flag-model")
    assert {k: v.source for k, v in sources.items()} == {"base_url": "environment", "model": "flag",
                                                         "concurrency": "default", "flagged_lessons": "default",
                                                         "context_window": "default", "required_approvals": "default",
                                                         "batch_price": "default"}


def test_the_app_and_the_cli_resolve_alike(ws: Workspace, no_llm_env: pytest.MonkeyPatch) -> None:
    set_setting(ws.db, "base_url", "http://stored.test/v1")
    set_setting(ws.db, "model", "stored-model")
    no_llm_env.setenv("OPENAI_API_KEY", "sk-env")
    app, cli = llm_config(ws.db), cli_llm_config(ws, None, None)
    assert app == cli and (cli.base_url, cli.model, cli.api_key_value()) == (
        "http://stored.test/v1", "stored-model", "sk-env")
    assert cli_llm_config(ws, "http://flag.test/v1", None, temperature=0.5).temperature == 0.5


def test_concurrency_flag_then_workspace_then_default(ws: Workspace) -> None:
    assert resolve_concurrency(ws.db, None) == 8
    set_setting(ws.db, "concurrency", "16")
    assert (resolve_concurrency(ws.db, None), resolve_concurrency(ws.db, 3)) == (16, 3)


def test_settings_command_reports_where_each_value_comes_from(tmp_path: Path, no_llm_env: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "w.db")
    assert invoke("settings", "set", "base_url", "http://stored.test/v1", "--db", db).exit_code == 0
    assert invoke("settings", "--db", db, "set", "model", "stored-model").exit_code == 0
    assert invoke("--db", db, "settings", "set", "concurrency", "12").exit_code == 0
    shown = json.loads(invoke("settings", "--json", "--db", db).stdout)
    assert {k: shown[k] for k in ("base_url", "model", "concurrency")} == {
        "base_url": {"value": "http://stored.test/v1", "source": "workspace"},
        "model": {"value": "stored-model", "source": "workspace"},
        "concurrency": {"value": "12", "source": "workspace"}}
    assert shown["api_key"]["set"] is False and shown["workspace"] == str(Path(db).resolve())

    no_llm_env.setenv("TRACE2SKILL_MODEL", "env-model")
    shown = json.loads(invoke("settings", "--json", "--db", db).stdout)
    assert shown["model"] == {"value": "env-model", "source": "environment"}
    assert shown["base_url"]["source"] == "workspace"
    text = invoke("settings", "--db", db).stdout
    assert "environment: $TRACE2SKILL_MODEL" in text and "stored in the workspace" in text

    result = invoke("settings", "set", "model", "other", "--db", db)
    assert "note: $TRACE2SKILL_MODEL is set and takes precedence" in result.stderr
    assert invoke("settings", "unset", "base_url", "--db", db).exit_code == 0
    shown = json.loads(invoke("settings", "--json", "--db", db).stdout)
    assert shown["base_url"] == {"value": None, "source": "default"}


def test_the_api_key_is_never_stored(tmp_path: Path, no_llm_env: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "w.db")
    no_llm_env.setenv("OPENAI_API_KEY", "sk-very-secret")
    result = CliRunner().invoke(main, ["settings", "set", "api_key", "sk-very-secret", "--db", db])
    assert result.exit_code == 2 and "sk-very-secret" not in result.output
    shown = invoke("settings", "--json", "--db", db).stdout
    assert "sk-very-secret" not in shown and json.loads(shown)["api_key"]["set"] is True
    assert Workspace(db).db.execute("SELECT count(*) FROM settings").fetchone()[0] == 0


def test_the_batch_price_share_is_a_share_or_a_percentage(tmp_path: Path, no_llm_env: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "w.db")
    shown = json.loads(invoke("settings", "--json", "--db", db).stdout)
    assert shown["batch_price"] == {"value": "0.5", "source": "default"}
    assert invoke("settings", "set", "batch_price", "40%", "--db", db).exit_code == 0
    assert batch_price(Workspace(db).db) == 0.4
    for bad in ("0", "1.5", "half"):
        result = CliRunner().invoke(main, ["settings", "set", "batch_price", bad, "--db", db])
        assert result.exit_code != 0 and "share of the live price a batch call costs" in result.output
    assert json.loads(invoke("settings", "--json", "--db", db).stdout)["batch_price"]["value"] == "0.4"
