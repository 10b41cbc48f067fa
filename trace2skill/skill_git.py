"""Skills in git: a saved version exported into a git repository folder as one commit (see
`trace2skill.skill_commit` for what it says), and the commit a skill imported from a git folder
last changed in, kept as the imported version's base.

It runs the `git` command itself (``git -C FOLDER …``), so the repository's own settings, hooks and
signing apply as they do for the team's other commits. An export writes the skill into a folder of
its own (``FOLDER/<skill name>/`` unless told otherwise), replaces what that folder held (a file the
version no longer has is deleted in the commit) and commits only that folder; it refuses a folder
that is not in a repository, a repository with uncommitted changes, and a folder that holds other
things than a skill. Both directions are recorded as decisions on the version (``export_to_git``,
``import_from_git``) with the commit id.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from trace2skill.errors import GitFolderError, SkillPathError
from trace2skill.skill.archive import write_dir
from trace2skill.skill.folder import SKILL_MD
from trace2skill.skill.paths import safe_relpath
from trace2skill.skill_commit import commit_text, git_identity
from trace2skill.store.decisions import list_decisions, record_decision
from trace2skill.store.skills import folder_of, get_version
from trace2skill.store.version_states import version_states

GIT_TIMEOUT_S = 120
_UNSET = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL",
          "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")  # from a calling hook or shell: they would mislead -C
EXPORTED, IMPORTED = "export_to_git", "import_from_git"


def _git(folder: Path, *args: str, env: dict[str, str] | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise GitFolderError("git is not installed on this machine; install it to use git folders")
    clean = {k: v for k, v in os.environ.items() if k not in _UNSET}
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False,
                              input=stdin, timeout=GIT_TIMEOUT_S, env={**clean, **(env or {})})
    except subprocess.TimeoutExpired as exc:
        raise GitFolderError(f"git {args[0]} did not finish in {GIT_TIMEOUT_S} s in {folder}") from exc


def _ok(folder: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run git; its output, or GitFolderError with git's own last line of complaint."""
    done = _git(folder, *args, env=env, stdin=stdin)
    if done.returncode != 0:
        said = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = said[-1] if said else f"exit status {done.returncode}"
        raise GitFolderError(f"git {args[0]} failed in {folder}: {reason.removeprefix('fatal: ')}")
    return done.stdout


def repository_root(folder: str | os.PathLike[str]) -> Path:
    """The top folder of the git work tree that holds `folder`; GitFolderError when there is none."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise GitFolderError(f"{path} is not a folder; give a folder inside a git repository")
    done = _git(path, "rev-parse", "--show-toplevel")
    if done.returncode != 0 or not done.stdout.strip():
        raise GitFolderError(f"{path} is not inside a git repository; run `git init` there or pick a clone")
    return Path(done.stdout.strip()).resolve()


def _head(root: Path) -> str | None:
    done = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _check_clean(root: Path, rel: str | None) -> None:
    """No uncommitted change to tracked files (rel None), or no file at all git does not track in `rel`."""
    if rel is None:
        if _ok(root, "status", "--porcelain", "--untracked-files=no").strip():
            raise GitFolderError(f"{root} has uncommitted changes; commit or stash them before exporting a "
                                 "skill there")
    elif _ok(root, "status", "--porcelain", "--untracked-files=all", "--", rel).strip():
        raise GitFolderError(f"{root / rel} holds files git does not track; commit or remove them first")


def _switch_branch(root: Path, branch: str) -> None:
    if _git(root, "check-ref-format", "--branch", branch).returncode != 0:
        raise GitFolderError(f"{branch!r} is not a valid git branch name")
    current = _git(root, "symbolic-ref", "--short", "-q", "HEAD").stdout.strip()
    if current == branch:
        return
    exists = _git(root, "rev-parse", "--verify", "-q", f"refs/heads/{branch}").returncode == 0
    _ok(root, "checkout", "-q", *(() if exists else ("-b",)), branch)


def _target(folder: Path, root: Path, subdir: str) -> tuple[Path, str]:
    """The skill's folder and its path relative to the repository (refused: outside it, .git, the
    repository's top, or a folder that holds other things than a skill)."""
    try:
        dest = (folder.resolve() / safe_relpath(subdir)).resolve()
    except SkillPathError as exc:
        raise GitFolderError(f"{subdir!r} cannot be the skill's folder: {exc}") from exc
    if not dest.is_relative_to(root) or dest == root:
        raise GitFolderError(f"the skill needs a folder of its own inside {root}; {subdir!r} is not one")
    rel = dest.relative_to(root).as_posix()
    if rel.split("/")[0] == ".git":
        raise GitFolderError("the skill cannot be written inside .git")
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not (dest / SKILL_MD).is_file())):
        raise GitFolderError(f"{dest} exists and is not a skill folder (no {SKILL_MD}); choose another --path")
    return dest, rel


