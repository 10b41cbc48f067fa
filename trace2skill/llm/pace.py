"""How long a run will take on this machine: from the latency of the model's recent calls in this
workspace, else (the embedded model on a first run) from what it was measured to take here."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from trace2skill.costs import embedded_model_name
from trace2skill.humanize import plural
from trace2skill.llm.config import LLMConfig
from trace2skill.llm.local import DEFAULT_PARALLEL
from trace2skill.store import Workspace
from trace2skill.store.calls import recent_latencies

# One analyst call with the airline policy as skill, the embedded model's 2 slots busy, 2 idle cores
# (bench/bench_local_demo.py, 2026-11-26: the demo's 4 failures in 104 s).
LOCAL_CALL_S = 52.0


@dataclass(frozen=True)
class Pace:
    seconds: float  # the whole run
    per_call_s: float
    measured_calls: int  # how many past calls the figure comes from (0: the bundled measurement)


def run_pace(ws: Workspace, llm: LLMConfig, calls: int, concurrency: int) -> Pace | None:
    """About how long `calls` calls take at `concurrency` (the embedded model serves 2 at once);
    None for an endpoint this workspace has not called yet."""
    model = (embedded_model_name() if llm.is_local else llm.model) or ""
    seen = recent_latencies(ws.db, model) if model else []
    if seen:
        per_call = statistics.median(seen)
    elif llm.is_local:
        per_call = LOCAL_CALL_S
    else:
        return None
    at_once = min(concurrency, DEFAULT_PARALLEL) if llm.is_local else max(1, concurrency)
    return Pace(math.ceil(calls / at_once) * per_call if calls else 0.0, per_call, len(seen))


def pace_words(pace: Pace) -> str:
    """ "about 2 minutes on this machine (from its last 12 calls)"."""
    minutes = pace.seconds / 60
    span = "under a minute" if minutes < 1 else f"about {plural(round(minutes), 'minute')}"
    if minutes >= 90:
        span = f"about {minutes / 60:.1f} hours"
    basis = (f"from its last {pace.measured_calls} calls here" if pace.measured_calls
             else f"{round(pace.per_call_s)} s a call, as measured on 2 idle cores")
    return f"{span} on this machine ({basis})"
