"""Layering: only `trace2skill/store/` speaks SQL, and only `trace2skill/ui/` imports streamlit.

Scans the source text of every .py file of the library, the screens (views/) and app.py; nothing is
exempt outside `trace2skill/store/`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "trace2skill" / "store"
UI = ROOT / "trace2skill" / "ui"

# SQL as this code base writes it (upper-case keywords), DB-API calls, and the sqlite3 module.
SQL = re.compile(
    r"\bSELECT\s+(DISTINCT\s+)?[\w*(]"
    r"|\bINSERT\s+(OR\s+\w+\s+)?INTO\b"
    r"|\bREPLACE\s+INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\b"
    r"|\bPRAGMA\s+\w"
    r"|\bjson_each\("
    r"|\.(execute|executemany|executescript|query)\("
    r"|^\s*(import|from)\s+sqlite3\b"
    r"|\bsqlite3\.\w",
    re.MULTILINE,
)
STREAMLIT = re.compile(r"^\s*(import\s+streamlit\b|from\s+streamlit\b)", re.MULTILINE)


def _sources() -> list[Path]:
    files = [*(ROOT / "trace2skill").rglob("*.py"), *(ROOT / "views").rglob("*.py"), ROOT / "app.py"]
    return sorted(f for f in files if f.is_file())


def _hits(pattern: re.Pattern[str], files: list[Path]) -> list[str]:
    out = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            source = text.splitlines()[line - 1].strip()
            out.append(f"{path.relative_to(ROOT)}:{line}: {source}")
    return out


def test_the_scan_covers_the_library_views_and_app():
    names = {str(p.relative_to(ROOT)) for p in _sources()}
    assert "app.py" in names and "views/lessons.py" in names and "trace2skill/provenance.py" in names
    assert "trace2skill/store/lessons.py" in names  # scanned for streamlit, exempt from the SQL rule


@pytest.mark.parametrize("text", [
    'db.execute("x")', "rows = db.query(sql)", "conn.executemany(sql, rows)", "import sqlite3",
    "except sqlite3.DatabaseError:", '"SELECT id FROM lessons"', '"INSERT OR REPLACE INTO settings"',
    '"UPDATE lessons SET status = ?"', '"DELETE FROM splits"', '"SELECT count(*) FROM runs"',
])
def test_the_patterns_catch_sql(text):
    assert SQL.search(text)


@pytest.mark.parametrize("text", ['SUFFIXES = (".db", ".sqlite", ".sqlite3")', "select a row to open it",
                                  "Update the skill", "from trace2skill.store.lessons import get_lesson"])
def test_the_patterns_leave_plain_code_alone(text):
    assert not SQL.search(text)


def test_no_sql_outside_the_store():
    outside = [p for p in _sources() if STORE not in p.parents]
    hits = _hits(SQL, outside)
    assert not hits, "SQL outside trace2skill/store/ (move it into its aggregate's store module):\n" + "\n".join(hits)


def test_only_the_ui_helpers_import_streamlit():
    library = [p for p in _sources() if (ROOT / "trace2skill") in p.parents and UI not in p.parents]
    hits = _hits(STREAMLIT, library)
    assert not hits, "streamlit imported outside trace2skill/ui/ (the library never imports it):\n" + "\n".join(hits)
