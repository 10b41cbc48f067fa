"""The skill commands as a user runs them, over HTTP against the loopback server: skills import,
extract, approve, consolidate, diff, export (validated by skills-ref), blame."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from click.testing import CliRunner
from conftest import REPO, TAU_BENCH
from test_consolidation import WIKI, proposer_and_merger

from trace2skill.cli import main
from trace2skill.llm.fake_server import FakeLLMServer

OUTPUTS = {"error_analysis": "ErrorAnalysis", "success_analysis": "SuccessAnalysis", "patch_proposal": "ProposalOut",
           "merge": "MergeOut"}


def responder(request):
    output = type(OUTPUTS[request["response_format"]["json_schema"]["name"]], (), {})
    return proposer_and_merger(request["messages"], output)


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def skills_ref_validate(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skills_ref.cli", "validate", str(path)], capture_output=True, text=True)


def test_deepen_flow_from_the_command_line(tmp_path):
    db = str(tmp_path / "flow.db")
    cli("import", str(TAU_BENCH), "--db", db)
    out = json.loads(cli("skills", "import", str(WIKI), "--name", "airline-policy", "--description",
                         "Policy an airline customer-service agent must follow.", "--json", "--db", db))
    base = out["version"]
    mcp = json.loads(cli("skills", "import", str(REPO / "data/anthropics-skills/skills/mcp-builder"), "--json",
                         "--db", db))
    assert mcp["skill"] == "mcp-builder" and any("reference/" in w for w in mcp["warnings"])
    with FakeLLMServer(responder) as srv:
        llm = ["--base-url", srv.base_url, "--model", "fake"]
        cli("extract", "--sample", "8", "--seed", "4", *llm, "--db", db)
        cli("lessons", "approve", "--all", "--db", db)
        result = json.loads(cli("consolidate", "--base-skill", "airline-policy", "--batch-size", "3",
                                "--no-embeddings", *llm, "--json", "--db", db))
    assert {"run", "version", "levels", "merge_calls"} <= set(result) and result["levels"] == 2
    stats = json.loads(cli("stats", "--json", "--db", db))
    assert stats["skills"] == 2 and stats["skill_versions"] == 3

    diff = cli("diff", base, result["version"], "--db", db)
    added = [line for line in diff.splitlines() if line.startswith("+- Lesson learnt:")]
    assert added, diff
    proposed = json.loads(cli("skills", "list", "airline-policy", "--json", "--db", db))
    assert [v["source"] for v in proposed] == ["proposal", "import"]

    folder = tmp_path / "export"
    cli("export", result["version"], "--out", str(folder), "--db", db)
    check = skills_ref_validate(folder / "airline-policy")
    assert check.returncode == 0, check.stdout + check.stderr
    archive = tmp_path / "airline-policy.zip"
    cli("export", result["version"], "--out", str(archive), "--db", db)
    assert "airline-policy/SKILL.md" in zipfile.ZipFile(archive).namelist()

    line = next(i for i, text in enumerate((folder / "airline-policy" / "SKILL.md").read_text().splitlines(), 1)
                if text.startswith("- Lesson learnt:"))
    found = json.loads(cli("blame", result["version"], "SKILL.md", str(line), "--json", "--db", db))
    assert found["origin"]["kind"] == "edit" and found["lessons"] and found["steps"]
    text = cli("blame", result["version"], "SKILL.md", str(line), "--db", db)
    assert "origin: edit" in text and "lesson " in text and "trajectory " in text


def test_create_a_new_skill_from_the_command_line(tmp_path):
    db = str(tmp_path / "new.db")
    cli("import", str(TAU_BENCH), "--db", db)
    with FakeLLMServer(responder) as srv:
        llm = ["--base-url", srv.base_url, "--model", "fake"]
        cli("extract", "--outcome", "failure", "--limit", "4", *llm, "--db", db)
        cli("lessons", "approve", "--all", "--db", db)
        result = json.loads(cli("consolidate", "--new-skill", "airline-lessons", "--description",
                                "Lessons for airline support agents, learnt from past runs.", *llm, "--json",
                                "--db", db))
    cli("export", result["version"], "--out", str(tmp_path), "--db", db)
    check = skills_ref_validate(tmp_path / "airline-lessons")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Lesson learnt:" in (tmp_path / "airline-lessons" / "SKILL.md").read_text()
