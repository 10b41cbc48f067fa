"""OpenHands event-stream importer, against the four real streams in shared/data/openhands."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.openhands import OpenHandsFormat

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TRAJS = DATA / "openhands" / "tests" / "runtime" / "trajs"
FMT = OpenHandsFormat()


def load(name: str) -> list:
    return json.loads((TRAJS / name).read_text(encoding="utf-8"))


def one(events):
    trajectories = FMT.parse(events, "stream.json")
    assert len(trajectories) == 1
    return trajectories[0]


@pytest.mark.parametrize(
    "name",
    ["basic.json", "basic_gui_mode.json", "basic_interactions.json", "wrong_initial_state.json"],
)
def test_sniff_accepts_first_event_of_each_real_stream(name):
    first = load(name)[0]
    assert FMT.sniff(first, "array") is True
    assert FMT.sniff(first, "jsonl") is False  # unit "document", array files only


def test_basic_stream():
    t = one(load("basic.json"))
    assert t.source_format == "openhands" and t.source_name == "stream.json" and t.id == ""
    assert [s.role for s in t.steps] == ["user", "assistant", "tool", "assistant"]
    assert [s.raw_ref for s in t.steps] == ["event 0", "event 3", "event 4", "event 5"]
    assert [s.index for s in t.steps] == [0, 1, 2, 3]
    assert t.task.prompt.startswith("Please create a simple 2048 game. No need to run it.")
    assert t.steps[0].text == t.task.prompt
    edit = t.steps[1]
    call = edit.tool_calls[0]
    assert (call.id, call.name) == ("toolu_017nBp7UfiGqyrA7j77HgtFP", "str_replace_editor")
    assert call.arguments["path"] == "/workspace/game_2048.py"
    assert "thought" not in call.arguments
    assert edit.reasoning.startswith("I'll help you create a simple 2048 game")
    result = t.steps[2].tool_results[0]
    assert result.call_id == call.id
    assert result.content.startswith("--- /workspace/game_2048.py\n+++ /workspace/game_2048.py")
    assert result.is_error is False
    assert t.steps[3].text.startswith("I've created a simple implementation of the 2048 game")
    assert t.final_output == t.steps[3].text
    assert t.model == "claude-3-5-sonnet-20241022"
    assert (t.outcome.label, t.outcome.reward) == ("unknown", None)
    assert t.task.id is None
    assert t.steps[0].timestamp == "2025-01-27T22:44:56.900854"


def test_gui_mode_skips_bookkeeping_and_pairs_by_cause():
    t = one(load("basic_gui_mode.json"))
    assert [s.raw_ref for s in t.steps] == [
        f"event {i}" for i in (4, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    ]
    assert [s.role for s in t.steps] == ["user"] + ["assistant", "tool"] * 4 + ["assistant"]
    calls = [s.tool_calls[0] for s in t.steps if s.tool_calls]
    assert [c.name for c in calls] == [
        "execute_bash",
        "str_replace_editor",
        "str_replace_editor",
        "execute_bash",
    ]
    assert calls[0].arguments["command"] == "mkdir -p /workspace/todo-app"
    for action, observation in zip(t.steps[1:9:2], t.steps[2:9:2]):
        assert observation.tool_results[0].call_id == action.tool_calls[0].id
    server = t.steps[8].tool_results[0]
    assert server.content.startswith("Serving HTTP on 0.0.0.0 port 8000")
    assert server.is_error is False  # exit code -1: still running, not a failure
    assert t.steps[9].role == "assistant" and t.steps[9].text.startswith(
        "I've created a complete Vue.js todo"
    )
    assert t.final_output is None  # no finish action
    assert t.metadata == {"final_agent_state": "awaiting_user_input"}
    assert t.task.prompt.startswith("I want to create a VueJS app")


def test_basic_interactions_is_a_chat():
    t = one(load("basic_interactions.json"))
    assert [s.role for s in t.steps] == ["user", "assistant"] * 3
    assert [s.text for s in t.steps[:3]] == [
        "what's 1+1?",
        "1 + 1 equals 2.",
        "No, I mean by Goldbach's conjecture!",
    ]
    assert t.task.prompt == "what's 1+1?"
    assert t.model == "gpt-4o-2024-08-06"
    assert (
        t.final_output == "All done! What's next on the agenda?"
    )  # finish with empty thought: the message
    assert all(not s.tool_calls for s in t.steps)


def test_wrong_initial_state_read_and_run():
    t = one(load("wrong_initial_state.json"))
    assert len(t.steps) == 8
    read = t.steps[1].tool_calls[0]
    assert (read.name, read.arguments["path"], read.arguments["end"]) == (
        "str_replace_editor",
        "/workspace",
        -1,
    )
    run = t.steps[3].tool_calls[0]
    assert run.arguments["command"] == "mv /workspace/game_2048.py /workspace/2048.py"
    assert t.steps[4].tool_results[0].call_id == run.id == "toolu_01PuY3mXrE6fm3j52GscR4rj"
    assert t.final_output.startswith("The file has been successfully renamed")


# --------------------------------------------------------------------------- synthetic events


def ev(id_, source, **fields):
    return {
        "id": id_,
        "timestamp": f"2025-01-01T00:00:{id_:02d}",
        "source": source,
        "message": "",
        **fields,
    }


SYNTHETIC = [
    ev(0, "user", action="message", args={"content": "Run the tests"}),
    ev(1, "agent", action="think", args={"thought": "Tests live in tests/."}),
    ev(2, "agent", observation="think", content="Your thought has been logged.", cause=1),
    ev(3, "agent", action="run", args={"command": "pytest -q", "thought": "Run them."}),
    ev(
        4,
        "agent",
        observation="run",
        content="1 failed",
        cause=3,
        extras={"metadata": {"exit_code": 1}},
    ),
    ev(5, "agent", action="run", args={"command": "ls", "hidden": True}),
    ev(
        6,
        "agent",
        observation="run",
        content="x",
        cause=5,
        extras={"hidden": True, "metadata": {"exit_code": 0}},
    ),
    ev(7, "agent", action="browse", args={"url": "http://x"}),
    ev(8, "agent", observation="error", content="Timeout", cause=7),
    ev(
        9,
        "agent",
        observation="run",
        content="late",
        cause=99,
        extras={"metadata": {"exit_code": None}},
    ),
    ev(10, "user", action="recall", args={"query": "Run the tests"}),
    ev(11, "environment", observation="recall", content="microagent text", cause=10),
    ev(
        12,
        "agent",
        action="finish",
        args={"outputs": {}, "thought": "", "final_thought": "All tests pass now."},
    ),
]


def test_synthetic_stream_rules():
    t = one(copy.deepcopy(SYNTHETIC))
    assert [s.raw_ref for s in t.steps] == [
        "event 0",
        "event 1",
        "event 3",
        "event 4",
        "event 7",
        "event 8",
        "event 9",
        "event 12",
    ]
    assert [s.role for s in t.steps] == [
        "user",
        "assistant",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert t.steps[1].text == "Tests live in tests/." and not t.steps[1].tool_calls
    run = t.steps[2].tool_calls[0]
    assert (run.id, run.name, run.arguments) == ("3", "run", {"command": "pytest -q"})
    assert t.steps[2].reasoning == "Run them."
    failed = t.steps[3].tool_results[0]
    assert (failed.call_id, failed.content, failed.is_error) == ("3", "1 failed", True)
    browse_error = t.steps[5].tool_results[0]
    assert (browse_error.call_id, browse_error.is_error) == ("7", True)
    orphan = t.steps[6].tool_results[0]
    assert (orphan.call_id, orphan.is_error) == ("99", False)
    assert t.steps[7].text == "All tests pass now."
    assert t.final_output == "All tests pass now."
    assert t.model is None
    assert t.steps[3].timestamp == "2025-01-01T00:00:04"


def test_observation_takes_the_tool_call_id_of_its_cause():
    """The observation itself has no tool_call_metadata: the id comes from the action it answers."""
    tcm = {
        "function_name": "execute_bash",
        "tool_call_id": "toolu_A",
        "model_response": {"model": "m-1"},
    }
    events = [
        ev(0, "user", action="message", args={"content": "list files"}),
        ev(1, "agent", action="run", args={"command": "ls"}, tool_call_metadata=tcm),
        ev(2, "agent", observation="run", content="a b", cause=1),
    ]
    t = one(events)
    assert t.steps[1].tool_calls[0].id == "toolu_A"
    assert t.steps[2].tool_results[0].call_id == "toolu_A"
    assert t.model == "m-1"


def test_finish_outputs_take_precedence():
    events = [
        ev(0, "user", action="message", args={"content": "Q"}),
        ev(1, "agent", action="finish", args={"outputs": {"answer": "42"}, "thought": "Because."}),
    ]
    t = one(events)
    assert t.final_output == '{"answer": "42"}'
    assert t.steps[1].reasoning == "Because."


@pytest.mark.parametrize(
    "record",
    [
        None,
        {"id": 0, "source": "user", "action": "message"},
        "events",
        [ev(0, "user", action="message", args={"content": "hi"}), "junk"],
        [ev(0, "user", content="no action or observation")],
        [ev(0, "user", action=["message"])],
        [ev(0, "agent", action="run", args=["pytest"])],
    ],
)
def test_malformed_streams_raise_format_error(record):
    with pytest.raises(TrajectoryFormatError):
        FMT.parse(record, "bad.json")


def test_sniff_rejects_other_formats_and_junk():
    tau = json.loads((DATA / "tau-bench/historical_trajectories/gpt-4o-airline.json").read_text())[
        0
    ]
    swe = json.loads(next((DATA / "swe-agent").rglob("*.traj")).read_text())
    claude = json.loads(
        (DATA / "claude-code-transcripts-fixture/tests/sample_session.jsonl")
        .read_text()
        .splitlines()[1]
    )
    atif = {"schema_version": "ATIF-v1.4", "session_id": "s", "agent": {}, "steps": []}
    samples = [
        tau,
        {"messages": tau["traj"]},
        swe,
        claude,
        atif,
        None,
        3,
        "x",
        [],
        {},
        [1, 2],
        {"id": True, "source": "user", "action": "x"},
        {"id": "0", "source": "user", "action": "x"},
        {"id": 0, "source": "bot", "action": "x"},
        {"id": 0, "source": ["user"], "action": "x"},
        {"id": 0, "source": "user"},
    ]
    for sample in samples:
        assert FMT.sniff(sample, "array") is False


BASES = [load("basic_gui_mode.json"), SYNTHETIC]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_streams_only_raise_format_errors(data):
    events = mutate(copy.deepcopy(data.draw(st.sampled_from(BASES))), data)
    FMT.sniff(events[0] if isinstance(events, list) and events else events, "array")
    try:
        for t in FMT.parse(events, "fuzz.json"):
            assert [s.index for s in t.steps] == list(range(len(t.steps)))
    except TrajectoryFormatError:
        pass
