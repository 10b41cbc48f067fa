"""The CLI: import / stats / trajectories / show / demo, with --db and --json, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner
from conftest import TAU_BENCH

from trace2skill.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_import_then_stats_json_shape(tmp_path):
    db = str(tmp_path / "cli.db")
    code, out = run("import", str(TAU_BENCH), "--db", db, "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["imported"], report["duplicates"], report["errors"]) == (200, 0, 0)
    code, out = run("stats", "--json", "--db", db)
    stats = json.loads(out)
    assert stats["trajectories"] == 200
    assert stats["outcomes"] == {"success": 84, "failure": 116, "unknown": 0}
    assert stats["formats"] == {"tau_bench": 200}
    assert stats["lessons"] == {"proposed": 0, "approved": 0, "rejected": 0}
    assert (stats["runs"], stats["skills"], stats["skill_versions"]) == (0, 0, 0)
    code, out = run("import", str(TAU_BENCH), "--db", db, "--json")
    assert json.loads(out)["imported"] == 0


def test_trajectories_filters_and_show(tmp_path):
    db = str(tmp_path / "cli.db")
    run("import", str(TAU_BENCH), "--db", db)
    code, out = run("trajectories", "--outcome", "success", "--limit", "5", "--json", "--db", db)
    listing = json.loads(out)
    assert listing["total"] == 84 and len(listing["trajectories"]) == 5
    assert {r["outcome"] for r in listing["trajectories"]} == {"success"}
    code, out = run("trajectories", "--signal", "tool_error", "--json", "--db", db)
    assert 0 < json.loads(out)["total"] < 200
    tid = listing["trajectories"][0]["id"]
    code, out = run("show", tid[:10], "--db", db)
    assert code == 0
    assert f"trajectory {tid}" in out and "outcome: success" in out and "[0] system" in out
    code, out = run("show", tid, "--json", "--db", db)
    assert json.loads(out)["steps"][0]["role"] == "system"


def test_errors_are_one_line_with_nonzero_exit(tmp_path):
    db = str(tmp_path / "cli.db")
    bad = tmp_path / "broken.json"
    bad.write_text('{"messages": [')
    result = CliRunner().invoke(main, ["import", str(bad), "--db", db])
    assert result.exit_code == 1
    assert f"error: {bad}: invalid JSON" in result.output
    result = CliRunner().invoke(main, ["show", "nope", "--db", db])
    assert result.exit_code == 2 and "error: no trajectory with id 'nope'" in result.output
    result = CliRunner().invoke(main, ["import", str(bad), "--format", "klingon", "--db", db])
    assert result.exit_code == 2 and "unknown format 'klingon'" in result.output


def test_console_entry_point_runs_as_a_process(tmp_path):
    db = tmp_path / "proc.db"
    out = subprocess.run([sys.executable, "-m", "trace2skill", "demo", "--json", "--db", str(db)],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["imported"] == 200
    out = subprocess.run([sys.executable, "-m", "trace2skill", "stats", "--json", "--db", str(db)],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["trajectories"] == 200


def test_lessons_list_approve_reject(tmp_path):
    from trace2skill.models import Lesson
    from trace2skill.store import Workspace
    from trace2skill.store.lessons import insert_lessons

    db = str(tmp_path / "cli.db")
    run("import", str(TAU_BENCH), "--db", db)
    ws = Workspace(db)
    tid = ws.db.execute("SELECT id FROM trajectories LIMIT 1").fetchone()[0]
    insert_lessons(ws.db, [Lesson(id=f"lesson{k}", trajectory_id=tid, kind="failure_lesson", title=f"Lesson {k}",
                                  content="Confirm the cabin class before booking.") for k in range(4)])
    code, out = run("lessons", "--status", "proposed", "--json", "--db", db)
    assert json.loads(out)["total"] == 4
    code, out = run("lessons", "approve", "lesson0", "lesson1", "--json", "--db", db)
    assert json.loads(out) == {"status": "approved", "changed": 2, "selected": 2, "held_back": [],
                               "workspace": str((tmp_path / "cli.db").resolve())}
    code, out = run("lessons", "reject", "--all", "--only", "proposed", "--db", db)
    assert "2 lessons rejected" in out and f"workspace: {(tmp_path / 'cli.db').resolve()}" in out
    code, out = run("stats", "--json", "--db", db)
    assert json.loads(out)["lessons"] == {"proposed": 0, "approved": 2, "rejected": 2}
    assert ws.db.execute("SELECT count(*) FROM decisions WHERE subject_type = 'lesson'").fetchone()[0] == 4
    code, out = run("lessons", "--search", "cabin", "--db", db)
    assert out.count("Lesson ") == 4
