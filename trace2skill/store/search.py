"""Full-text search over trajectories (SQLite FTS5), ranked by bm25, with the matched words marked.

Text most trajectories share is no evidence of what one run did: a search for "insurance" should not
return every run because each carries the same policy in its system prompt. So, unless a search asks
to include it, a match in *shared text* does not count: every system step, and every step whose
text is word for word the same in more than half of the workspace's trajectories (and in at least
`MIN_SHARED` of them). Those steps are listed in `search_shared`, recomputed on the first search
after trajectories came or went (`search_state`, kept by triggers, see migration m015_search).

A trajectory's score adds the bm25 scores (lower is better) of its task and of its matching steps:
the task weighs most, a step's message and reasoning more than its tool calls, and those more than
tool output; the best-scoring steps count in full, the rest with a small weight, so a run that
talks about the words ranks above one whose tool output merely contains them many times.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlite_utils import Database

from trace2skill.store.workspace import write_transaction

MIN_SHARED = 3  # a text in fewer trajectories than this is never "shared"
HEAD = 80  # characters compared first when looking for identical texts
MARK = ("\ue000", "\ue001")  # around each matched word in snippets (private-use characters)
SNIPPET_TOKENS = 24
TASK_WEIGHT = 2.0
STEP_WEIGHTS = "1.0, 1.0, 0.5, 0.25"  # bm25 weights of steps_fts's text, reasoning, tool_calls, tool_results
TAIL_WEIGHT = 0.1  # weight of a trajectory's matching steps after its best one

_NOT_SHARED = "st.rowid NOT IN (SELECT step_rowid FROM search_shared)"


def fts_query(text: str) -> str:
    """Turn user text into a safe FTS5 query: every word quoted, all required."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    return " ".join(f'"{w}"' for w in words) or '""'


# --------------------------------------------------------------------------- shared text


def shared_is_current(db: Database) -> bool:
    row = db.execute("SELECT generation, shared_generation FROM search_state WHERE id = 1").fetchone()
    return row is not None and row[0] == row[1]


