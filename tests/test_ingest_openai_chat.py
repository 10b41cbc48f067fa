"""OpenAI chat transcripts: message lists, {"messages": ...} JSONL, legacy function calls, Responses items."""

from __future__ import annotations

import json

import pytest

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest import import_paths
from trace2skill.ingest.openai_chat import OpenAIChatFormat
from trace2skill.store.trajectories import get_trajectory, trajectory_ids

FMT = OpenAIChatFormat()

CHAT = [
    {"role": "system", "content": "You are a helpful agent."},
    {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]},
    {"role": "assistant", "content": None, "reasoning_content": "Need the weather tool.",
     "tool_calls": [{"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "Error: service unavailable"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_2", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{not json"}}]},
    {"role": "tool", "tool_call_id": "call_2", "content": "18C, sunny"},
    {"role": "assistant", "content": "It is 18C and sunny."},
]


def test_message_list_becomes_steps_in_order():
    [t] = FMT.parse(CHAT, "x.json")
    assert [s.role for s in t.steps] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert t.task.prompt == "What's the weather in Paris?"
    assert t.steps[2].reasoning == "Need the weather tool."
    assert t.steps[2].tool_calls[0].arguments == {"city": "Paris"}
    assert t.steps[4].tool_calls[0].arguments == "{not json"  # invalid JSON kept raw
    assert t.steps[3].tool_results[0].call_id == "call_1"
    assert t.steps[3].tool_results[0].is_error is True
    assert t.steps[5].tool_results[0].is_error is False
    assert t.final_output == "It is 18C and sunny."
    assert t.outcome.label == "unknown"


def test_envelope_carries_outcome_model_and_ground_truth():
    [t] = FMT.parse({"messages": CHAT, "model": "gpt-x", "reward": 1, "task_id": 7, "ground_truth": "18C"}, "f")
    assert (t.outcome.label, t.outcome.reward, t.model, t.task.id) == ("success", 1.0, "gpt-x", "7")
    assert t.ground_truth == {"answer": "18C"}
    [t] = FMT.parse({"messages": CHAT, "outcome": "failed"}, "f")
    assert t.outcome.label == "failure"


def test_legacy_function_call_and_responses_items():
    [t] = FMT.parse([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": "{\"q\": 1}"}},
        {"role": "function", "name": "lookup", "content": "found"},
    ], "f")
    assert t.steps[1].tool_calls[0].name == "lookup"
    assert t.steps[2].tool_results[0].content == "found"
    [t] = FMT.parse([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "use ls"}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\": \"ls\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
    ], "f")
    assert [s.role for s in t.steps] == ["user", "assistant", "assistant", "tool"]
    assert t.steps[1].reasoning == "use ls"
    assert t.steps[2].tool_calls[0].arguments == {"cmd": "ls"}
    assert t.steps[3].tool_results[0].call_id == "c1"


@pytest.mark.parametrize("bad", [
    [], [{"role": "wizard", "content": "x"}], [{"role": "assistant", "tool_calls": "nope"}],
    [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}], {"messages": 3}, {"nomessages": []},
])
def test_malformed_records_raise_format_errors(bad):
    with pytest.raises(TrajectoryFormatError):
        FMT.parse(bad, "f")


def test_array_file_is_one_trajectory_and_jsonl_of_lists_is_many(ws, tmp_path):
    array_file = tmp_path / "chat.json"
    array_file.write_text(json.dumps(CHAT))
    jsonl_file = tmp_path / "chats.jsonl"
    jsonl_file.write_text("\n".join(json.dumps(CHAT[:2] + [{"role": "assistant", "content": f"answer {i}"}])
                                    for i in range(3)))
    report = import_paths(ws, [array_file, jsonl_file])
    assert [(f.format, f.imported) for f in report.files] == [("openai_chat", 1), ("openai_chat", 3)]
    steps = {len(get_trajectory(ws.db, i).steps) for i in trajectory_ids(ws.db)}
    assert steps == {7, 3}
