"""Skills in git, with the real `git` in temporary repositories: a saved version exported from the
command line lands as one commit whose message carries the save's message, a provenance summary and
the approvers (author = who saved it, committer = the exporting reviewer); another version is a
second commit (a file it no longer has is deleted); a dirty tree, a folder outside a repository, a
draft and a folder that is not a skill are refused in one line; `skills import` from a git folder
keeps the last commit as the version's base; the Skills screen's "Export to a git folder"."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from streamlit.testing.v1 import AppTest

from tests.helpers import REPO, seed_consolidation_file
from trace2skill.cli import main
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.skill_git import base_commit, git_commits
from trace2skill.store import Workspace
from trace2skill.store.decisions import record_decision
from trace2skill.store.skills import get_version, latest_version, save_version
from trace2skill.store.version_states import mark_saved

TEST_ENV = {"GIT_AUTHOR_NAME": "Test Setup", "GIT_AUTHOR_EMAIL": "setup@example.invalid",
            "GIT_COMMITTER_NAME": "Test Setup", "GIT_COMMITTER_EMAIL": "setup@example.invalid"}


@pytest.fixture(autouse=True)
def _no_user_git_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git reads neither the machine's nor the user's settings (no signing, hooks or names from there)."""
    empty = tmp_path_factory.mktemp("gitconfig") / "config"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(repo: Path, *args: str) -> str:
    import os

    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **TEST_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A consolidated demo workspace (file, base version, proposal), made once."""
    return seed_consolidation_file(tmp_path_factory.mktemp("seed"))


@pytest.fixture
def saved(seeded: tuple[Path, str, str], tmp_path: Path) -> tuple[str, str, str]:
    """A copy of it where Alice Martin saved the proposal and Bob Chen approved it: (db, base, proposal)."""
    src, base, proposal = seeded
    db = tmp_path / "ws.db"
    with sqlite3.connect(src) as a, sqlite3.connect(db) as b:
        a.backup(b)
    a.close()
    b.close()
    ws = Workspace(db)
    mark_saved(ws.db, proposal, actor="Alice Martin", detail={"message": "Deepen the cancellation rules"})
    record_decision(ws.db, "skill_version", proposal, "approve", actor="Bob Chen")
    ws.close()
    return str(db), base, proposal


def test_an_exported_version_is_a_commit_with_its_message_provenance_and_approvers(saved, tmp_path):
    db, _base, proposal = saved
    repo = new_repo(tmp_path / "team-skills")
    commit = ok("export", proposal, "--git", str(repo), "--reviewer", "Carol Diaz", "--db", db).strip()

    assert git(repo, "rev-parse", "HEAD").strip() == commit
    message = git(repo, "log", "--format=%B")
    assert message.startswith("Deepen the cancellation rules\n\n")
    assert f"Skill airline-policy, version {proposal}" in message
    provenance = next(line for line in message.splitlines() if line.startswith("Provenance: "))
    assert "come from 6 lessons of 6 trajectories (consolidation run con-" in provenance, provenance
    assert "Saved by Alice Martin" in message and "Approved by Alice Martin, Bob Chen." in message
    assert "Approved-by: Alice Martin\nApproved-by: Bob Chen\n" in message
    trailers = git(repo, "log", "-1", "--format=%(trailers:key=Trace2Skill-Version,valueonly)").strip()
    assert trailers == proposal
    who = git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert who == "Alice Martin <alice-martin@trace2skill.invalid>|Carol Diaz <carol-diaz@trace2skill.invalid>"

    ws = Workspace(db)
    version = get_version(ws.db, proposal)
    assert (repo / "airline-policy" / "SKILL.md").read_text() == version.files["SKILL.md"]
    assert git(repo, "ls-files").split() == ["airline-policy/SKILL.md"]
    assert git_commits(ws.db, proposal)[0] | {"at": None} == {
        "action": "export", "commit": commit, "repository": str(repo.resolve()), "path": "airline-policy",
        "by": "Carol Diaz", "at": None}
    ws.close()


def test_another_version_is_a_second_commit_and_files_it_dropped_are_deleted(saved, tmp_path):
    db, base, proposal = saved
    repo = new_repo(tmp_path / "repo")
    ws = Workspace(db)
    files = get_version(ws.db, proposal).files
    notes = save_version(ws.db, DEMO_SKILL, {**files, "references/notes.md": "# Notes\n\nAsk twice.\n"},
                         source="manual", parent=proposal, message="Add notes", actor="Dana")
    ws.close()

    first = ok("export", base, "--git", str(repo), "--db", db).strip()  # the imported policy: nobody saved it
    assert "Imported on" in git(repo, "log", "-1", "--format=%B")
    ok("export", notes, "--git", str(repo), "--reviewer", "Carol", "--db", db)
    assert sorted(git(repo, "ls-files").split()) == ["airline-policy/SKILL.md", "airline-policy/references/notes.md"]
    third = ok("export", proposal, "--git", str(repo), "--reviewer", "Carol", "--db", db).strip()
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "3"
    assert git(repo, "log", "--format=%s").splitlines() == ["Deepen the cancellation rules", "Add notes",
                                                              "the tau-bench airline policy (wiki.md)"]
    assert git(repo, "show", "--name-status", "--format=", third).split() == [
        "D", "airline-policy/references/notes.md"]
    assert git(repo, "log", "--format=%H").split()[-1] == first

    again = run("export", proposal, "--git", str(repo), "--reviewer", "Carol", "--db", db)
    assert again.exit_code == 0 and again.stdout == "" and "nothing to commit" in again.stderr
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "3"


def test_a_branch_and_a_path_of_its_own(saved, tmp_path):
    db, _base, proposal = saved
    repo = new_repo(tmp_path / "repo")
    (repo / "README.md").write_text("Team skills.\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "start")
    main_branch = git(repo, "symbolic-ref", "--short", "HEAD").strip()
    ok("export", proposal, "--git", str(repo), "--branch", "skills/airline", "--path", "skills/airline",
       "--reviewer", "Carol", "--db", db)
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "skills/airline"
    assert git(repo, "ls-files").split() == ["README.md", "skills/airline/SKILL.md"]
    assert git(repo, "rev-list", "--count", main_branch).strip() == "1"


def _error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_dirty_tree_a_plain_folder_a_draft_and_a_foreign_folder_are_refused(saved, tmp_path):
    db, _base, proposal = saved
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "is not inside a git repository" in _error(run("export", proposal, "--git", str(plain), "--db", db))

    repo = new_repo(tmp_path / "repo")
    ok("export", proposal, "--git", str(repo), "--db", db)
    head = git(repo, "rev-parse", "HEAD")
    (repo / "airline-policy" / "SKILL.md").write_text("changed by hand\n")
    assert "has uncommitted changes" in _error(run("export", proposal, "--git", str(repo), "--db", db))
    git(repo, "checkout", "-q", "--", ".")
    (repo / "airline-policy" / "draft.md").write_text("not committed\n")
    assert "holds files git does not track" in _error(run("export", proposal, "--git", str(repo), "--db", db))
    (repo / "airline-policy" / "draft.md").unlink()
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("guide\n")
    git(repo, "add", "docs")
    git(repo, "commit", "-q", "-m", "docs")
    assert "is not a skill folder" in _error(run("export", proposal, "--git", str(repo), "--path", "docs",
                                                  "--db", db))
    assert "not a valid git branch name" in _error(run("export", proposal, "--git", str(repo), "--branch",
                                                        "bad..name", "--db", db))
    assert git(repo, "rev-parse", "HEAD~1") == head

    ws = Workspace(db)
    draft = save_version(ws.db, DEMO_SKILL, {"SKILL.md": get_version(ws.db, proposal).files["SKILL.md"] + "\nMore.\n"},
                         source="proposal", parent=proposal, run_id=None, message="a draft")
    ws.close()
    assert "nobody has saved" in _error(run("export", draft, "--git", str(repo), "--db", db))
    usage = run("export", proposal, "--db", db)
    assert usage.exit_code == 2 and "give either --out" in usage.stderr


def test_importing_from_a_git_folder_keeps_its_last_commit(saved, tmp_path):
    db, _base, proposal = saved
    repo = new_repo(tmp_path / "repo")
    ok("export", proposal, "--git", str(repo), "--db", db)
    skill_md = repo / "airline-policy" / "SKILL.md"
    skill_md.write_text(skill_md.read_text() + "\n## Pets\n\nSmall pets travel in the cabin.\n")
    git(repo, "commit", "-q", "-am", "pets, by hand in the repository")
    (repo / "elsewhere.md").write_text("later\n")
    git(repo, "add", "elsewhere.md")
    git(repo, "commit", "-q", "-m", "a later commit that does not touch the skill")
    pets = git(repo, "rev-parse", "HEAD~1").strip()

    result = run("skills", "import", str(repo / "airline-policy"), "--reviewer", "Erin", "--db", db)
    assert result.exit_code == 0, result.output
    version = result.stdout.strip()
    assert f"base: git commit {pets}" in result.stderr
    ws = Workspace(db)
    assert base_commit(ws.db, version) == pets
    assert get_version(ws.db, version).message == f"imported from airline-policy at git commit {pets}"
    assert latest_version(ws.db, DEMO_SKILL).id == version
    ws.close()
    listed = ok("skills", "list", DEMO_SKILL, "--db", db)
    assert f"git commit {pets}" in listed.splitlines()[0]

    # the same files again, from another clone: no new version, the base is still recorded
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    again = json.loads(ok("skills", "import", str(clone / "airline-policy" / "SKILL.md"), "--json", "--db", db))
    assert again["version"] == version and again["git_commit"] == pets
    ws = Workspace(db)
    assert [c["repository"] for c in git_commits(ws.db, version)] == [str(clone.resolve()), str(repo.resolve())]
    ws.close()


def test_the_skills_screen_exports_to_a_git_folder(tmp_path):
    ws = Workspace()  # the app's workspace ($TRACE2SKILL_DB)
    load_demo(ws)
    version = latest_version(ws.db, DEMO_SKILL).id
    ws.close()
    repo = new_repo(tmp_path / "repo")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/skills.py")
    at.run()
    assert at.button(key="sk_git_export").disabled
    at.text_input(key="sk_git_folder").set_value(str(tmp_path / "nowhere")).run()
    at.button(key="sk_git_export").click().run()
    assert not at.exception
    assert at.error[0].value == "Export to git refused" and "is not a folder" in at.code[-1].value
    at.text_input(key="sk_git_folder").set_value(str(repo)).run()
    at.button(key="sk_git_export").click().run()
    assert not at.exception
    commit = git(repo, "rev-parse", "HEAD").strip()
    assert any(f"Committed version {version[:12]}" in s.value and commit[:12] in s.value for s in at.success)
    assert git(repo, "ls-files").split() == ["airline-policy/SKILL.md"]