def refresh_shared(db: Database, *, force: bool = False) -> int:
    """Recompute which steps are shared text when trajectories changed since the last time (or when
    `force`); returns how many steps are shared."""
    if not force and shared_is_current(db):
        return _count_shared(db)
    with write_transaction(db):
        generation = db.execute("SELECT generation FROM search_state WHERE id = 1").fetchone()[0]
        total = db.execute("SELECT count(*) FROM trajectories").fetchone()[0]
        need = max(MIN_SHARED, total // 2 + 1)
        db.execute("DELETE FROM search_shared")
        db.execute("INSERT INTO search_shared (step_rowid) SELECT rowid FROM steps WHERE role = 'system'")
        # Identical texts in `need` trajectories or more: candidates by length and head (one pass,
        # small keys), then the candidates' full texts compared.
        db.execute(
            f"""INSERT OR IGNORE INTO search_shared (step_rowid)
            WITH keyed AS MATERIALIZED (
                SELECT rowid AS rid, trajectory_id AS tid, length(text) AS len, substr(text, 1, {HEAD}) AS head
                FROM steps WHERE role != 'system' AND text != ''),
            candidates AS (SELECT len, head FROM keyed GROUP BY len, head HAVING count(DISTINCT tid) >= :need),
            rows AS (SELECT rid FROM keyed WHERE (len, head) IN candidates),
            texts AS (SELECT s.text FROM steps s WHERE s.rowid IN rows GROUP BY s.text
                      HAVING count(DISTINCT s.trajectory_id) >= :need)
            SELECT s.rowid FROM steps s WHERE s.rowid IN rows AND s.text IN texts""",
            {"need": need},
        )
        db.execute("UPDATE search_state SET shared_generation = ? WHERE id = 1", [generation])
    return _count_shared(db)


def _count_shared(db: Database) -> int:
    return db.execute("SELECT count(*) FROM search_shared").fetchone()[0]


# --------------------------------------------------------------------------- filtering and ranking


def search_clause(text: str, include_shared: bool) -> tuple[str, list[str]]:
    """A WHERE clause (on `trajectories t`) keeping the trajectories that match `text` in their task
    or final output, or in a step that is not shared text (unless `include_shared`)."""
    query = fts_query(text)
    shared = "" if include_shared else f" AND {_NOT_SHARED}"
    return ("(t.rowid IN (SELECT rowid FROM trajectories_fts WHERE trajectories_fts MATCH ?)"
            " OR t.id IN (SELECT st.trajectory_id FROM steps st WHERE st.rowid IN"
            f" (SELECT rowid FROM steps_fts WHERE steps_fts MATCH ?){shared}))", [query, query])


@dataclass(frozen=True)
class Ranking:
    """The trajectories matching a search, best first, each with its best-scoring step (the rowid of
    the step a snippet comes from; None when only the task or final answer matched): `own` leaves
    shared text out, `everything` counts it."""

    own: list[tuple[str, int | None]]
    everything: list[tuple[str, int | None]]

    def ids(self, include_shared: bool) -> list[str]:
        return [tid for tid, _ in (self.everything if include_shared else self.own)]

    def best_steps(self, include_shared: bool) -> dict[str, int | None]:
        return dict(self.everything if include_shared else self.own)


_CACHE: OrderedDict[tuple[str, int, str], Ranking] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 8  # rankings kept per process (a screen asks for the same one on every rerun)


def rank(db: Database, text: str) -> Ranking:
    """The ranking of a search, with and without shared text, in one pass over the matches (kept
    until trajectories come or go, so a screen's reruns do not pay for it again)."""
    refresh_shared(db)
    query = fts_query(text)
    generation = db.execute("SELECT generation FROM search_state WHERE id = 1").fetchone()[0]
    path = db.execute("PRAGMA database_list").fetchone()[2]
    key = (path, generation, query)
    with _CACHE_LOCK:
        if path and key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    found = _rank(db, query)
    if path:
        with _CACHE_LOCK:
            _CACHE[key] = found
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return found


def _rank(db: Database, query: str) -> Ranking:
    # MATERIALIZED: bm25 only works where the full-text table itself is scanned, never in a flattened
    # query. Per trajectory and kind of step (shared or not): best score, its step, and the total.
    rows = db.execute(
        f"""WITH task_hits AS MATERIALIZED (
            SELECT t.id AS tid, bm25(trajectories_fts) AS score
            FROM trajectories_fts JOIN trajectories t ON t.rowid = trajectories_fts.rowid
            WHERE trajectories_fts MATCH :query),
        step_hits AS MATERIALIZED (
            SELECT st.trajectory_id AS tid, st.rowid AS rid, bm25(steps_fts, {STEP_WEIGHTS}) AS score,
                   st.rowid IN (SELECT step_rowid FROM search_shared) AS shared
            FROM steps_fts JOIN steps st ON st.rowid = steps_fts.rowid WHERE steps_fts MATCH :query)
        SELECT tid, NULL AS shared, score AS best, NULL AS rid, score AS total FROM task_hits
        UNION ALL
        SELECT tid, shared, min(score), rid, sum(score) FROM step_hits GROUP BY tid, shared""",
        {"query": query}).fetchall()
    task: dict[str, float] = {}
    steps: dict[bool, dict[str, tuple[float, int, float]]] = {False: {}, True: {}}
    for tid, shared, best, rid, total in rows:
        if shared is None:
            task[tid] = TASK_WEIGHT * best
        else:
            steps[bool(shared)][tid] = (best, rid, total)
    everything: dict[str, tuple[float, int, float]] = dict(steps[False])
    for tid, (best, rid, total) in steps[True].items():
        mine = everything.get(tid)
        if mine is None:
            everything[tid] = (best, rid, total)
        else:
            everything[tid] = (min(mine[0], best), mine[1] if mine[0] <= best else rid, mine[2] + total)
    return Ranking(_order(task, steps[False]), _order(task, everything))


def _order(task: dict[str, float], steps: dict[str, tuple[float, int, float]]) -> list[tuple[str, int | None]]:
    scores = {tid: task.get(tid, 0.0) for tid in task}
    for tid, (best, _rid, total) in steps.items():
        scores[tid] = scores.get(tid, 0.0) + best + TAIL_WEIGHT * (total - best)
    return [(tid, steps[tid][1] if tid in steps else None) for tid in sorted(scores, key=lambda t: (scores[t], t))]


# --------------------------------------------------------------------------- snippets


@dataclass(frozen=True)
class SearchHit:
    """Where a trajectory matched: a snippet of its task (when the task matched) and of its
    best-scoring step, the matched words between `MARK` characters."""

    trajectory_id: str
    task: str | None = None
    step_idx: int | None = None
    role: str | None = None
    step: str | None = None


def search_hits(db: Database, ids: list[str], text: str, *, include_shared: bool = False) -> dict[str, SearchHit]:
    """The snippets of `ids` (trajectories a search listed) for the search `text`."""
    if not ids or not text.strip():
        return {}
    best = rank(db, text).best_steps(include_shared)
    query = fts_query(text)
    start, end = MARK
    wanted = json.dumps([i for i in ids if i in best])
    tasks: dict[str, str] = dict(db.execute(
        f"SELECT t.id, snippet(trajectories_fts, -1, :start, :end, '…', {SNIPPET_TOKENS}) FROM trajectories_fts "
        "JOIN trajectories t ON t.rowid = trajectories_fts.rowid WHERE trajectories_fts MATCH :query "
        "AND t.id IN (SELECT value FROM json_each(:ids))",
        {"start": start, "end": end, "query": query, "ids": wanted}).fetchall())
    rowids = json.dumps([best[i] for i in ids if best.get(i) is not None])
    columns = ", ".join(f"snippet(steps_fts, {c}, :start, :end, '…', {SNIPPET_TOKENS})" for c in range(4))
    snippets = {rowid: (idx, role, _readable(cols)) for rowid, idx, role, *cols in db.execute(
        f"SELECT steps_fts.rowid, st.idx, st.role, {columns} "
        "FROM steps_fts JOIN steps st ON st.rowid = steps_fts.rowid "
        "WHERE steps_fts MATCH :query AND steps_fts.rowid IN (SELECT value FROM json_each(:rowids))",
        {"start": start, "end": end, "query": query, "rowids": rowids})}
    out = {}
    for tid in ids:
        step = snippets.get(best.get(tid) or -1)
        if step is not None:
            out[tid] = SearchHit(tid, tasks.get(tid), *step)
        elif tid in tasks:
            out[tid] = SearchHit(tid, tasks[tid])
    return out


_CALL = re.compile(r'\[?\{"id":(?:null|"[^"]*"),"name":"([^"]*)","arguments":')
_RESULT = re.compile(r'\[?\{"call_id":(?:null|"[^"]*"),"content":"|","is_error":(?:true|false)\}\]?,?')


def _readable(columns: list[str]) -> str:
    """The snippet of the first column (text, reasoning, tool calls, tool results) with a match, the
    JSON the tool columns are stored as turned back into plain words as far as the snippet allows."""
    found = next(((c, s) for c, s in enumerate(columns) if s and MARK[0] in s), (0, columns[0] or ""))
    column, snippet = found
    if column == 2:
        snippet = _CALL.sub(lambda m: f"{m.group(1)} ", snippet).removesuffix("}]")
    elif column == 3:
        snippet = _RESULT.sub(" ", snippet)
    if column >= 2:
        snippet = snippet.replace('\\"', '"').replace("\\n", " ").replace("\\\\", "\\").strip()
    return snippet
