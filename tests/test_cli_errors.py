"""Bad invocations and bad inputs, as a user types them: each one exits with status 2, says what is
wrong in ONE `error:`/`Error:` line, shows no traceback, and leaves the workspace exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TAU_BENCH

from trace2skill.cli import main
from trace2skill.demo import DEMO_SKILL, DEMO_SKILL_DESCRIPTION
from trace2skill.ingest.pipeline import import_paths
from trace2skill.models import Lesson
from trace2skill.settings import set_setting
from trace2skill.skill import SkillFolder
from trace2skill.store import Workspace
from trace2skill.store.lessons import insert_lessons, set_status
from trace2skill.store.skills import import_skill, list_skills

# (row id, arguments, a fragment of the one error line). Placeholders are filled in per test.
ROWS: list[tuple[str, list[str], str]] = [
    # wrong or unknown ids
    ("show-unknown-id", ["show", "nope", "--db", "{db}"], "no trajectory with id 'nope'"),
    ("show-missing-id", ["show", "--db", "{db}"], "Missing argument 'TRAJECTORY_ID'"),
    ("approve-unknown-id", ["lessons", "approve", "nope", "--db", "{db}"], "no lesson with id 'nope'"),
    ("reject-unknown-id", ["lessons", "reject", "{lesson}", "nope", "--db", "{db}"], "no lesson with id 'nope'"),
    ("resume-unknown-run", ["resume", "nope", "--db", "{db}"], "no run with id 'nope'"),
    ("cancel-unknown-run", ["cancel", "nope", "--db", "{db}"], "no run with id 'nope'"),
    ("eval-report-unknown-run", ["eval-report", "nope", "--db", "{db}"], "no run with id 'nope'"),
    ("diff-unknown-version", ["diff", "{version}", "nope", "--db", "{db}"], "no skill version with id 'nope'"),
    ("export-unknown-version", ["export", "nope", "--out", "{tmp}/out", "--db", "{db}"],
     "no skill version with id 'nope'"),
    ("blame-unknown-version", ["blame", "nope", "SKILL.md", "1", "--db", "{db}"], "no skill version with id 'nope'"),
    ("blame-line-zero", ["blame", "{version}", "SKILL.md", "0", "--db", "{db}"], "0 is not in the range x>=1"),
    ("skills-list-unknown", ["skills", "list", "nope", "--db", "{db}"], "no skill named 'nope'"),
    ("skills-lock-unknown", ["skills", "lock", "nope", "Intro", "--db", "{db}"], "no skill named 'nope'"),
    ("split-unknown-trajectory", ["split", "heldout", "nope", "--db", "{db}"], "no trajectory with id 'nope'"),
    # missing or unreadable files
    ("import-missing-file", ["import", "{missing}", "--db", "{db}"], "does not exist"),
    ("skills-import-missing", ["skills", "import", "{missing}", "--db", "{db}"], "does not exist"),
    ("mapping-missing", ["import", "{traj}", "--format", "generic", "--mapping", "{missing}", "--db", "{db}"],
     "does not exist"),
    ("mapping-invalid", ["import", "{traj}", "--format", "generic", "--mapping", "{badmapping}", "--db", "{db}"],
     "invalid field mapping"),
    ("skills-import-plain-md", ["skills", "import", "{plain_md}", "--db", "{db}"], "give --name and --description"),
    ("skills-import-bad-zip", ["skills", "import", "{badzip}", "--db", "{db}"], "zip"),
    ("evaluate-missing-tasks", ["evaluate", "--skill", "x", "--tasks", "{missing}", "--db", "{db}"],
     "does not exist"),
    ("import-unknown-format", ["import", "{traj}", "--format", "klingon", "--db", "{db}"], "unknown format 'klingon'"),
    # bad flag combinations and values
    ("approve-ids-and-all", ["lessons", "approve", "{lesson}", "--all", "--db", "{db}"], "not both"),
    ("approve-neither", ["lessons", "approve", "--db", "{db}"], "give lesson ids, or --all"),
    ("approve-only-without-all", ["lessons", "approve", "{lesson}", "--only", "proposed", "--db", "{db}"],
     "--only goes with --all"),
    ("consolidate-base-and-new", ["consolidate", "--base-skill", "x", "--new-skill", "y", "--db", "{db}"],
     "cannot be used together"),
    ("consolidate-neither", ["consolidate", "--db", "{db}"], "give --base-skill NAME"),
    ("consolidate-batch-size-1", ["consolidate", "--base-skill", "x", "--batch-size", "1", "--db", "{db}"],
     "1 is not in the range 2<=x<=64"),
    ("split-fraction-too-big", ["split", "random", "--heldout", "1.5", "--db", "{db}"], "--heldout"),
    ("unknown-command", ["frobnicate", "--db", "{db}"], "No such command 'frobnicate'"),
    ("unknown-option", ["stats", "--colour", "--db", "{db}"], "No such option '--colour'"),
    # settings
    ("settings-unknown-key", ["settings", "set", "colour", "blue", "--db", "{db}"], "unknown setting 'colour'"),
    ("settings-api-key", ["settings", "set", "api_key", "sk-secret", "--db", "{db}"], "OPENAI_API_KEY"),
    ("settings-token", ["settings", "unset", "token", "--db", "{db}"], "is a secret"),
    ("settings-bad-url", ["settings", "set", "base_url", "localhost:8000", "--db", "{db}"], "http(s) URL"),
    ("settings-concurrency-0", ["settings", "set", "concurrency", "0", "--db", "{db}"], "from 1 to 512"),
    ("settings-concurrency-abc", ["settings", "set", "concurrency", "abc", "--db", "{db}"], "whole number"),
    ("settings-concurrency-negative", ["settings", "set", "--db", "{db}", "concurrency", "--", "-3"],
     "from 1 to 512"),
    ("settings-model-spaces", ["settings", "set", "model", "gpt 4o\nx", "--db", "{db}"], "no spaces"),
    ("settings-empty-value", ["settings", "set", "model", " ", "--db", "{db}"], "settings unset model"),
    # the workspace file itself
    ("db-not-sqlite", ["--db", "{notdb}", "stats"], "is not a usable Trace2Skill workspace"),
    ("db-not-sqlite-command", ["lessons", "approve", "--all", "--db", "{notdb}"], "is not a usable Trace2Skill"),
    ("db-is-a-directory", ["stats", "--db", "{tmp}"], "is a directory"),
    ("db-twice-different", ["--db", "{db}", "lessons", "approve", "--all", "--db", "{other}"],
     "--db given twice with different files"),
    ("db-twice-group-and-command", ["lessons", "--db", "{db}", "approve", "--all", "--db", "{other}"],
     "--db given twice with different files"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A workspace with a few tau-bench trajectories, the demo skill, lessons (one approved) and a
    stored setting (small, so that hashing it before and after each row is quick)."""
    folder = tmp_path_factory.mktemp("template")
    runs = folder / "runs.json"
    runs.write_text(json.dumps(json.loads(TAU_BENCH.read_text())[:12]))
    path = folder / "ws.db"
    ws = Workspace(path)
    import_paths(ws, [runs])
    policy = SkillFolder.from_markdown(DEMO_SKILL, DEMO_SKILL_DESCRIPTION, "# Policy\n\n## Intro\n\nBe kind.\n")
    import_skill(ws.db, policy)
    tid = ws.db.execute("SELECT id FROM trajectories ORDER BY id LIMIT 1").fetchone()[0]
    insert_lessons(ws.db, [Lesson(id=f"lesson{k}", trajectory_id=tid, kind="failure_lesson", title=f"Lesson {k}",
                                  content="Confirm the cabin class before booking.") for k in range(3)])
    set_status(ws.db, ["lesson0"], "approved")
    set_setting(ws.db, "model", "stored-model")
    version = list_skills(ws.db)[0]["latest"]
    ws.close()
    return {"path": str(path), "version": version, "lesson": "lesson1"}


