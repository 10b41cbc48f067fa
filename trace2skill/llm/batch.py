"""Batch mode: a run's LLM requests go out as batches instead of live calls.

The run's workers ask as they always do; in batch mode the client hands each request to the run's
`BatchSender` and the worker waits. The sender gathers requests until none has come for
`gather_s` seconds (a stage's fan-out: an extraction's analysts, a verification's replays, a
consolidation's proposals, one level of the merge tree), then either

- **api**: uploads them as a JSONL file and creates a batch through the endpoint's files and
  batches API (the OpenAI Batch API, or any server that speaks it), polls it every `poll_s`
  seconds, and hands each worker its answer when the batch ends; or
- **file**: writes them to a JSONL file for an engine this process cannot reach (`vllm run-batch`)
  and stops the run ("stopped", resumable); `trace2skill batch ingest results.jsonl` stores the
  engine's answers and resumes the run, which then finds them.

Every batch and request is recorded (`store.batches`) before anything leaves this process, with
the request's custom id a hash of its body: a run resumed after a crash finds its request answered
or still pending in an open batch and waits for that instead of sending it again. A request the
batch could not run is sent again in a later, smaller batch or live, as the run's options say.
Cancelling the run cancels its batches still open at the endpoint (`cancel_open`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field

from trace2skill.errors import BatchWaiting
from trace2skill.llm.batch_files import ENDPOINT, custom_id, read_results, request_lines
from trace2skill.llm.scope import CallScope
from trace2skill.llm.transport import classify
from trace2skill.models import Run
from trace2skill.store import batches as batch_store
from trace2skill.store.batches import Batch, Result
from trace2skill.store.workspace import Workspace

log = logging.getLogger(__name__)
CLOSED = ("completed", "failed", "expired", "cancelled")
CANCEL_TIMEOUT_S = 10.0  # how long a cancel of a dead run's batches waits for the endpoint to answer
CONFIG_KEY = "batch"


class BatchOptions(BaseModel):
    """How a run sends its requests in batch mode (kept in the run's config under "batch")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["api", "file"] = "api"
    file: str | None = None  # file mode: where the requests are written
    retry: Literal["batch", "live"] = "batch"  # a request the batch could not run: a later batch, or live
    max_retries: int = Field(default=2, ge=0, le=10)  # later batches per failed request
    gather_s: float = Field(default=5.0, gt=0)  # a batch goes out once no request came for this long
    poll_s: float = Field(default=10.0, gt=0)  # how often an open batch is asked how it stands
    max_requests: int = Field(default=50_000, ge=1)  # the most requests in one batch (the OpenAI limit)


def options_of(config: dict[str, Any]) -> BatchOptions | None:
    data = config.get(CONFIG_KEY)
    return BatchOptions.model_validate(data) if data else None


@dataclass
class BatchOutcome:
    """What came back for one request: the chat completion body, or why none came."""

    body: dict[str, Any] | None
    latency_s: float
    error: str | None = None
    status: int | None = None
    go_live: bool = False  # the run's choice for requests a batch could not run: send it live now


@dataclass
class _Waiter:
    body: dict[str, Any]
    event: threading.Event = field(default_factory=threading.Event)
    result: Result | BaseException | None = None

    def resolve(self, result: Result | BaseException) -> None:
        self.result = result
        self.event.set()


def batch_workers(wanted: int = 1000) -> int:
    """How many items a batch run starts at once, so that a stage's requests fill one batch: each
    waiting worker holds a database connection (a few file descriptors), so the soft limit on open
    files is raised towards the hard one where it is low, and the workers fit in what it allows."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * wanted + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, (soft - 256) // 4))


def _retryable(status: int | None) -> bool:
    return status is None or status in (408, 409, 429) or status >= 500


class BatchSender:
    """One per run execution in batch mode; shared by the run's worker threads."""

    def __init__(self, ws: Workspace, run_id: str | None, options: BatchOptions):
        if options.mode == "file" and not options.file:
            raise ValueError("file mode needs a file to write the requests to")
        self.ws, self.run_id, self.options = ws, run_id, options
        self._cond = threading.Condition()
        self._queue: dict[str, dict[str, Any]] = {}  # custom id -> body, not yet in a batch
        self._waiters: dict[str, list[_Waiter]] = {}
        self._watched: dict[str, Batch] = {}  # open batches at the API this sender polls
        self._tries: dict[str, int] = {}
        self._last_request = 0.0
        self._sdk: openai.OpenAI | None = None
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._written = False  # file mode: the file was started by this execution
        self.waiting: str | None = None  # file mode: what the user must do before the run can go on

    # ------------------------------------------------------------------ the workers' side
    def request(self, body: dict[str, Any], sdk: openai.OpenAI | None, scope: CallScope | None) -> BatchOutcome:
        """Send `body` in a batch and wait for its answer. Raises RunCancelled when the run is
        cancelled meanwhile, BatchWaiting when it was written to a file for an engine to run."""
        cid, started, waiter = custom_id(body), time.monotonic(), _Waiter(body)
        with self._cond:
            self._sdk = sdk or self._sdk
            self._attach(cid, waiter)
            self._start_threads()
        try:
            while not waiter.event.wait(0.2):
                if scope is not None:
                    scope.check()
        except BaseException:
            self._detach(cid, waiter)
            raise
        result = waiter.result
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        latency = time.monotonic() - started
        if result.body is not None:
            return BatchOutcome(result.body, latency)
        return BatchOutcome(None, latency, result.error, result.error_status, go_live=self.options.retry == "live")

    def _attach(self, cid: str, waiter: _Waiter) -> None:
        """Called with the lock held: answer at once, wait on a batch already sent, or queue."""
        others = self._waiters.setdefault(cid, [])
        others.append(waiter)
        if len(others) > 1:
            return  # the same request is already queued or in a batch: one answer serves both
        known = batch_store.find(self.ws.db, cid)
        if known is not None and known[0] == "done":
            self._resolve(cid, Result(cid, known[1]))
        elif known is not None and known[1].mode == "api" and self.options.mode == "api":
            self._watched.setdefault(known[1].id, known[1])  # sent before (another execution): wait for it
        else:
            self._enqueue(cid, waiter.body)

    def _detach(self, cid: str, waiter: _Waiter) -> None:
        with self._cond:
            waiters = self._waiters.get(cid, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(cid, None)
                self._queue.pop(cid, None)

    def _enqueue(self, cid: str, body: dict[str, Any]) -> None:
        self._queue[cid] = body
        self._last_request = time.monotonic()
        self._cond.notify_all()

    def _resolve(self, cid: str, result: Result | BaseException) -> None:
        for waiter in self._waiters.pop(cid, []):
            waiter.resolve(result)

    # ------------------------------------------------------------------ background threads
    def _start_threads(self) -> None:
        if self._threads:
            return
        loops: list[Callable[[], None]] = [self._gather_loop]
        if self.options.mode == "api":
            loops.append(self._poll_loop)
        for loop in loops:
            thread = threading.Thread(target=loop, name=f"t2s-batch-{loop.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def cancel_open(self) -> int:
        """The run was cancelled: cancel its batches still open at the endpoint (see
        `cancel_batches`). Call after `close`."""
        return cancel_batches(self.ws, self.run_id, self._sdk) if self._sdk is not None else 0

    def _gather_loop(self) -> None:
        while not self._closed.is_set():
            with self._cond:
                idle = time.monotonic() - self._last_request
                if not self._queue or (idle < self.options.gather_s and len(self._queue) < self.options.max_requests):
                    self._cond.wait(min(0.2, max(0.01, self.options.gather_s - idle)))
                    continue
                taken = dict(list(self._queue.items())[: self.options.max_requests])
                for cid in taken:
                    del self._queue[cid]
            try:
                self._write(taken) if self.options.mode == "file" else self._submit(taken)
            except Exception as exc:  # noqa: BLE001 - every waiter of the batch hears why
                log.exception("batch of %d requests", len(taken))
                with self._cond:
                    for cid in taken:
                        self._resolve(cid, Result(cid, None, f"the batch could not be sent: {exc}"))

    def _submit(self, taken: dict[str, dict[str, Any]]) -> None:
        batch = batch_store.create_batch(self.ws.db, run_id=self.run_id, mode="api", custom_ids=list(taken),
                                         status="submitting")
        sdk = self._sdk
        assert sdk is not None
        try:
            uploaded = sdk.files.create(file=(f"trace2skill-{batch.id}.jsonl", request_lines(taken.items())),
                                        purpose="batch")
            remote = sdk.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h",
                                        metadata={"trace2skill_batch": batch.id, "trace2skill_run": self.run_id or ""})
        except openai.OpenAIError as exc:
            failure = classify(exc)
            message = f"the endpoint did not take the batch: {failure.message}"
            batch_store.set_status(self.ws.db, batch.id, "failed", error=message)
            batch_store.close_pending(self.ws.db, batch.id, message)
            with self._cond:
                for cid in taken:
                    self._resolve(cid, Result(cid, None, message, failure.status or 400))
            return
        batch_store.set_status(self.ws.db, batch.id, remote.status, remote_id=remote.id)
        with self._cond:
            self._watched[batch.id] = batch_store.get_batch(self.ws.db, batch.id)
        log.info("batch %s (%s): %d requests submitted", batch.id, remote.id, len(taken))

    def _write(self, taken: dict[str, dict[str, Any]]) -> None:
        path = Path(self.options.file or "")
        for old in batch_store.list_batches(self.ws.db, run_id=self.run_id, open_only=True):
            if old.mode == "file" and not self._written:
                batch_store.set_status(self.ws.db, old.id, "replaced")
        batch_store.create_batch(self.ws.db, run_id=self.run_id, mode="file", custom_ids=list(taken),
                                 status="written", path=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab" if self._written else "wb") as out:
            out.write(request_lines(taken.items()))
        self._written = True
        message = (f"{sum(1 for _ in path.open('rb'))} requests written to {path}: run them with your batch engine "
                   f"(e.g. vllm run-batch -i {path} -o results.jsonl --model MODEL), then "
                   "`trace2skill batch ingest results.jsonl` stores the answers and goes on")
        with self._cond:
            self.waiting = message
            for cid in taken:
                self._resolve(cid, BatchWaiting(message))

    def _poll_loop(self) -> None:
        while not self._closed.wait(self.options.poll_s):
            with self._cond:
                watched = list(self._watched.values())
            for batch in watched:
                try:
                    self._poll(batch)
                except openai.OpenAIError as exc:  # the next poll tries again
                    log.warning("polling batch %s: %s", batch.id, classify(exc).message)

    def _poll(self, batch: Batch) -> None:
        sdk = self._sdk
        assert sdk is not None
        remote_id = batch.remote_id or self._adopt(batch, sdk)
        if remote_id is None:
            return
        remote = sdk.batches.retrieve(remote_id)
        counts = remote.request_counts
        if remote.status not in CLOSED:
            batch_store.set_status(self.ws.db, batch.id, remote.status,
                                   answered=counts.completed if counts else None)
            return
        results: list[Result] = []
        for file_id in (remote.output_file_id, remote.error_file_id):
            if file_id:
                content = sdk.files.content(file_id).read()
                results.extend(r for r in read_results(content.splitlines()) if isinstance(r, Result))
        batch_store.store_results(self.ws.db, results, batch_id=batch.id)
        batch_store.close_pending(self.ws.db, batch.id, f"the batch ended ({remote.status}) before this request ran")
        batch_store.set_status(self.ws.db, batch.id, remote.status)
        self._settle(batch.id)

    def _adopt(self, batch: Batch, sdk: openai.OpenAI) -> str | None:
        """A batch recorded as being submitted when its process died: find it at the API by the id
        in its metadata; when it never got there, its requests go into a new batch."""
        for remote in sdk.batches.list(limit=100):
            if (remote.metadata or {}).get("trace2skill_batch") == batch.id:
                batch_store.set_status(self.ws.db, batch.id, remote.status, remote_id=remote.id)
                return remote.id
        batch_store.set_status(self.ws.db, batch.id, "failed", error="it never reached the batch API")
        batch_store.close_pending(self.ws.db, batch.id, "it never reached the batch API")
        with self._cond:
            self._watched.pop(batch.id, None)
            for r in batch_store.requests_of(self.ws.db, batch.id):
                if r.custom_id in self._waiters:
                    self._enqueue(r.custom_id, self._waiters[r.custom_id][0].body)
        return None

    def _settle(self, batch_id: str) -> None:
        """Hand each waiting worker its answer from a closed batch; a request it could not run goes
        into a later batch while it has tries left (and the run chose that)."""
        with self._cond:
            self._watched.pop(batch_id, None)
            for r in batch_store.requests_of(self.ws.db, batch_id):
                waiters = self._waiters.get(r.custom_id)
                if not waiters:
                    continue
                tries = self._tries.get(r.custom_id, 0)
                if (r.body is None and self.options.retry == "batch" and _retryable(r.error_status)
                        and tries < self.options.max_retries):
                    self._tries[r.custom_id] = tries + 1
                    self._enqueue(r.custom_id, waiters[0].body)
                else:
                    self._resolve(r.custom_id, r)


def at_endpoint(batches: list[Batch]) -> list[Batch]:
    """Those of `batches` open at an endpoint's batch API (being cancelled there included): the ones a
    cancel or `ask_endpoint` reaches."""
    return [b for b in batches if b.is_open and b.mode == "api" and b.remote_id]


def cancel_batches(ws: Workspace, run_id: str | None, sdk: openai.OpenAI) -> int:
    """Cancel the run's batches still open at the endpoint, which would go on running (and being
    paid for) with nobody waiting. Returns how many the endpoint took the cancel of; a batch it
    refused keeps its state (a resumed run waits for it)."""
    cancelled = 0
    for batch in at_endpoint(batch_store.list_batches(ws.db, run_id=run_id, open_only=True)):
        try:
            remote = sdk.batches.cancel(str(batch.remote_id))
        except openai.OpenAIError as exc:
            log.warning("cancelling batch %s (%s): %s", batch.id, batch.remote_id, classify(exc).message)
            continue
        batch_store.set_status(ws.db, batch.id, remote.status)
        cancelled += 1
        log.info("batch %s (%s) cancelled with its run: %s", batch.id, batch.remote_id, remote.status)
    return cancelled


def _endpoint_of(run: Run) -> openai.OpenAI | None:
    """A client for the batch API of the endpoint the run's config names (the API key from the
    environment, as for every call), waiting `CANCEL_TIMEOUT_S` at most: a person waits for it. None
    when the run sends no batches to an API."""
    from trace2skill.llm.config import LLMConfig
    from trace2skill.llm.transport import make_openai

    options = options_of(run.config)
    if options is None or options.mode != "api" or not run.config.get("base_url"):
        return None
    return make_openai(LLMConfig.from_env(base_url=run.config["base_url"], model=run.config.get("model"),
                                          timeout_s=CANCEL_TIMEOUT_S))


def cancel_orphaned(ws: Workspace, run: Run) -> int:
    """A cancelled batch run that no process is executing (interrupted: its process died): cancel
    its open batches at the endpoint its config names. 0 when the run sends no batches or has none
    open."""
    if not at_endpoint(batch_store.list_batches(ws.db, run_id=run.id, open_only=True)):
        return 0
    sdk = _endpoint_of(run)  # an endpoint that does not answer is left (and said)
    if sdk is None:
        return 0
    try:
        return cancel_batches(ws, run.id, sdk)
    finally:
        sdk.close()


@dataclass(frozen=True)
class RemoteState:
    """What the endpoint said of one batch when asked (`ask_endpoint`)."""

    batch: Batch
    status: str | None = None  # the batch service's word for it; None when it could not be asked
    answered: int | None = None
    failed: int | None = None
    total: int | None = None
    problem: str | None = None  # why it could not be asked


def ask_endpoint(run: Run, batches: list[Batch]) -> list[RemoteState]:
    """What the endpoint says now of these batches of a run nothing executes (one question each,
    `CANCEL_TIMEOUT_S` at most). Nothing is stored: a batch's own state moves only when a run collects
    it (Resume), so that asking never takes its answers away from the run."""
    sdk = _endpoint_of(run)
    if sdk is None:
        return [RemoteState(b, problem="the run sends no batches to an endpoint's batch API") for b in batches]
    states = []
    try:
        for b in batches:
            if not b.remote_id:
                states.append(RemoteState(b, problem="it never reached the endpoint"))
                continue
            try:
                remote = sdk.batches.retrieve(b.remote_id)
            except openai.OpenAIError as exc:
                states.append(RemoteState(b, problem=classify(exc).message))
                continue
            counts = remote.request_counts
            states.append(RemoteState(b, remote.status, counts.completed if counts else None,
                                      counts.failed if counts else None, counts.total if counts else None))
    finally:
        sdk.close()
    return states


def open_remote_batches(ws: Workspace, run_id: str) -> list[Batch]:
    """The run's batches still open at an endpoint's batch API, and not being cancelled there."""
    return [b for b in at_endpoint(batch_store.list_batches(ws.db, run_id=run_id, open_only=True))
            if b.status != "cancelling"]


def left_open_words(batches: list[Batch]) -> str:
    """What a person must know when a cancelled run's batches are still open at the endpoint."""
    ids = ", ".join(str(b.remote_id) for b in batches[:5]) + (" …" if len(batches) > 5 else "")
    many = len(batches) > 1
    return (f"{len(batches)} batch{'es' if many else ''} of this cancelled run {'are' if many else 'is'} still "
            f"open at the endpoint (it did not take the cancel): {'they' if many else 'it'} may still run and be "
            f"billed. Cancel {'them' if many else 'it'} there ({ids}).")
