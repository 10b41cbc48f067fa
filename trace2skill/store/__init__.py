"""SQLite workspace (sqlite-utils): connection handling, migrations, one module per aggregate."""

from trace2skill.store.workspace import Workspace, default_db_path, write_transaction

__all__ = ["Workspace", "default_db_path", "write_transaction"]
