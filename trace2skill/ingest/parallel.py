"""Parsing a large file on every core: worker processes read it, each parses its share of the records.

Every worker reads the whole file with the same reader as a one-process import (so it cuts the
same records, with the same indexes: an OpenTelemetry file's spans grouped into the same traces)
and parses every W-th record: importer, content id, signals, rows. The importing process merges
their results back in record order and stores them as usual, so what lands and what the report says
(records, errors with their record numbers, trajectory order) are the same as importing in one
process. Reading twice costs little next to parsing (about a tenth of it on a trace file).

A worker is a fresh Python process (`python -c ...serve()`, importing only the importers, not the
workspace's database layer): its task comes pickled on its stdin, its results go pickled on its stdout,
in chunks, so a slow writer holds it back instead of its results piling up. A fresh process rather than
multiprocessing's fork (which would copy the app's threads' locks) or its spawn and fork server (which
re-run the caller's main script: a script without a `__main__` guard would import again in each
worker). A worker that fails or dies ends the import with an error naming it; what was stored before
stays (whole batches, as always), the batch being gathered is not stored.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.base import Format, Shape, Unit

if TYPE_CHECKING:
    from trace2skill.ingest.records import FileReport
    from trace2skill.store.rows import PreparedTrajectory

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

MIN_BYTES = 8 * 2**20  # smaller files import in not much more than the time it takes to start workers (~0.5 s)
MAX_WORKERS = 4
CHUNK = 32  # records a worker sends at once


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_count(size: int, shape: Shape, unit: Unit, requested: int | None) -> int:
    """How many worker processes parse a file of `size` bytes (0: parse in this process). Only a file
    of many records (JSONL, an array) is shared out; then `requested` (the `workers` option) wins, and
    by default a file of at least `MIN_BYTES` gets one worker per core (the importing process, which
    only stores, needs little)."""
    if unit != "record" or shape == "object":
        return 0
    if requested is not None:
        return requested if requested > 1 else 0
    if size < MIN_BYTES:
        return 0
    count = min(cores(), MAX_WORKERS)
    return count if count > 1 else 0


def size_of(f: IO[bytes]) -> int:
    """The size of an open file or upload (its position is left as it was)."""
    here = f.tell()
    try:
        return f.seek(0, os.SEEK_END)
    finally:
        f.seek(here)


@contextmanager
def on_disk(f: IO[bytes]) -> Iterator[Path]:
    """The path of a file on disk with `f`'s content, for the workers to open: its own, or a
    temporary copy of an upload (removed afterwards)."""
    own = getattr(f, "name", None)
    if isinstance(own, str) and os.path.isfile(own):
        yield Path(own)
        return
    with tempfile.NamedTemporaryFile(prefix="trace2skill-upload-", suffix=".jsonl") as copy:
        here = f.tell()
        f.seek(0)
        shutil.copyfileobj(f, copy, 1 << 20)
        copy.flush()
        f.seek(here)
        yield Path(copy.name)


def prepared_in_workers(path: Path, fmt: Format, shape: Shape, unit: Unit, report: FileReport,
                        workers: int) -> Generator[PreparedTrajectory, None, None]:
    """The file's trajectories, ready to store, in record order (`report` gets the record count and
    the errors as a one-process import would give them)."""
    with ExitStack() as stack:
        children = [stack.enter_context(_Worker(path, fmt, shape, unit, report.file, w, workers))
                    for w in range(workers)]
        streams = [child.items() for child in children]
        turn = 0
        while (item := next(streams[turn % workers], None)) is not None:
            counted, done, issues = item
            report.records += counted
            report.errors.extend(issues)
            yield from done
            turn += 1
        for stream in streams:  # the others end at the same record
            for _ in stream:
                raise RuntimeError("an import worker read more records than the others")


PIPE_BYTES = 1 << 20  # Linux's default most for a pipe an unprivileged process may ask for


def _widen(pipe: IO[bytes] | None) -> None:
    """Let a worker's results pipe hold about a megabyte instead of 64 KiB (Linux): results are read
    one worker after the other, in record order, and a chunk of 32 trajectories' rows is larger than
    64 KiB, so with the default a worker waits while the others are read (~2.5 % of two cores on a
    10,000-trace import). Elsewhere, or when refused, the pipe stays as it is."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if pipe is None or set_size is None:
        return
    with suppress(OSError):
        fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES)


class _Worker:
    """A worker process (`python -c ...serve()`): its task pickled on its stdin, its results pickled
    on its stdout; what it says on stderr is kept for the error message should it fail."""

    def __init__(self, path: Path, fmt: Format, shape: Shape, unit: Unit, name: str, worker: int,
                 workers: int) -> None:
        self.task = (str(path), fmt, shape, unit, name, worker, workers)
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the worker (__exit__)
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from trace2skill.ingest.parallel import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        _widen(self.process.stdout)

    def __enter__(self) -> _Worker:
        assert self.process.stdin is not None
        try:
            pickle.dump(self.task, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.close()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()

    def items(self) -> Iterator[tuple[int, list[Any], list[Any]]]:
        """Its results, record by record, until it says it is done."""
        assert self.process.stdout is not None
        while True:
            try:
                kind, payload = pickle.load(self.process.stdout)
            except EOFError:
                raise RuntimeError(f"an import worker stopped unexpectedly ({self._said()})") from None
            if kind == "items":
                yield from payload
            elif kind == "end":
                return
            elif kind == "format":
                raise TrajectoryFormatError(payload)
            else:
                raise RuntimeError(f"an import worker failed: {payload}")

    def _said(self) -> str:
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # it closed its output but goes on: stop it
            self.process.kill()
            code = self.process.wait()
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return f"exit code {code}" + (f": {lines[-1]}" if lines else "")


def serve() -> None:
    """A worker's main: read every record, parse those whose position is `worker` modulo `workers`."""
    from trace2skill.ingest.gc_pause import fewer_collections
    from trace2skill.ingest.reader import open_binary
    from trace2skill.ingest.records import FileReport, file_records, parse_prepared

    path, fmt, shape, unit, name, worker, workers = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed goes to stderr, not into the results

    def send(kind: str, payload: Any) -> None:
        pickle.dump((kind, payload), out, protocol=pickle.HIGHEST_PROTOCOL)

    chunk: list[tuple[int, list[Any], list[Any]]] = []
    try:
        with open_binary(path) as f, fewer_collections():
            for position, raw in enumerate(file_records(f, fmt, shape, unit)):
                if position % workers != worker:
                    continue
                scratch = FileReport(file=name)
                done = parse_prepared(fmt, raw, name, scratch)
                chunk.append((0 if raw.error else 1, done, scratch.errors))
                if len(chunk) >= CHUNK:
                    send("items", chunk)
                    chunk = []
        send("items", chunk)
        send("end", None)
    except TrajectoryFormatError as exc:
        send("items", chunk)
        send("format", exc.problem)
    except BrokenPipeError:  # the importing process stopped reading (it failed or was cancelled)
        return
    except Exception as exc:  # said to the importing process, which ends the import
        send("crash", f"{type(exc).__name__}: {exc}")
    out.flush()
