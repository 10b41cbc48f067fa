"""Claude Code session JSONL (`~/.claude/projects/<cwd>/<sessionId>.jsonl`; FORMATS.md §3).

Source: no official spec; the field names follow the JSON Schemas in `oneryalcin/agent-schemas`
(claude-code/v2.1.*/session.schema.json). One JSON object per line; `user` and `assistant`
lines carry an Anthropic message (`message.content` blocks, see `anthropic.py`). One API
response is split over several assistant lines sharing `message.id`; they are merged into one
step (lines are deduplicated by `uuid`). `isSidechain: true` lines (subagents) become a separate
trajectory. There is no outcome label, so it is always "unknown".
"""

from __future__ import annotations

from typing import Any, ClassVar

from trace2skill.ingest.anthropic import final_text, message_step
from trace2skill.ingest.base import Format, Shape, expect_type
from trace2skill.models import Step, Task, Trajectory

LINE_TYPES = {
    "user", "assistant", "summary", "system", "file-history-snapshot", "queue-operation",
    "progress", "attachment", "permission-mode", "ai-title", "custom-title", "agent-name",
    "last-prompt", "pr-link", "worktree-state",
}  # fmt: skip
MARKER_KEYS = ("sessionId", "uuid", "leafUuid", "message", "messageId")
SESSION_KEYS = ("sessionId", "cwd", "gitBranch", "version")


class _Conversation:
    """Steps of one conversation (the main thread or the sidechain) being assembled."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.by_message_id: dict[str, Step] = {}
        self.model: str | None = None
        self.prompt = ""
        self.agent_id: str | None = None

    def add(self, line: dict[str, Any], number: int) -> None:
        where = f"line {number}"
        message = expect_type(line.get("message"), dict, f"{where}: 'message'")
        timestamp = line.get("timestamp") if isinstance(line.get("timestamp"), str) else None
        if self.agent_id is None and isinstance(line.get("agentId"), str):
            self.agent_id = line["agentId"]
        content = message.get("content")
        step = message_step(
            {"role": line["type"], "content": content}, len(self.steps), where, timestamp
        )
        if line["type"] == "user":
            if not self.prompt and isinstance(content, str) and not line.get("isMeta"):
                self.prompt = content
            self.steps.append(step)
            return
        model = message.get("model")
        if self.model is None and isinstance(model, str) and model != "<synthetic>":
            self.model = model
        message_id = message.get("id")
        earlier = self.by_message_id.get(message_id) if isinstance(message_id, str) else None
        if earlier is None:
            if isinstance(message_id, str):
                self.by_message_id[message_id] = step
            self.steps.append(step)
            return
        # Another fragment of the same API response: fold it into the first one.
        earlier.text = "\n".join(t for t in (earlier.text, step.text) if t)
        earlier.reasoning = "\n".join(r for r in (earlier.reasoning, step.reasoning) if r)
        earlier.tool_calls.extend(step.tool_calls)
        earlier.tool_results.extend(step.tool_results)


class ClaudeCodeFormat(Format):
    name = "claude_code"
    unit = "document"
    shapes: ClassVar[tuple[Shape, ...]] = ("jsonl",)

    def sniff(self, sample: Any, shape: Shape) -> bool:
        if shape not in self.shapes or not isinstance(sample, dict):
            return False
        kind = sample.get("type")
        return (
            isinstance(kind, str) and kind in LINE_TYPES and any(k in sample for k in MARKER_KEYS)
        )

    def parse(self, record: Any, source_name: str) -> list[Trajectory]:
        lines = expect_type(record, list, "a Claude Code session (list of lines)")
        main, side = _Conversation(), _Conversation()
        session: dict[str, Any] = {}
        seen: set[str] = set()
        for number, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                continue  # a line the reader could not parse
            kind = line.get("type")
            if kind == "summary" and isinstance(line.get("summary"), str):
                session.setdefault("summary", line["summary"])
            if kind not in ("user", "assistant"):
                continue
            uuid = line.get("uuid")
            if isinstance(uuid, str):
                if uuid in seen:
                    continue
                seen.add(uuid)
            for key in SESSION_KEYS:
                if line.get(key) is not None:
                    session.setdefault(key, line[key])
            (side if line.get("isSidechain") is True else main).add(line, number)

        session_id = session.get("sessionId")
        task_id = str(session_id) if session_id is not None else None
        result = []
        if main.steps:
            result.append(self._trajectory(main, source_name, task_id, dict(session)))
        if side.steps:
            meta: dict[str, Any] = {"parent_session": session_id, "sidechain": True}
            if side.agent_id:
                meta["agentId"] = side.agent_id
            result.append(self._trajectory(side, source_name, task_id, meta))
        return result

    def _trajectory(
        self, conv: _Conversation, source_name: str, task_id: str | None, metadata: dict[str, Any]
    ) -> Trajectory:
        return Trajectory(
            source_format=self.name,
            source_name=source_name,
            task=Task(id=task_id, prompt=conv.prompt),
            steps=conv.steps,
            model=conv.model,
            final_output=final_text(conv.steps),
            metadata=metadata,
        )
