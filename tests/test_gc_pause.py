"""The collector is held back only while a file imports (a third of a 10,000-trace import went to
its passes), and put back as it was afterwards: after one import, two overlapping ones, a failed one."""

from __future__ import annotations

import gc
import io
import json
import threading

import pytest

from trace2skill.ingest import import_stream, pipeline, records
from trace2skill.ingest.gc_pause import IMPORT_THRESHOLD


def chat_file(n: int, tag: str) -> io.BytesIO:
    lines = [json.dumps({"messages": [{"role": "user", "content": f"{tag} question {i}"},
                                      {"role": "assistant", "content": f"answer {i}"}]}) for i in range(n)]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


@pytest.fixture
def watched(monkeypatch):
    """The collector's settings as each parsed trajectory saw them; `hold` makes imports wait there."""
    seen: list[tuple[tuple[int, int, int], int]] = []
    hold: list[threading.Barrier] = []
    real = records.compute_signals

    def signals(t):
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        if hold:
            hold[0].wait(timeout=30)
        return real(t)

    monkeypatch.setattr(records, "compute_signals", signals)
    return seen, hold


def test_one_import_raises_the_threshold_and_puts_it_back(ws, watched):
    seen, _ = watched
    before = gc.get_threshold()
    report = import_stream(ws, chat_file(3, "one"), "one.jsonl")
    assert report.imported == 3 and not report.errors
    assert {s[0][0] for s in seen} == {max(IMPORT_THRESHOLD, before[0])}
    assert all(frozen > 0 for _, frozen in seen)  # what existed before is left out of the passes
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_overlapping_imports_restore_once_the_last_ends(ws, watched):
    seen, hold = watched
    before = gc.get_threshold()
    hold.append(threading.Barrier(2))  # both imports are inside at once
    reports = {}

    def run(tag: str) -> None:
        reports[tag] = import_stream(ws, chat_file(2, tag), f"{tag}.jsonl")

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.imported for r in reports.values()) == [2, 2]
    assert len(seen) == 4 and {s[0][0] for s in seen} == {max(IMPORT_THRESHOLD, before[0])}
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_failed_import_puts_it_back(ws, monkeypatch):
    before = gc.get_threshold()

    def broken(db, batch, import_id=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "store_batch", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        import_stream(ws, chat_file(2, "bad"), "bad.jsonl")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
