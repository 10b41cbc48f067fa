"""Skills from the command line: `skills import|list|lock`, and `diff`, `export`, `blame`."""

from __future__ import annotations

from pathlib import Path

import click

from trace2skill.cli.common import (
    cli_reviewer,
    db_option,
    echo_workspace,
    json_option,
    main,
    open_workspace,
    print_json,
)


@main.group()
@db_option
def skills() -> None:
    """Skills library: import, list versions, lock sections."""


@skills.command("import")
@click.argument("source", type=click.Path(exists=True))
@click.option("--name", default=None, help="Skill name (required for a plain markdown document); written into "
              "SKILL.md's frontmatter.")
@click.option("--description", default=None, help="Description (required for a plain markdown document); written "
              "into SKILL.md's frontmatter.")
@json_option
@db_option
def import_cmd(source: str, name: str | None, description: str | None, as_json: bool) -> None:
    """Import a skill folder, a .zip, or a plain markdown document (with --name and --description).

    Lenient: what breaks the spec or our conventions is reported as warnings; the skill is stored."""
    from trace2skill.errors import SkillFormatError
    from trace2skill.skill import SkillFolder, load_skill
    from trace2skill.skill.conventions import import_findings
    from trace2skill.skill.validate import describe
    from trace2skill.skill_git import git_base, record_git_base
    from trace2skill.store.skills import import_skill

    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".md" and path.name.lower() != "skill.md":
        if not (name and description):
            raise SkillFormatError(f"{path} is a plain document: give --name and --description")
        folder = SkillFolder.from_markdown(name, description, path.read_text(encoding="utf-8"))
    else:
        folder = load_skill(path, name=name).with_identity(name, description)
    warnings = list(dict.fromkeys(describe(f) for f in import_findings(folder)))
    base = git_base(path)
    ws = open_workspace()
    version = import_skill(ws.db, folder, message=f"imported from {path.name}" + (f" at {base.words()}" if base
                                                                                  else ""))
    if base:
        record_git_base(ws.db, version, base, actor=cli_reviewer())
    if as_json:
        print_json({"skill": folder.name, "version": version, "warnings": warnings,
                    "git_commit": base.commit if base else None}, ws=ws)
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if base:
        click.echo(f"base: {base.words()}", err=True)
    click.echo(version)
    echo_workspace(ws)


@skills.command("list")
@click.argument("name", required=False)
@json_option
@db_option
def list_cmd(name: str | None, as_json: bool) -> None:
    """List skills, or the versions of one skill (newest first)."""
    from trace2skill.errors import NotFoundError
    from trace2skill.skill_git import base_commit
    from trace2skill.store.skills import list_skills, list_versions

    db = open_workspace().db
    if not name:
        rows = list_skills(db)
        if as_json:
            print_json(rows)
        else:
            for r in rows:
                click.echo(f"{r['name']:<32}  {r['n_versions']:>3} versions  latest={r['latest']}")
        return
    versions = list_versions(db, name)
    if not versions:
        raise NotFoundError(f"no skill named {name!r} (list them with `trace2skill skills list`)")
    bases = {v.id: base_commit(db, v.id) for v in versions}
    if as_json:
        print_json([{**v.model_dump(exclude={"files"}), "git_base": bases[v.id]} for v in versions])
    else:
        for v in versions:
            base = bases[v.id]
            shown = f"  (git base {base[:12]})" if base and base not in v.message else ""
            click.echo(f"{v.id}  {v.source:<8}  parent={v.parent or '-':<16}  {v.created}  {v.message}{shown}")


@main.command("diff")
@click.argument("old")
@click.argument("new")
@db_option
def diff_cmd(old: str, new: str) -> None:
    """Unified diff between two skill versions."""
    from trace2skill.store.skills import diff_versions

    for fd in diff_versions(open_workspace().db, old, new):
        click.echo(fd.unified(), nl=False)


@main.command("export")
@click.argument("version")
@click.option("--out", "dest", default=None, type=click.Path(),
              help="A folder (the skill is written to OUT/<name>/) or a FILE.zip.")
@click.option("--git", "git_folder", default=None, type=click.Path(file_okay=False),
              help="A folder inside a git repository: the version is committed there as FOLDER/<name>/ "
              "(author: who saved it; committer: --reviewer).")
@click.option("--branch", default=None, help="With --git: commit on this branch (switched to; created from the "
              "current commit when new).")
