"""The loopback server's files and batches API (`/v1/files`, `/v1/batches`), for batch-mode tests.

It behaves like the OpenAI Batch API as the `openai` SDK sees it: upload a JSONL file (purpose
"batch"), create a batch over it, retrieve it until it is "completed", then download its output
file (and its error file, for lines that failed). Each line is answered by the server's responder,
as a live request would be (a `Fault` from the responder becomes a failed line with that status).
`hold()` keeps new and running batches "in_progress" until `release()`, so a test can stop a
client while its batch is pending; `run_s` is how long a batch takes once released. `line_counts`
counts how often each custom id was run, over every batch.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from trace2skill.llm.batch_files import result_line

if TYPE_CHECKING:
    from trace2skill.llm.fake_server import FakeLLMServer

Reply = tuple[int, Any, str]  # HTTP status, payload (bytes are sent as they are), content type
JSON = "application/json"


class FakeBatchAPI:
    def __init__(self, server: FakeLLMServer, *, run_s: float = 0.0):
        self.server = server
        self.run_s = run_s
        self.files: dict[str, bytes] = {}
        self.file_names: dict[str, str] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.line_counts: collections.Counter[str] = collections.Counter()
        self.created = 0  # batches created
        self.http_calls = 0  # requests to /v1/files and /v1/batches (uploads, creates, polls, downloads)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self.cancel_delay_s = 0.0  # an endpoint slow to answer a cancel (it takes it after this long)

    # ------------------------------------------------------------------ test controls
    def hold(self) -> None:
        """Batches stay "in_progress" until `release()`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    # ------------------------------------------------------------------ routes
    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> Reply:
        with self._lock:
            self.http_calls += 1
        parts = [p for p in path.split("?", 1)[0].split("/") if p]  # ["v1", "files", ...]
        if parts and parts[0] == "v1":
            parts = parts[1:]
        if method == "POST" and parts == ["files"]:
            return self._upload(headers.get("Content-Type") or "", raw)
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            content = self.files.get(parts[1])
            return (200, content, "application/octet-stream") if content is not None else _missing("file", parts[1])
        if method == "GET" and len(parts) == 2 and parts[0] == "files":
            return (200, self._file(parts[1]), JSON) if parts[1] in self.files else _missing("file", parts[1])
        if method == "POST" and parts == ["batches"]:
            return self._create(json.loads(raw or b"{}"))
        if method == "GET" and parts == ["batches"]:
            with self._lock:
                data = list(self.batches.values())[::-1]  # newest first
            return 200, {"object": "list", "data": data, "has_more": False,
                         "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}, JSON
        if len(parts) >= 2 and parts[0] == "batches":
            batch = self.batches.get(parts[1])
            if batch is None:
                return _missing("batch", parts[1])
            if method == "POST" and parts[2:] == ["cancel"]:
                time.sleep(self.cancel_delay_s)
                with self._lock:
                    if batch["status"] in ("validating", "in_progress"):
                        batch["status"] = "cancelling"
                return 200, batch, JSON
            if method == "GET" and len(parts) == 2:
                with self._lock:
                    return 200, dict(batch), JSON
        return 404, {"error": {"message": f"no route {method} {path}", "type": "invalid_request_error"}}, JSON

    def _upload(self, content_type: str, raw: bytes) -> Reply:
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        if "file" not in fields:
            return 400, {"error": {"message": "no file in the upload", "type": "invalid_request_error"}}, JSON
        return 200, self._store(fields["file"][1], fields["file"][0] or "upload.jsonl"), JSON

    def _store(self, data: bytes, name: str) -> dict[str, Any]:
        file_id = f"file-fake-{next(self._ids)}"
        with self._lock:
            self.files[file_id], self.file_names[file_id] = data, name
        return self._file(file_id)

    def _file(self, file_id: str) -> dict[str, Any]:
        return {"id": file_id, "object": "file", "bytes": len(self.files[file_id]), "created_at": int(time.time()),
                "filename": self.file_names[file_id], "purpose": "batch", "status": "processed"}

    def _create(self, body: dict[str, Any]) -> Reply:
        input_id = body.get("input_file_id")
        if input_id not in self.files:
            return _missing("file", str(input_id))
        lines = [json.loads(line) for line in self.files[input_id].splitlines() if line.strip()]
        batch_id = f"batch_fake_{next(self._ids)}"
        batch = {"id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                 "input_file_id": input_id, "completion_window": body.get("completion_window", "24h"),
                 "status": "in_progress", "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "in_progress_at": int(time.time()), "expires_at": None,
                 "completed_at": None, "failed_at": None, "cancelled_at": None,
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "metadata": body.get("metadata") or {}}
        with self._lock:
            self.batches[batch_id] = batch
            self.created += 1
        threading.Thread(target=self._run, args=(batch, lines), name=f"fake-{batch_id}", daemon=True).start()
        return 200, dict(batch), JSON

    def _run(self, batch: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        from trace2skill.llm.fake_server import Fault

        self.server.wait(self.run_s)
        while not self._released.wait(0.05):
            if self.server._stopping.is_set():
                return
            if batch["status"] == "cancelling":
                break  # cancelled while held: ends at once, nothing run
        out, errors, ok, failed = [], [], 0, 0
        for n, line in enumerate(lines, 1):
            with self._lock:
                if batch["status"] == "cancelling":
                    break
                self.line_counts[line["custom_id"]] += 1
            line_id = f"{batch['id']}-req-{n}"
            try:
                reply = self.server.responder(line["body"])
            except Exception as exc:  # noqa: BLE001 - a broken responder fails the line
                reply = Fault(500, f"responder failed: {exc}")
            if isinstance(reply, Fault):
                errors.append(result_line(line["custom_id"], status=reply.status, line_id=line_id,
                                          body={"error": {"message": reply.message, "code": reply.status}}))
                failed += 1
                continue
            content = reply if isinstance(reply, str) else json.dumps(reply)
            out.append(result_line(line["custom_id"], body=self.server.completion(line["body"], content),
                                   line_id=line_id))
            ok += 1
        output = self._store(b"".join(out), f"{batch['id']}_output.jsonl")["id"] if out else None
        error = self._store(b"".join(errors), f"{batch['id']}_error.jsonl")["id"] if errors else None
        with self._lock:
            cancelled = batch["status"] == "cancelling"
            batch.update(status="cancelled" if cancelled else "completed", output_file_id=output,
                         error_file_id=error, request_counts={"total": len(lines), "completed": ok, "failed": failed},
                         **{("cancelled_at" if cancelled else "completed_at"): int(time.time())})


def _missing(kind: str, ident: str) -> Reply:
    return 404, {"error": {"message": f"no {kind} {ident}", "type": "invalid_request_error"}}, JSON
