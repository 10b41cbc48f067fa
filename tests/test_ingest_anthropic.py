"""Anthropic Messages importer, on hand-built records following FORMATS.md §2 (no real sample)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.anthropic import AnthropicMessagesFormat

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FMT = AnthropicMessagesFormat()
MODEL = "claude-sonnet-4-5-20250929"

RECORD = {
    "model": MODEL,
    "max_tokens": 4096,
    "system": [
        {
            "type": "text",
            "text": "You are a careful data analyst.",
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "text", "text": "Always verify numbers with SQL."},
    ],
    "tools": [
        {
            "name": "run_sql",
            "description": "Run SQL",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
        {
            "name": "read_file",
            "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    ],
    "messages": [
        {"role": "user", "content": "Which region had the highest Q3 revenue?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "Look at the sales table first.",
                    "signature": "EqQB",
                },
                {"type": "text", "text": "Let me check the schema."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "run_sql",
                    "input": {"query": "SELECT * FROM sales LIMIT 1"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": "region|quarter|revenue\nEMEA|Q3|100",
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "run_sql",
                    "input": {"query": "SELECT region, SUM(revenue) FROM sale GROUP BY region"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_03",
                    "name": "read_file",
                    "input": {"path": "notes.md"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "is_error": True,
                    "content": [{"type": "text", "text": "Error: no such table: sale"}],
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_03",
                    "content": [
                        {"type": "text", "text": "Q3 numbers are final."},
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": "iVBORw0",
                            },
                        },
                    ],
                },
                {"type": "text", "text": "Please hurry."},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy"},
                {
                    "type": "tool_use",
                    "id": "toolu_04",
                    "name": "run_sql",
                    "input": {
                        "query": "SELECT region, SUM(revenue) AS r FROM sales WHERE quarter='Q3' "
                        "GROUP BY region ORDER BY r DESC LIMIT 1"
                    },
                },
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_04", "content": "APAC|420"}],
        },
    ],
    "response": {
        "id": "msg_01XYZ",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "APAC had the highest Q3 revenue (420)."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 1200,
            "output_tokens": 30,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 900,
        },
    },
    "outcome": "success",
    "metadata": {"dataset": "sales-qa"},
}


def one(record):
    trajectories = FMT.parse(copy.deepcopy(record), "runs.jsonl")
    assert len(trajectories) == 1
    return trajectories[0]


def test_sniff_accepts_request_records():
    assert FMT.sniff(RECORD, "jsonl") is True
    assert FMT.sniff(RECORD, "object") is True
    assert (
        FMT.sniff({"system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]}, "array")
        is True
    )
    assert (
        FMT.sniff(RECORD["messages"], "jsonl") is True
    )  # a JSONL line that is a bare message list


def test_full_record_steps():
    t = one(RECORD)
    assert t.source_format == "anthropic" and t.source_name == "runs.jsonl" and t.id == ""
    assert [s.role for s in t.steps] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert [s.index for s in t.steps] == list(range(9))
    assert t.steps[0].text == "You are a careful data analyst.\nAlways verify numbers with SQL."
    assert (
        t.steps[0].raw_ref == "system"
        and t.steps[1].raw_ref == "messages[0]"
        and t.steps[8].raw_ref == "response"
    )
    first = t.steps[2]
    assert (first.reasoning, first.text) == (
        "Look at the sales table first.",
        "Let me check the schema.",
    )
    assert first.tool_calls[0].model_dump() == {
        "id": "toolu_01",
        "name": "run_sql",
        "arguments": {"query": "SELECT * FROM sales LIMIT 1"},
    }
    assert t.steps[3].tool_results[0].call_id == "toolu_01"
    assert t.steps[3].tool_results[0].content == "region|quarter|revenue\nEMEA|Q3|100"
    assert [c.id for c in t.steps[4].tool_calls] == ["toolu_02", "toolu_03"]
    assert [c.name for c in t.steps[4].tool_calls] == ["run_sql", "read_file"]
    mixed = t.steps[5]
    assert mixed.text == "Please hurry."
    assert [(r.call_id, r.is_error) for r in mixed.tool_results] == [
        ("toolu_02", True),
        ("toolu_03", False),
    ]
    assert mixed.tool_results[0].content == "Error: no such table: sale"
    assert mixed.tool_results[1].content == "Q3 numbers are final.\n[image]"
    assert t.steps[6].reasoning == "[redacted]" and t.steps[6].tool_calls[0].id == "toolu_04"
    assert t.steps[7].tool_results[0].content == "APAC|420"
    assert t.steps[8].text == "APAC had the highest Q3 revenue (420)."


def test_full_record_task_outcome_metadata():
    t = one(RECORD)
    assert t.task.prompt == "Which region had the highest Q3 revenue?"
    assert t.model == MODEL
    assert t.final_output == "APAC had the highest Q3 revenue (420)."
    assert (t.outcome.label, t.outcome.reward, t.outcome.detail) == (
        "success",
        None,
        "outcome: success",
    )
    assert t.metadata["dataset"] == "sales-qa"
    assert t.metadata["stop_reason"] == "end_turn"
    assert t.metadata["usage"]["cache_read_input_tokens"] == 900
    assert t.metadata["tools"] == ["run_sql", "read_file"]
    assert "termination" not in t.metadata


def test_bare_message_list_record():
    t = one(RECORD["messages"])
    assert [s.role for s in t.steps][:3] == ["user", "assistant", "tool"]
    assert len(t.steps) == 7 and t.steps[0].raw_ref == "messages[0]"
    assert t.model is None and t.outcome.label == "unknown"
    assert t.final_output is None  # the last assistant message only calls a tool


@pytest.mark.parametrize(
    ("extra", "label", "reward", "detail"),
    [
        ({"reward": 1.0}, "success", 1.0, "reward: 1"),
        ({"reward": 1}, "success", 1.0, "reward: 1"),
        ({"reward": 0.5}, "failure", 0.5, "reward: 0.5"),
        ({"reward": 0.0}, "failure", 0.0, "reward: 0"),
        ({"outcome": False}, "failure", None, "outcome: false"),
        ({"outcome": "FAILURE", "reward": 1.0}, "failure", 1.0, "outcome: FAILURE"),
        ({"outcome": "partial"}, "unknown", None, "outcome: partial"),
        ({"is_correct": True}, "success", None, "is_correct: true"),
        ({"is_correct": False, "reward": 1.0}, "failure", 1.0, "is_correct: false"),
        ({}, "unknown", None, None),
    ],
)
def test_outcome_rules(extra, label, reward, detail):
    record = {k: v for k, v in RECORD.items() if k != "outcome"} | extra
    outcome = one(record).outcome
    assert (outcome.label, outcome.reward, outcome.detail) == (label, reward, detail)


@pytest.mark.parametrize("stop", ["max_tokens", "refusal"])
def test_terminal_stop_reason(stop):
    record = copy.deepcopy(RECORD)
    record["response"]["stop_reason"] = stop
    t = one(record)
    assert t.metadata["termination"] == stop and t.metadata["stop_reason"] == stop


def test_server_tools_and_string_system():
    record = {
        "system": "Search when unsure.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Latest Python release?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "python release"},
                    },
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "srvtoolu_1",
                        "content": {
                            "type": "web_search_tool_result_error",
                            "error_code": "max_uses_exceeded",
                        },
                    },
                    {"type": "text", "text": "I could not search."},
                ],
            },
        ],
    }
    t = one(record)
    assert [s.role for s in t.steps] == ["system", "user", "assistant"]
    step = t.steps[2]
    assert step.tool_calls[0].name == "web_search" and step.tool_calls[0].id == "srvtoolu_1"
    assert step.tool_results[0].call_id == "srvtoolu_1" and step.tool_results[0].is_error is True
    assert t.task.prompt == "Latest Python release?"
    assert t.final_output == "I could not search."


def _without(key):
    return {k: v for k, v in RECORD.items() if k != key}


@pytest.mark.parametrize(
    "record",
    [
        None,
        "messages",
        _without("messages"),
        RECORD | {"messages": {"role": "user"}},
        RECORD | {"messages": []},
        RECORD | {"messages": ["hello"]},
        RECORD | {"messages": [{"role": "tool", "content": "x"}]},
        RECORD | {"messages": [{"role": "user", "content": 7}]},
        RECORD | {"messages": [{"role": "user", "content": ["text"]}]},
        RECORD
        | {
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "input": {}}]}
            ]
        },
        RECORD | {"system": 5},
        RECORD | {"response": ["text"]},
        RECORD | {"reward": "1"},
        RECORD | {"reward": True},
        RECORD | {"outcome": ["success"]},
        RECORD | {"is_correct": "yes"},
    ],
)
def test_malformed_records_raise_format_error(record):
    with pytest.raises(TrajectoryFormatError):
        FMT.parse(record, "bad.jsonl")


def test_sniff_rejects_other_formats_and_junk():
    tau = json.loads((DATA / "tau-bench/historical_trajectories/gpt-4o-airline.json").read_text())[
        0
    ]
    openhands = json.loads((DATA / "openhands/tests/runtime/trajs/basic.json").read_text())
    swe = json.loads(next((DATA / "swe-agent").rglob("*.traj")).read_text())
    claude = [
        json.loads(x)
        for x in (DATA / "claude-code-transcripts-fixture/tests/sample_session.jsonl")
        .read_text()
        .splitlines()
    ]
    openai_tool = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ]
    }
    openai_system = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ]
    }
    openai_parts = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "tool", "content": "x"},
        ]
    }
    plain_chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    samples = [
        tau,
        {"messages": tau["traj"]},
        openhands[0],
        openhands,
        swe,
        claude[0],
        claude[2],
        openai_tool,
        openai_system,
        openai_parts,
        plain_chat,
        {"messages": plain_chat},
        None,
        3,
        "x",
        [],
        {},
        [1, 2],
        {"messages": "x"},
        {"messages": [{"role": ["user"], "content": []}]},
        {"messages": [{"role": "user", "content": 3}]},
    ]
    for sample in samples:
        assert FMT.sniff(sample, "jsonl") is False


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_records_never_raise_anything_else(data):
    record = mutate(copy.deepcopy(data.draw(st.sampled_from([RECORD, RECORD["messages"]]))), data)
    FMT.sniff(record, "jsonl")
    try:
        for t in FMT.parse(record, "fuzz.jsonl"):
            assert [s.index for s in t.steps] == list(range(len(t.steps)))
    except TrajectoryFormatError:
        pass
