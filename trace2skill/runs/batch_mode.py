"""Runs in batch mode: choosing it for a run, what its batches are doing, and bringing back the
answers of a batch file an engine ran (`vllm run-batch`), so the run can go on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trace2skill.errors import InvalidValueError
from trace2skill.humanize import plural
from trace2skill.llm.batch import CLOSED, CONFIG_KEY, BatchOptions, RemoteState, options_of
from trace2skill.llm.batch_files import BadLine, read_results
from trace2skill.models import Run
from trace2skill.store import Workspace
from trace2skill.store import batches as batch_store
from trace2skill.store import runs as run_store
from trace2skill.store.batches import Batch, Result

INGEST_CHUNK = 2_000  # answers stored per transaction while a results file streams in

STATUS_WORDS = {
    "submitting": "being sent", "validating": "being checked by the batch service",
    "in_progress": "being answered", "finalizing": "being finished", "cancelling": "being cancelled",
    "written": "written to a file, waiting for its answers", "completed": "answered",
    "failed": "failed", "expired": "expired", "cancelled": "cancelled", "replaced": "replaced by a newer file",
}


def set_batch(ws: Workspace, run_id: str, options: BatchOptions | None) -> Run:
    """Make the run send its requests in batches (None: live again). Takes effect when it next
    executes or resumes."""
    run = run_store.get_run(ws.db, run_id)
    if options is not None and options.mode == "file" and not (options.file and str(options.file).strip()):
        raise InvalidValueError("say where to write the batch file (--batch-file requests.jsonl)")
    run_store.set_config_value(ws.db, run.id, CONFIG_KEY,
                               options.model_dump(exclude_defaults=False) if options is not None else None)
    return run_store.get_run(ws.db, run.id)


def batch_of(run: Run) -> BatchOptions | None:
    return options_of(run.config)


def describe_batch(batch: Batch) -> str:
    """One line for a person: which batch, how far, where."""
    where = f" ({batch.path})" if batch.path else (f" ({batch.remote_id})" if batch.remote_id else "")
    answered = f"{batch.answered} of {plural(batch.requests, 'request')} answered"
    failed = f", {batch.failed} failed" if batch.failed else ""
    return f"batch {batch.id}{where}: {STATUS_WORDS.get(batch.status, batch.status)} - {answered}{failed}"


def remote_words(state: RemoteState) -> str:
    """What the endpoint said of a batch (`ask_endpoint`), for a person deciding what to do next."""
    b = state.batch
    which = f"batch {b.id}" + (f" ({b.remote_id})" if b.remote_id else "")
    if state.status is None:
        return f"{which}: could not be asked: {state.problem}"
    total = state.total if state.total is not None else b.requests
    answered = f"{state.answered if state.answered is not None else '?'} of {total} answered"
    failed = f", {state.failed} failed" if state.failed else ""
    words = STATUS_WORDS.get(state.status, state.status)
    if state.status == "completed":
        return (f"{which}: answered at the endpoint ({answered}{failed}). Resume collects the answers without "
                "sending anything again.")
    if state.status in CLOSED:
        return f"{which}: {words} at the endpoint ({answered}{failed} before it ended)."
    return f"{which}: {words} at the endpoint, {answered} so far{failed}."


@dataclass
class IngestReport:
    answers: int = 0  # lines stored for a request waiting in a batch (failures included)
    unknown: int = 0  # lines whose request no batch is waiting for (already answered, or not ours)
    failed: int = 0  # lines saying the engine could not run the request
    bad: list[BadLine] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # runs with answers in the file


def ingest_results(ws: Workspace, path: Path) -> IngestReport:
    """Store the answers in a batch results file (the OpenAI / `vllm run-batch` output format),
    streamed; a line that is not a result is reported by its number and the rest is stored."""
    if not path.is_file():
        raise InvalidValueError(f"{path}: no such file")
    report, touched = IngestReport(), set()
    with path.open("rb") as stream:
        chunk: list[Result] = []
        for item in read_results(stream):
            if isinstance(item, BadLine):
                report.bad.append(item)
                continue
            chunk.append(item)
            if len(chunk) >= INGEST_CHUNK:
                touched.update(_store(ws, chunk, report))
                chunk = []
        touched.update(_store(ws, chunk, report))
    for batch_id in touched:
        left = batch_store.requests_of(ws.db, batch_id, status="pending")
        batch = batch_store.get_batch(ws.db, batch_id)
        if not left and batch.status == "written":
            batch_store.set_status(ws.db, batch_id, "completed")
    report.runs = batch_store.pending_runs(ws.db, sorted(touched))
    return report


def _store(ws: Workspace, chunk: list[Result], report: IngestReport) -> set[str]:
    if not chunk:
        return set()
    touched, stored = batch_store.store_results(ws.db, chunk)
    report.answers += stored
    report.failed += sum(1 for c in chunk if c.body is None)
    report.unknown += len(chunk) - stored
    return set(touched)