def _copy(src: str, dest: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)
    a.close()
    b.close()


def digest(path: Path) -> str:
    """A hash of every row of every table (and of the raw bytes for a file that is not SQLite)."""
    raw = path.read_bytes()
    if not raw.startswith(b"SQLite format 3\x00"):
        return hashlib.sha256(raw).hexdigest()
    h = hashlib.sha256()
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(  # virtual (FTS) tables are covered by their shadow tables
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
        for table in tables:
            rows = sorted(repr(r) for r in conn.execute(f'SELECT * FROM "{table}"'))
            h.update(f"{table}:{len(rows)}:".encode() + "\n".join(rows).encode())
    finally:
        conn.close()
    return h.hexdigest()


@pytest.fixture
def paths(tmp_path: Path, template: dict[str, str]) -> dict[str, str]:
    db = tmp_path / "ws.db"
    _copy(template["path"], db)
    other = tmp_path / "other.db"
    _copy(template["path"], other)
    (tmp_path / "notdb.db").write_text("just some text, not a database\n")
    (tmp_path / "plain.md").write_text("# Notes\n\nSome advice.\n")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "mapping.json").write_text('{"task": "question"}')
    return {"db": str(db), "other": str(other), "tmp": str(tmp_path), "missing": str(tmp_path / "missing.json"),
            "notdb": str(tmp_path / "notdb.db"), "traj": str(TAU_BENCH), "plain_md": str(tmp_path / "plain.md"),
            "badzip": str(tmp_path / "bad.zip"), "badmapping": str(tmp_path / "mapping.json"),
            "version": template["version"], "lesson": template["lesson"]}