@dataclass(frozen=True)
class GitExport:
    """An export: the commit made (None when the folder already held this version), the repository,
    the skill's folder in it, the branch and the commit message."""

    commit: str | None
    repository: Path
    path: str
    branch: str | None
    message: str


def export_to_git(db: Database, version_id: str, folder: str | os.PathLike[str], *, committer: str,
                  branch: str | None = None, subdir: str | None = None) -> GitExport:
    """Commit a saved (or imported) version into `folder` (inside a git work tree) as
    ``folder/<subdir or skill name>/``: author = who saved it, committer = `committer`."""
    version = get_version(db, version_id)
    state = next((s for s in version_states(db, version.skill) if s.id == version.id), None)
    if state is None or state.state == "draft":
        raise GitFolderError(f"version {version.id[:12]} is a proposal nobody has saved; save it (Review & diff) "
                             "before exporting it to git")
    root = repository_root(folder)
    _check_clean(root, None)
    if branch:
        _switch_branch(root, branch)
    dest, rel = _target(Path(folder).expanduser(), root, subdir or version.skill)
    _check_clean(root, rel)
    text = commit_text(db, version)
    on_branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD").stdout.strip() or None
    try:
        _ok(root, "rm", "-r", "-q", "--ignore-unmatch", "--", rel)
        write_dir(folder_of(version), dest, overwrite=True)
        _ok(root, "add", "-A", "--", rel)
        if _git(root, "diff", "--cached", "--quiet").returncode == 0 and _head(root):
            return GitExport(None, root, rel, on_branch, text.message)
        author, by = git_identity(text.author or committer), git_identity(committer)
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
               "GIT_COMMITTER_NAME": by[0], "GIT_COMMITTER_EMAIL": by[1]}
        _ok(root, "commit", "-q", "--cleanup=verbatim", "-F", "-", env=env, stdin=text.message)
    except GitFolderError as exc:
        raise GitFolderError(f"{exc} (the skill's files are left, staged, in {rel})") from exc
    commit = _head(root) or ""
    record_decision(db, "skill_version", version.id, EXPORTED, actor=committer,
                    detail={"skill": version.skill, "commit": commit, "repository": str(root), "path": rel,
                            "branch": on_branch})
    return GitExport(commit, root, rel, on_branch, text.message)


# --------------------------------------------------------------------------- import: the base commit


@dataclass(frozen=True)
class GitBase:
    """The last commit that changed a skill folder, and whether the folder has changes since."""

    commit: str
    repository: Path
    path: str  # the folder, relative to the repository
    changed: bool

    def words(self) -> str:
        return f"git commit {self.commit}" + (" with uncommitted changes" if self.changed else "")


def git_base(source: str | os.PathLike[str]) -> GitBase | None:
    """The last commit that touched the skill folder `source` (or the folder of a SKILL.md); None
    when it is not in a git work tree, no commit touched it yet, or git is not installed."""
    path = Path(source).expanduser()
    path = path.parent if path.is_file() and path.name.lower() == "skill.md" else path
    if not path.is_dir() or shutil.which("git") is None:
        return None
    top = _git(path, "rev-parse", "--show-toplevel")
    log = _git(path, "log", "-1", "--format=%H", "--", ".") if top.returncode == 0 else top
    commit = log.stdout.strip() if log.returncode == 0 else ""
    if not commit:
        return None
    root = Path(top.stdout.strip()).resolve()
    changed = bool(_git(path, "status", "--porcelain", "--untracked-files=all", "--", ".").stdout.strip())
    rel = path.resolve().relative_to(root).as_posix() if path.resolve().is_relative_to(root) else "."
    return GitBase(commit, root, rel, changed)


def record_git_base(db: Database, version_id: str, base: GitBase, *, actor: str) -> None:
    """Keep `base` as the commit the version was imported from (also when the import found the
    version already stored)."""
    record_decision(db, "skill_version", version_id, IMPORTED, actor=actor,
                    detail={"commit": base.commit, "repository": str(base.repository), "path": base.path,
                            "changed": base.changed})


def git_commits(db: Database, version_id: str) -> list[dict[str, str | None]]:
    """The commits the version was exported to or imported from, newest first: action ("export" or
    "import"), commit, repository, path, who and when."""
    return [{"action": "export" if d.action == EXPORTED else "import", "commit": d.detail.get("commit"),
             "repository": d.detail.get("repository"), "path": d.detail.get("path"), "by": d.actor,
             "at": d.created} for d in list_decisions(db, "skill_version", version_id, limit=10_000)
            if d.action in (EXPORTED, IMPORTED)]


def base_commit(db: Database, version_id: str) -> str | None:
    """The commit the version was last imported from (None: not imported from a git folder)."""
    return next((c["commit"] for c in git_commits(db, version_id) if c["action"] == "import"), None)
