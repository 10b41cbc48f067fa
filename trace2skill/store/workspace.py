"""The SQLite workspace: where it lives, how connections are made, migrations run once.

Each thread gets its own connection (Streamlit runs each browser session on its own thread and
background workers have theirs); SQLite in WAL mode with a generous busy timeout serialises the
writers. Migrations and WAL are set up once per database file per process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from trace2skill.errors import WorkspaceError
from trace2skill.store.migrations import MIGRATIONS

BUSY_TIMEOUT_S = 30.0

_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def home_dir() -> Path:
    """Per-user data folder: $TRACE2SKILL_HOME, else $XDG_DATA_HOME/trace2skill, else ~/.local/share."""
    if os.environ.get("TRACE2SKILL_HOME"):
        return Path(os.environ["TRACE2SKILL_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "trace2skill"


def default_db_path() -> Path:
    if os.environ.get("TRACE2SKILL_DB"):
        return Path(os.environ["TRACE2SKILL_DB"]).expanduser()
    return home_dir() / "workspace.db"


def _connect(path: Path) -> Database:
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=True)
        db = Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(
            f"{path} is not a usable Trace2Skill workspace ({exc}); point TRACE2SKILL_DB or --db at another file"
        ) from exc
    return db


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

    A deferred BEGIN that reads and then writes cannot wait for another writer: SQLite answers
    "database is locked" at once. Taking the lock first lets the busy timeout queue writers.
    Nested use joins the outer transaction through a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    else:
        try:
            db.conn.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise


class Workspace:
    """A handle on one workspace database file. Cheap to create; safe to share across threads."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path).expanduser() if path else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create folder for workspace {self.path}: {exc}") from exc
        self._local = threading.local()
        self._migrate()

    def _migrate(self) -> None:
        key = str(self.path.resolve())
        with _migrate_lock:
            if key in _migrated and self.path.exists():
                return
            db = _connect(self.path)
            try:
                try:
                    db.enable_wal()
                    MIGRATIONS.apply(db)
                except sqlite3.DatabaseError as exc:
                    raise WorkspaceError(
                        f"{self.path} is not a usable Trace2Skill workspace ({exc}); "
                        "point TRACE2SKILL_DB or --db at another file"
                    ) from exc
            finally:
                db.close()
            _migrated.add(key)

    def connect(self) -> Database:
        """A new connection of its own, for a worker thread; the caller closes it."""
        return _connect(self.path)

    @property
    def db(self) -> Database:
        """This thread's connection (created on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self.path)
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"