def check_one_error_line(output: str, fragment: str) -> None:
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(errors) == 1, output
    assert fragment in errors[0], output
    if errors[0].startswith("error:"):  # our own errors: that line is all there is
        assert output.strip() == errors[0], output


@pytest.mark.parametrize("args, fragment", [pytest.param(a, f, id=i) for i, a, f in ROWS])
def test_bad_invocation(args: list[str], fragment: str, paths: dict[str, str]) -> None:
    files = [Path(paths[k]) for k in ("db", "other", "notdb")]
    before = [digest(f) for f in files]
    result = CliRunner().invoke(main, [a.format(**paths) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2, result.output
    check_one_error_line(result.output, fragment)
    assert [digest(f) for f in files] == before
    assert not Path(os.environ["TRACE2SKILL_DB"]).exists()  # the default workspace was never opened


def test_there_are_enough_rows() -> None:
    assert len(ROWS) >= 20 and len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("args, fragment", [
    (["show", "nope", "--db", "{db}"], "no trajectory with id 'nope'"),
    (["settings", "set", "api_key", "sk-secret", "--db", "{db}"], "OPENAI_API_KEY"),
    (["--db", "{notdb}", "lessons", "approve", "--all"], "is not a usable Trace2Skill workspace"),
])
def test_bad_invocation_as_a_process(args: list[str], fragment: str, paths: dict[str, str]) -> None:
    before = digest(Path(paths["db"])), digest(Path(paths["notdb"]))
    proc = subprocess.run([sys.executable, "-m", "trace2skill", *(a.format(**paths) for a in args)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    check_one_error_line(proc.stderr, fragment)
    assert (digest(Path(paths["db"])), digest(Path(paths["notdb"]))) == before


def test_multi_line_messages_are_folded_into_one_line() -> None:
    from trace2skill.cli.common import error_message
    from trace2skill.errors import TaskFormatError

    assert error_message(TaskFormatError("bad task\n  at line 3\n\nfix it")) == "bad task; at line 3; fix it"
    assert error_message(FileNotFoundError(2, "No such file or directory", "/x/y.json")) == (
        "/x/y.json: No such file or directory")


def test_a_bug_still_shows_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import trace2skill.cli.data as data

    def broken(_db: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(data, "workspace_stats", broken)
    result = CliRunner().invoke(main, ["stats", "--db", str(tmp_path / "w.db")])
    assert isinstance(result.exception, RuntimeError)  # not swallowed into "error: ..."
