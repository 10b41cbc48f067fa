"""Claude Code session JSONL importer, against the fixture in shared/data and hand-built lines."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.claude_code import ClaudeCodeFormat

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SESSION = DATA / "claude-code-transcripts-fixture" / "tests" / "sample_session.jsonl"
FMT = ClaudeCodeFormat()


def lines() -> list:
    return [
        json.loads(line)
        for line in SESSION.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def line(kind, uuid, content, *, msg_id=None, model=None, sidechain=False, **extra):
    message = {"role": kind, "content": content}
    if msg_id:
        message["id"] = msg_id
    if model:
        message["model"] = model
    return {
        "type": kind,
        "uuid": uuid,
        "sessionId": "sess-1",
        "isSidechain": sidechain,
        "timestamp": f"2026-01-01T00:00:{len(uuid):02d}Z",
        "message": message,
        **extra,
    }


def test_sniff_accepts_summary_and_message_lines():
    first, second = lines()[:2]
    assert FMT.sniff(first, "jsonl") is True  # {"type": "summary", "leafUuid": ...}
    assert FMT.sniff(second, "jsonl") is True
    assert FMT.sniff(first, "array") is False
    assert (
        FMT.sniff({"type": "file-history-snapshot", "messageId": "m", "snapshot": {}}, "jsonl")
        is True
    )


def test_fixture_session():
    trajectories = FMT.parse(lines(), "sample_session.jsonl")
    assert len(trajectories) == 1
    t = trajectories[0]
    assert (
        t.source_format == "claude_code" and t.source_name == "sample_session.jsonl" and t.id == ""
    )
    assert [s.role for s in t.steps] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "user",
        "assistant",
    ]
    assert [s.raw_ref for s in t.steps] == [f"line {n}" for n in range(2, 9)]
    assert [s.index for s in t.steps] == list(range(7))
    write = t.steps[1]
    assert write.text == "I'll create that function for you."
    assert write.tool_calls[0].id == "toolu_001" and write.tool_calls[0].name == "Write"
    assert write.tool_calls[0].arguments == {
        "file_path": "/project/hello.py",
        "content": "def hello():\n    return 'Hello, World!'\n",
    }
    assert t.steps[2].tool_results[0].call_id == "toolu_001"
    assert t.steps[2].tool_results[0].content == "File written successfully"
    bash = t.steps[3].tool_calls[0]
    assert (bash.name, bash.arguments["description"]) == ("Bash", "Commit changes")
    assert t.steps[4].tool_results[0].call_id == bash.id == "toolu_002"
    assert (
        t.steps[4].tool_results[0].content == "[main abc1234] Add hello function\n 1 file changed"
    )
    assert not any(r.is_error for s in t.steps for r in s.tool_results)
    assert t.steps[5].text == "Now add a goodbye function"
    assert t.task.id == "test-session-id"
    assert t.task.prompt == "Create a hello world function"
    assert t.final_output == "Done! The hello function is ready."
    assert t.model is None
    assert t.outcome.label == "unknown"
    assert t.metadata == {
        "summary": "Test session for JSONL parsing",
        "sessionId": "test-session-id",
        "cwd": "/project",
        "gitBranch": "main",
    }
    assert t.steps[0].timestamp == "2025-12-24T10:00:00.000Z"


def test_unparsed_lines_are_skipped_but_keep_positions():
    record = [None] + lines() + ["junk", 3, [1]]
    t = FMT.parse(record, "s.jsonl")[0]
    assert len(t.steps) == 7
    assert t.steps[0].raw_ref == "line 3" and t.steps[-1].raw_ref == "line 9"


def test_fragments_of_one_response_are_merged_and_deduplicated():
    record = [
        line("user", "u1", "Fix the failing test", cwd="/repo", version="2.1.3", gitBranch="dev"),
        line(
            "assistant",
            "a1",
            [{"type": "thinking", "thinking": "Run tests first.", "signature": "s"}],
            msg_id="msg_1",
            model="claude-sonnet-4-5",
        ),
        line("assistant", "a2", [{"type": "text", "text": "Running the tests."}], msg_id="msg_1"),
        line(
            "assistant", "a2", [{"type": "text", "text": "Running the tests."}], msg_id="msg_1"
        ),  # duplicate
        line(
            "assistant",
            "a3",
            [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Bash",
                    "input": {"command": "pytest -x"},
                }
            ],
            msg_id="msg_1",
        ),
        line(
            "assistant",
            "a4",
            [
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "Read",
                    "input": {"file_path": "/repo/t.py"},
                }
            ],
            msg_id="msg_1",
        ),
        line(
            "user",
            "u2",
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "is_error": True,
                    "content": [
                        {"type": "text", "text": "1 failed"},
                        {"type": "text", "text": "E assert"},
                    ],
                },
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "def test(): ..."},
            ],
        ),
        line(
            "assistant",
            "a5",
            [{"type": "text", "text": "Fixed."}],
            msg_id="msg_2",
            model="<synthetic>",
        ),
    ]
    t = FMT.parse(record, "s.jsonl")[0]
    assert [s.role for s in t.steps] == ["user", "assistant", "tool", "assistant"]
    merged = t.steps[1]
    assert merged.raw_ref == "line 2"
    assert (merged.reasoning, merged.text) == ("Run tests first.", "Running the tests.")
    assert [c.id for c in merged.tool_calls] == ["toolu_1", "toolu_2"]
    results = t.steps[2].tool_results
    assert [(r.call_id, r.is_error) for r in results] == [("toolu_1", True), ("toolu_2", False)]
    assert results[0].content == "1 failed\nE assert"
    assert t.steps[2].is_error is True
    assert t.model == "claude-sonnet-4-5"  # "<synthetic>" is not a model
    assert [s.index for s in t.steps] == [0, 1, 2, 3]
    assert t.metadata == {
        "sessionId": "sess-1",
        "cwd": "/repo",
        "version": "2.1.3",
        "gitBranch": "dev",
    }


def test_sidechain_is_a_separate_trajectory():
    record = [
        line("user", "u1", "Research the bug"),
        line(
            "assistant",
            "a1",
            [
                {
                    "type": "tool_use",
                    "id": "toolu_9",
                    "name": "Task",
                    "input": {"prompt": "Find callers of f"},
                }
            ],
        ),
        line("user", "s1", "Find callers of f", sidechain=True, agentId="agent-7"),
        line("assistant", "s2", [{"type": "text", "text": "f is called in g."}], sidechain=True),
        line(
            "user",
            "u2",
            [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "f is called in g."}],
        ),
    ]
    main, side = FMT.parse(record, "s.jsonl")
    assert [s.raw_ref for s in main.steps] == ["line 1", "line 2", "line 5"]
    assert [s.raw_ref for s in side.steps] == ["line 3", "line 4"]
    assert [s.index for s in side.steps] == [0, 1]
    assert side.task.prompt == "Find callers of f" and side.final_output == "f is called in g."
    assert side.metadata == {"parent_session": "sess-1", "sidechain": True, "agentId": "agent-7"}
    assert main.task.prompt == "Research the bug"
    assert main.metadata["sessionId"] == "sess-1" and "sidechain" not in main.metadata


def test_meta_lines_are_not_the_prompt_and_mixed_user_content_is_a_user_step():
    record = [
        line("user", "m1", "<local-command-caveat>Caveat</local-command-caveat>", isMeta=True),
        line("user", "u1", "Real prompt"),
        line(
            "assistant",
            "a1",
            [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}],
        ),
        line(
            "user",
            "u2",
            [
                {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                {"type": "text", "text": "[Request interrupted by user]"},
            ],
        ),
    ]
    t = FMT.parse(record, "s.jsonl")[0]
    assert t.task.prompt == "Real prompt"
    last = t.steps[-1]
    assert (last.role, last.text, last.tool_results[0].call_id) == (
        "user",
        "[Request interrupted by user]",
        "t1",
    )
    assert t.final_output is None  # last assistant step has no text


def test_session_without_conversation_gives_nothing():
    assert (
        FMT.parse([lines()[0], {"type": "file-history-snapshot", "messageId": "m"}], "s.jsonl")
        == []
    )


@pytest.mark.parametrize(
    "record",
    [
        None,
        {"type": "user"},
        "lines",
        [{"type": "user", "uuid": "u", "message": "hello"}],
        [{"type": "assistant", "uuid": "a"}],
        [line("user", "u1", 42)],
        [line("assistant", "a1", ["text"])],
        [line("assistant", "a1", [{"type": "tool_use", "id": "t", "input": {}}])],
        [line("user", "u1", [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}])],
    ],
)
def test_malformed_sessions_raise_format_error(record):
    with pytest.raises(TrajectoryFormatError):
        FMT.parse(record, "bad.jsonl")


def test_sniff_rejects_other_formats_and_junk():
    tau = json.loads((DATA / "tau-bench/historical_trajectories/gpt-4o-airline.json").read_text())[
        0
    ]
    openhands = json.loads((DATA / "openhands/tests/runtime/trajs/basic.json").read_text())
    swe = json.loads(next((DATA / "swe-agent").rglob("*.traj")).read_text())
    anthropic = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    response = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    samples = [
        tau,
        {"messages": tau["traj"]},
        openhands[0],
        swe,
        anthropic,
        response,
        None,
        3,
        "x",
        [],
        {},
        [1, 2],
        {"type": "user"},
        {"type": ["user"], "uuid": "u"},
        {"type": {"a": 1}, "message": {}},
    ]
    for sample in samples:
        assert FMT.sniff(sample, "jsonl") is False


BASE = lines()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_sessions_only_raise_format_errors(data):
    record = mutate(copy.deepcopy(BASE), data)
    FMT.sniff(record[0] if isinstance(record, list) and record else record, "jsonl")
    try:
        for t in FMT.parse(record, "fuzz.jsonl"):
            assert [s.index for s in t.steps] == list(range(len(t.steps)))
    except TrajectoryFormatError:
        pass
