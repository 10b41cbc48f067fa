"""ATIF importer, on hand-built trajectories following FORMATS.md §4 (no real sample)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.atif import ATIFFormat

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FMT = ATIFFormat()

V14 = {
    "schema_version": "ATIF-v1.4",
    "session_id": "0b7c9e2a-hello-world-trial-1",
    "agent": {
        "name": "terminus-2",
        "version": "2.0.0",
        "model_name": "anthropic/claude-sonnet-4-5",
    },
    "steps": [
        {
            "step_id": 1,
            "timestamp": "2025-10-11T10:00:00Z",
            "source": "system",
            "message": "You are an AI agent operating a Linux terminal.",
        },
        {
            "step_id": 2,
            "timestamp": "2025-10-11T10:00:01Z",
            "source": "user",
            "message": "Create /app/hello.txt containing 'Hello, world!'",
        },
        {
            "step_id": 3,
            "timestamp": "2025-10-11T10:00:05Z",
            "source": "agent",
            "model_name": "anthropic/claude-sonnet-4-5",
            "message": "I'll look at /app first.",
            "reasoning_content": "Check what exists before writing.",
            "tool_calls": [
                {
                    "tool_call_id": "call_1",
                    "function_name": "bash_command",
                    "arguments": {"keystrokes": "ls -la /app\n", "duration": 0.5},
                }
            ],
            "observation": {"results": [{"source_call_id": "call_1", "content": "total 0"}]},
            "metrics": {
                "prompt_tokens": 1200,
                "completion_tokens": 80,
                "cached_tokens": 0,
                "cost_usd": 0.004,
            },
        },
        {
            "step_id": 4,
            "timestamp": "2025-10-11T10:00:09Z",
            "source": "agent",
            "message": "Writing the file.",
            "tool_calls": [
                {
                    "tool_call_id": "call_2",
                    "function_name": "bash_command",
                    "arguments": {"keystrokes": "echo 'Hello, world!' > /app/hello.txt\n"},
                },
                {
                    "tool_call_id": "call_3",
                    "function_name": "bash_command",
                    "arguments": {"keystrokes": "cat /app/helo.txt\n"},
                },
            ],
            "observation": {
                "results": [
                    {"source_call_id": "call_2", "content": ""},
                    {
                        "source_call_id": "call_3",
                        "content": "cat: /app/helo.txt: No such file or directory",
                    },
                ]
            },
        },
        {
            "step_id": 5,
            "timestamp": "2025-10-11T10:00:12Z",
            "source": "agent",
            "message": "The file /app/hello.txt now contains 'Hello, world!'.",
            "tool_calls": [
                {"tool_call_id": "call_4", "function_name": "mark_task_complete", "arguments": {}}
            ],
            "observation": {
                "results": [{"source_call_id": "call_4", "content": "Task marked as complete."}]
            },
        },
    ],
    "notes": "Recorded by the Terminus-2 harness.",
    "final_metrics": {
        "total_prompt_tokens": 5200,
        "total_completion_tokens": 310,
        "total_cached_tokens": 2400,
        "total_cost_usd": 0.019,
        "total_steps": 5,
    },
}

V16 = {
    "schema_version": "ATIF-v1.6",
    "session_id": "mm-7",
    "agent": {"name": "my-agent", "version": "0.3"},
    "steps": [
        {
            "step_id": 1,
            "source": "user",
            "message": [
                {"type": "text", "text": "What is in this screenshot?"},
                {"type": "image", "source": {"media_type": "image/png", "path": "images/shot.png"}},
            ],
        },
        {
            "step_id": 2,
            "source": "agent",
            "model_name": "openai/gpt-5",
            "message": [{"type": "text", "text": "Zooming in."}],
            "tool_calls": [
                {"tool_call_id": "z1", "function_name": "zoom", "arguments": '{"factor": 2}'}
            ],
            "observation": {
                "results": [
                    {
                        "source_call_id": "z1",
                        "content": [
                            {"type": "text", "text": "zoomed"},
                            {"type": "image", "source": {"path": "images/zoom.png"}},
                        ],
                    },
                    {"content": "unsolicited note"},
                ]
            },
        },
        {"step_id": 3, "source": "agent", "message": "A login form."},
    ],
}


def result_json(reward=None, exception=None, verifier=True):
    return {
        "task_name": "hello-world",
        "trial_name": "hello-world__AbC123",
        "task_checksum": "9f2c",
        "started_at": "2025-10-11T09:59:50Z",
        "finished_at": "2025-10-11T10:01:00Z",
        "config": {
            "agent": {"name": "terminus-2", "model_name": "anthropic/claude-sonnet-4-5"},
            "task": {"path": "tasks/hello-world"},
        },
        "agent_result": {"n_input_tokens": 5200, "n_output_tokens": 310, "cost_usd": 0.019},
        "verifier_result": {"rewards": {"reward": reward}} if verifier else None,
        "exception_info": exception,
    }


def one(record):
    trajectories = FMT.parse(copy.deepcopy(record), "trajectory.json")
    assert len(trajectories) == 1
    return trajectories[0]


def test_sniff_accepts_atif_and_bundles():
    assert FMT.sniff(V14, "object") is True
    assert FMT.sniff(V16, "jsonl") is True
    assert FMT.sniff({"trajectory": V14, "result": result_json(1.0)}, "object") is True
    assert FMT.sniff({"trajectory": V14, "reward": 1.0}, "array") is True


def test_v14_steps_calls_and_results_in_same_step():
    t = one(V14)
    assert t.source_format == "atif" and t.source_name == "trajectory.json" and t.id == ""
    assert [s.role for s in t.steps] == ["system", "user", "assistant", "assistant", "assistant"]
    assert [s.index for s in t.steps] == [0, 1, 2, 3, 4]
    assert [s.raw_ref for s in t.steps] == [f"step {i}" for i in range(1, 6)]
    look = t.steps[2]
    assert (look.text, look.reasoning) == (
        "I'll look at /app first.",
        "Check what exists before writing.",
    )
    assert look.tool_calls[0].model_dump() == {
        "id": "call_1",
        "name": "bash_command",
        "arguments": {"keystrokes": "ls -la /app\n", "duration": 0.5},
    }
    assert look.tool_results[0].model_dump() == {
        "call_id": "call_1",
        "content": "total 0",
        "is_error": False,
    }
    write = t.steps[3]
    assert [c.id for c in write.tool_calls] == ["call_2", "call_3"]
    assert [r.call_id for r in write.tool_results] == ["call_2", "call_3"]
    assert write.tool_results[1].content == "cat: /app/helo.txt: No such file or directory"
    assert t.steps[1].timestamp == "2025-10-11T10:00:01Z"


def test_v14_task_model_metadata_outcome():
    t = one(V14)
    assert t.task.id == "0b7c9e2a-hello-world-trial-1"
    assert t.task.prompt == "Create /app/hello.txt containing 'Hello, world!'"
    assert t.model == "anthropic/claude-sonnet-4-5"
    assert t.final_output == "The file /app/hello.txt now contains 'Hello, world!'."
    assert (t.outcome.label, t.outcome.reward, t.outcome.detail) == ("unknown", None, None)
    assert t.metadata["agent_name"] == "terminus-2" and t.metadata["agent_version"] == "2.0.0"
    assert t.metadata["final_metrics"]["total_steps"] == 5
    assert t.metadata["notes"] == "Recorded by the Terminus-2 harness."
    assert t.metadata["schema_version"] == "ATIF-v1.4"
    assert "termination" not in t.metadata


def test_v16_content_parts():
    t = one(V16)
    assert t.task.prompt == "What is in this screenshot?\n[image]"
    step = t.steps[1]
    assert step.text == "Zooming in."
    assert step.tool_calls[0].arguments == {"factor": 2}  # a JSON string is parsed
    assert step.tool_results[0].content == "zoomed\n[image]"
    assert (
        step.tool_results[1].call_id is None and step.tool_results[1].content == "unsolicited note"
    )
    assert t.model == "openai/gpt-5"  # no agent.model_name: the first step's
    assert t.final_output == "A login form."


@pytest.mark.parametrize(
    ("reward", "label"), [(1.0, "success"), (1, "success"), (0.0, "failure"), (0.99, "failure")]
)
def test_harbor_bundle_reward(reward, label):
    t = one({"trajectory": V14, "result": result_json(reward)})
    assert (t.outcome.label, t.outcome.reward) == (label, float(reward))
    assert t.outcome.detail == f"verifier reward: {float(reward):g}"
    assert t.task.id == "hello-world"  # the bundle names the task; session_id stays in metadata
    assert t.metadata["session_id"] == "0b7c9e2a-hello-world-trial-1"
    assert t.metadata["trial_name"] == "hello-world__AbC123"
    assert len(t.steps) == 5


def test_harbor_bundle_infrastructure_exception():
    exception = {"exception_type": "DaytonaError", "exception_message": "sandbox failed to start"}
    t = one({"trajectory": V14, "result": result_json(exception=exception, verifier=False)})
    assert (t.outcome.label, t.outcome.reward) == ("unknown", None)
    assert t.outcome.detail == "infrastructure failure: DaytonaError: sandbox failed to start"
    assert t.metadata["termination"] == "DaytonaError"


def test_exception_with_verifier_result_is_still_labelled():
    exception = {"exception_type": "AgentTimeoutError", "exception_message": "timed out"}
    t = one({"trajectory": V14, "result": result_json(0.0, exception=exception)})
    assert (t.outcome.label, t.outcome.reward) == ("failure", 0.0)
    assert t.metadata["termination"] == "AgentTimeoutError"


def test_reward_beside_or_inside_the_trajectory():
    assert one({"trajectory": V14, "reward": 1.0}).outcome.label == "success"
    inner = copy.deepcopy(V14)
    inner["extra"] = {"reward": 0.0}
    assert (one(inner).outcome.label, one(inner).outcome.reward) == ("failure", 0.0)


def _steps(*steps):
    return V14 | {"steps": list(steps)}


AGENT = {"step_id": 1, "source": "agent", "message": "x"}


@pytest.mark.parametrize(
    ("record", "needle"),
    [
        (None, "ATIF record"),
        ([V14], "ATIF record"),
        ({k: v for k, v in V14.items() if k != "steps"}, "no 'steps'"),
        (V14 | {"steps": {"1": AGENT}}, "'steps'"),
        (V14 | {"steps": []}, "no steps"),
        (_steps(AGENT, "step two"), "steps[1]"),
        (_steps(AGENT, AGENT | {"step_id": 3}), "steps[1]: step_id should be 2"),
        (_steps(AGENT | {"step_id": 0}), "step_id should be 1"),
        (_steps(AGENT | {"step_id": "1"}), "step_id should be 1"),
        (_steps(AGENT | {"step_id": True}), "step_id should be 1"),
        (_steps(AGENT | {"source": "robot"}), "source"),
        (_steps(AGENT | {"message": {"text": "x"}}), "message"),
        (_steps(AGENT | {"tool_calls": {"tool_call_id": "a"}}), "tool_calls"),
        (_steps(AGENT | {"tool_calls": [{"tool_call_id": "a", "arguments": {}}]}), "function_name"),
        (_steps(AGENT | {"tool_calls": [{"function_name": "f"}]}), "tool_call_id"),
        (_steps(AGENT | {"observation": ["ok"]}), "observation"),
        (
            _steps(
                AGENT | {"observation": {"results": [{"source_call_id": "ghost", "content": "x"}]}}
            ),
            "ghost",
        ),
        (
            _steps(
                AGENT
                | {
                    "tool_calls": [{"tool_call_id": "a", "function_name": "f", "arguments": {}}],
                    "observation": {"results": [{"source_call_id": "b"}]},
                }
            ),
            "source_call_id 'b'",
        ),
        (V14 | {"schema_version": "1.4"}, "schema_version"),
        (V14 | {"agent": "terminus"}, "'agent'"),
        ({"trajectory": "not an object", "result": {}}, "'trajectory'"),
        ({"trajectory": V14, "result": ["reward"]}, "'result'"),
        ({"trajectory": V14, "result": result_json("1.0")}, "reward should be a number"),
    ],
)
def test_malformed_records_raise_format_error(record, needle):
    with pytest.raises(TrajectoryFormatError) as info:
        FMT.parse(record, "bad.json")
    assert needle in str(info.value)


def test_sniff_rejects_other_formats_and_junk():
    tau = json.loads((DATA / "tau-bench/historical_trajectories/gpt-4o-airline.json").read_text())[
        0
    ]
    swe = json.loads(next((DATA / "swe-agent").rglob("*.traj")).read_text())
    openhands = json.loads((DATA / "openhands/tests/runtime/trajs/basic.json").read_text())
    samples = [
        tau,
        {"messages": tau["traj"]},
        swe,
        openhands[0],
        openhands,
        None,
        3,
        "x",
        [],
        {},
        [1, 2],
        V14 | {"schema_version": "v1.4"},
        V14 | {"schema_version": 1.4},
        V14 | {"steps": "none"},
        {"trajectory": [V14]},
        {"trajectory": V14 | {"steps": None}, "result": {}},
    ]
    for sample in samples:
        assert FMT.sniff(sample, "object") is False


BASES = [V14, V16, {"trajectory": V14, "result": result_json(1.0)}]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_records_only_raise_format_errors(data):
    record = mutate(copy.deepcopy(data.draw(st.sampled_from(BASES))), data)
    FMT.sniff(record, "object")
    try:
        for t in FMT.parse(record, "fuzz.json"):
            assert [s.index for s in t.steps] == list(range(len(t.steps)))
    except TrajectoryFormatError:
        pass