@click.option("--path", "subdir", default=None, help="With --git: the skill's folder under FOLDER (default: the "
              "skill's name).")
@click.option("--force", is_flag=True, help="Export even when the Agent Skills spec check finds errors.")
@db_option
def export_cmd(version: str, dest: str | None, git_folder: str | None, branch: str | None, subdir: str | None,
               force: bool) -> None:
    """Export a skill version as a folder or a .zip that passes the Agent Skills validator
    (`agentskills validate`), or as a commit in a git repository (--git). Executable files stay
    executable."""
    if (dest is None) == (git_folder is None):
        raise click.UsageError("give either --out (a folder or a .zip) or --git (a folder in a git repository)")
    if git_folder is None and (branch or subdir):
        raise click.UsageError("--branch and --path go with --git")
    from trace2skill.errors import SkillFormatError
    from trace2skill.skill import export_dir, to_zip, validate_skill
    from trace2skill.store.skills import folder_of, get_version

    ws = open_workspace()
    stored = get_version(ws.db, version)
    folder = folder_of(stored)
    errors = [f for f in validate_skill(folder, dirname=folder.name) if f.severity == "error"]
    for f in errors:
        click.echo(f"error: {f.file}{f':{f.line}' if f.line else ''}: {f.message}", err=True)
    if errors and not force:
        raise SkillFormatError(f"{len(errors)} spec errors; fix them or pass --force")
    if git_folder is not None:
        from trace2skill.skill_git import export_to_git

        done = export_to_git(ws.db, stored.id, git_folder, committer=cli_reviewer(), branch=branch, subdir=subdir)
        where = f"{done.repository / done.path}" + (f" on branch {done.branch}" if done.branch else "")
        if done.commit is None:
            click.echo(f"nothing to commit: {where} already holds version {stored.id[:12]}", err=True)
        else:
            click.echo(done.commit)
            click.echo(f"committed version {stored.id[:12]} to {where}", err=True)
            echo_workspace(ws)
    elif dest is not None and dest.lower().endswith(".zip"):
        to_zip(folder, dest)
        click.echo(dest)
    elif dest is not None:
        click.echo(str(export_dir(folder, dest)))


@skills.command("lock")
@click.argument("name")
@click.argument("sections", nargs=-1)
@db_option
def lock_cmd(name: str, sections: tuple[str, ...]) -> None:
    """Set the locked sections of a skill (titles or 'A > B' paths; none clears the locks)."""
    from trace2skill.store.skills import set_locked_sections

    ws = open_workspace()
    for title in set_locked_sections(ws.db, name, sections, actor=cli_reviewer()):
        click.echo(title)
    echo_workspace(ws)


@main.command()
@click.argument("version")
@click.argument("file")
@click.argument("line", type=click.IntRange(1))
@json_option
@db_option
def blame(version: str, file: str, line: int, as_json: bool) -> None:
    """Where LINE (1-based) of FILE in a skill version comes from: who reworded it, and the edit, merge
    path, lessons and steps behind the words it replaced."""
    from trace2skill.provenance import blame as blame_line
    from trace2skill.store.skills import get_version

    db = open_workspace().db
    found = blame_line(db, get_version(db, version).id, file, line)
    if as_json:
        print_json(found)
        return
    origin = found["origin"]
    click.echo(f"{file}:{line}: {found['text']}")
    for r in found["rewords"]:
        click.echo(f"reworded by {r['by']} in version {r['version'][:12]}: it replaced line {r['replaced_line'] + 1} "
                   f"of version {r['replaced_version'][:12]}: {r['replaced']!r}")
    if origin["kind"] != "edit":
        click.echo(f"origin: {origin['kind']} text of version {origin['version']}")
        return
    click.echo(f"origin: edit {origin['edit_id']} of consolidation run {origin['run_id']}")
    for e in found["merge_path"]:
        click.echo(f"  level {e['level']}: {e['op']} {e['section'] or ''} - {e['content'][:80]!r}")
    for lesson in found["lessons"]:
        click.echo(f"lesson {lesson['id'][:12]} ({lesson['kind']}, {lesson['status']}): {lesson['title']}")
    for step in found["steps"]:
        mark = "" if step["grounded"] else " (ungrounded)"
        click.echo(f"  trajectory {step['trajectory_id'][:12]} step {step['step_idx']}{mark}: {step['quote'][:100]!r}")
