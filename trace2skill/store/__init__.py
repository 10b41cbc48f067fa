"""SQLite workspace (sqlite-utils): connection handling, migrations, one module per aggregate.

The names below load on first use, so a process that only builds rows (`rows`, in an import's
worker) does not load sqlite-utils."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trace2skill.store.workspace import Workspace, default_db_path, write_transaction

__all__ = ["Workspace", "default_db_path", "write_transaction"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from trace2skill.store import workspace

        return getattr(workspace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
