"""A run's progress over time: how many of its items had finished (done or failed) how long after
the run started, counted in SQL in at most a fixed number of time buckets, so a run of 10,000 items
costs two small queries and a chart of a hundred points."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlite_utils import Database

MAX_BUCKETS = 120

# Seconds from the run's start to each finished item (never negative; rounded to the millisecond).
_FINISHED = ("SELECT status, max(0.0, round((julianday(finished) - julianday(?)) * 86400.0, 3)) AS s "
             "FROM run_items WHERE run_id = ? AND status IN ('done', 'failed') AND finished IS NOT NULL")


@dataclass(frozen=True)
class TimelinePoint:
    """By `seconds` after the run started, `done` items had succeeded and `failed` had failed."""

    seconds: float
    done: int
    failed: int

    @property
    def finished(self) -> int:
        return self.done + self.failed


def finished_over_time(db: Database, run_id: str, started: str | None,
                       buckets: int = MAX_BUCKETS) -> list[TimelinePoint]:
    """Cumulative counts of the run's finished items from `started` (an ISO time: the run's start)
    on: a point at 0, then one per time bucket that saw an item finish, at the last finish in it.
    Empty when the run never started or nothing finished yet."""
    if not started:
        return []
    count, span = db.execute(f"SELECT count(*), max(s) FROM ({_FINISHED})", [started, run_id]).fetchone()
    if not count:
        return []
    width = max(1.0, math.ceil(float(span or 0.0) / max(1, buckets)))
    rows = db.execute(f"SELECT CAST(s / ? AS INTEGER) AS k, max(s), sum(status = 'done'), sum(status = 'failed') "
                      f"FROM ({_FINISHED}) GROUP BY k ORDER BY k", [width, started, run_id]).fetchall()
    points = [TimelinePoint(0.0, 0, 0)]
    done = failed = 0
    for _bucket, last, n_done, n_failed in rows:
        done, failed = done + int(n_done), failed + int(n_failed)
        points.append(TimelinePoint(float(last), done, failed))
    return points
