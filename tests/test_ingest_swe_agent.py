"""SWE-agent .traj importer, against the two real files in shared/data/swe-agent."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutation import mutate

from trace2skill.errors import TrajectoryFormatError
from trace2skill.ingest.swe_agent import SWEAgentFormat

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SWE = DATA / "swe-agent"
PYDICOM = next(SWE.glob("tests/test_data/trajectories/*/pydicom__pydicom-1458.traj"))
MARSHMALLOW = next(
    SWE.glob("trajectories/demonstrations/*/marshmallow-code__marshmallow-1867.traj")
)
FMT = SWEAgentFormat()


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def one(record, source_name="run.traj"):
    trajectories = FMT.parse(record, source_name)
    assert len(trajectories) == 1
    return trajectories[0]


def minimal(exit_status="submitted", submission="diff --git a/x b/x", user="ISSUE:\nBug X\n"):
    return {
        "environment": "main",
        "trajectory": [
            {
                "action": "ls -la\n",
                "observation": "a.py\nb.py",
                "thought": "Look.",
                "response": "Look.\n```\nls -la\n```",
            },
            {"action": "submit", "observation": "diff", "thought": "Done.", "response": "Done."},
        ],
        "history": [{"role": "system", "content": "sys"}, {"role": "user", "content": user}],
        "info": {"exit_status": exit_status, "submission": submission},
    }


# --------------------------------------------------------------------------- real samples


def test_sniff_accepts_both_real_files():
    assert FMT.sniff(load(PYDICOM), "object") is True
    assert FMT.sniff(load(MARSHMALLOW), "object") is True


def test_pydicom_0x_run_steps_calls_and_results():
    record = load(PYDICOM)
    t = one(record, str(PYDICOM))
    assert t.source_format == "swe_agent" and t.source_name == str(PYDICOM) and t.id == ""
    assert [s.index for s in t.steps] == list(range(12))
    assert {s.role for s in t.steps} == {"assistant"}
    assert [s.raw_ref for s in t.steps] == [f"trajectory[{i}]" for i in range(12)]
    names = [s.tool_calls[0].name for s in t.steps]
    assert names == [
        "create",
        "edit",
        "python",
        "find_file",
        "open",
        "edit",
        "edit",
        "edit",
        "edit",
        "python",
        "rm",
        "submit",
    ]
    first = t.steps[0]
    assert first.tool_calls[0].arguments == {"command": "create reproduce_bug.py\n"}
    assert first.reasoning.startswith("First, I'll create a new Python script")
    # 0.x response = thought + the fenced command, so it is kept as text
    assert first.text.endswith("```\ncreate reproduce_bug.py\n```")
    for step in t.steps:
        assert len(step.tool_results) == 1
        assert step.tool_results[0].call_id == step.tool_calls[0].id
        assert step.tool_results[0].call_id is not None
        assert step.tool_results[0].is_error is False
    assert t.steps[2].tool_results[0].content.startswith("Traceback (most recent call last):")
    assert "E999 SyntaxError" in t.steps[5].tool_results[0].content
    assert t.steps[11].tool_results[0].content == record["trajectory"][11]["observation"]


def test_pydicom_task_outcome_and_metadata():
    record = load(PYDICOM)
    t = one(record, str(PYDICOM))
    assert t.task.id == "pydicom__pydicom-1458"  # from the file name
    # the demonstration user message is skipped; only the issue text is kept
    assert t.task.prompt.startswith("Pixel Representation attribute should be optional")
    assert t.task.prompt.endswith("np.array_equal(ds.pixel_array, pixel_array)\r\n```")
    assert "INSTRUCTIONS" not in t.task.prompt and "DEMONSTRATION" not in t.task.prompt
    assert t.model is None
    assert (t.outcome.label, t.outcome.reward, t.outcome.detail) == (
        "unknown",
        None,
        "exit_status: submitted",
    )
    assert t.final_output == record["info"]["submission"]
    assert t.metadata["exit_status"] == "submitted"
    assert t.metadata["model_stats"]["api_calls"] == 12
    assert t.metadata["environment"] == "swe_main"
    assert "termination" not in t.metadata


def test_task_id_is_none_without_traj_file_name_or_config():
    assert one(load(PYDICOM), "upload.json").task.id is None


def test_marshmallow_1x_uses_real_tool_calls_from_history():
    t = one(load(MARSHMALLOW), "marshmallow.json")
    assert len(t.steps) == 11
    names = [s.tool_calls[0].name for s in t.steps]
    assert names == [
        "create",
        "insert",
        "bash",
        "bash",
        "find_file",
        "open",
        "edit",
        "edit",
        "bash",
        "bash",
        "submit",
    ]
    assert t.steps[0].tool_calls[0].id == "call_cyI71DYnRdoLHWwtZgIaW2wr"
    assert t.steps[0].tool_calls[0].arguments == {"filename": "reproduce.py"}
    assert t.steps[4].tool_calls[0].arguments == {"file_name": "fields.py", "dir": "src"}
    assert t.steps[5].tool_calls[0].arguments == {
        "path": "src/marshmallow/fields.py",
        "line_number": 1474,
    }
    assert t.steps[10].tool_calls[0].id == "call_submit"
    assert t.steps[10].tool_calls[0].arguments == {}
    for step in t.steps:
        assert step.tool_results[0].call_id == step.tool_calls[0].id
        assert step.text == ""  # response == thought
    assert t.steps[2].tool_results[0].content.startswith("344")
    assert t.steps[8].tool_results[0].content.startswith("345")


def test_marshmallow_task_model_outcome():
    t = one(load(MARSHMALLOW), "marshmallow.json")
    assert t.task.id == "marshmallow-code__marshmallow-1867"  # replay_config.problem_statement.id
    assert t.task.prompt.startswith("TimeDelta serialization precision\nHi there!")
    assert t.task.prompt.endswith("fields.py#L1474")
    assert t.model == "gpt-4o"
    assert t.outcome.label == "unknown" and t.outcome.detail == "exit_status: submitted"
    assert t.final_output.startswith("\r\ndiff --git a/src/marshmallow/fields.py")


def test_repr_string_tool_calls_and_json_string_replay_config():
    """FORMATS.md: in 1.x files tool_calls are Python-repr strings, replay_config a JSON string."""
    record = load(MARSHMALLOW)
    record["replay_config"] = json.dumps(record["replay_config"])
    for message in record["history"]:
        if "tool_calls" in message:
            message["tool_calls"] = repr(message["tool_calls"])
    t = one(record)
    assert t.steps[5].tool_calls[0].name == "open"
    assert t.steps[5].tool_calls[0].arguments == {
        "path": "src/marshmallow/fields.py",
        "line_number": 1474,
    }
    assert t.model == "gpt-4o"
    assert t.task.id == "marshmallow-code__marshmallow-1867"


def test_unpairable_history_falls_back_to_action_text():
    record = load(MARSHMALLOW)
    assistant = [i for i, m in enumerate(record["history"]) if m["role"] == "assistant"]
    del record["history"][assistant[3]]  # counts no longer match: no pairing at all
    t = one(record)
    call = t.steps[0].tool_calls[0]
    assert (call.id, call.name, call.arguments) == (
        "action-0",
        "create",
        {"command": "create reproduce.py"},
    )
    assert t.steps[0].tool_results[0].call_id == "action-0"


def test_mismatched_or_broken_history_call_only_affects_that_step():
    record = load(MARSHMALLOW)
    assistant = [m for m in record["history"] if m["role"] == "assistant"]
    assistant[2]["action"] = "something else"
    assistant[3]["tool_calls"] = "[{'function': {broken"
    t = one(record)
    assert t.steps[2].tool_calls[0].name == "python"
    assert t.steps[2].tool_calls[0].arguments == {"command": "python reproduce.py"}
    assert t.steps[3].tool_calls[0].name == "ls"
    assert t.steps[4].tool_calls[0].name == "find_file"
    assert t.steps[4].tool_calls[0].id == "call_ahToD2vM0aQWJPkRmy5cumru"


# --------------------------------------------------------------------------- rules on small records


@pytest.mark.parametrize(
    ("status", "submission", "label", "termination"),
    [
        ("submitted", "diff", "unknown", None),
        ("exit_cost", None, "failure", "exit_cost"),
        ("exit_context", "", "failure", "exit_context"),
        ("exit_format", "diff", "unknown", "exit_format"),
        ("submitted (exit_cost)", "diff", "unknown", "submitted (exit_cost)"),
    ],
)
def test_outcome_from_exit_status(status, submission, label, termination):
    t = one(minimal(exit_status=status, submission=submission))
    assert t.outcome.label == label
    assert t.outcome.detail == f"exit_status: {status}"
    assert t.metadata.get("termination") == termination
    assert t.metadata["exit_status"] == status


def test_no_exit_status_is_unknown_without_detail():
    t = one(minimal(exit_status=None, submission=None))
    assert (t.outcome.label, t.outcome.detail, t.final_output) == ("unknown", None, None)


def test_small_record_step_fields():
    t = one(minimal())
    step = t.steps[0]
    assert (step.role, step.reasoning, step.text) == (
        "assistant",
        "Look.",
        "Look.\n```\nls -la\n```",
    )
    assert step.tool_calls[0].name == "ls" and step.tool_calls[0].arguments == {
        "command": "ls -la\n"
    }
    assert step.tool_results[0].content == "a.py\nb.py"
    assert t.steps[1].text == ""
    assert t.task.prompt == "Bug X"
    assert t.task.id == "run"


def test_issue_tag_and_plain_prompt():
    tagged = one(minimal(user="Fix this:\n<issue>\nCrash on load\n</issue>\nThanks")).task.prompt
    assert tagged == "Crash on load"
    assert one(minimal(user="Please make it faster.")).task.prompt == "Please make it faster."


def test_0x_model_stats_repr_string_and_state_string():
    record = minimal()
    record["info"]["model_stats"] = "{'instance_cost': 0.5, 'api_calls': 3}"
    record["trajectory"][0]["state"] = '{"open_file": "n/a", "working_dir": "/repo"}'
    t = one(record)
    assert t.metadata["model_stats"] == {"instance_cost": 0.5, "api_calls": 3}


def test_empty_action_gives_no_tool_call():
    record = minimal()
    record["trajectory"][0]["action"] = ""
    step = one(record).steps[0]
    assert step.tool_calls == []
    assert step.tool_results[0].call_id is None and step.tool_results[0].content == "a.py\nb.py"


# --------------------------------------------------------------------------- errors and detection


def _mut(fn):
    record = minimal()
    fn(record)
    return record


@pytest.mark.parametrize(
    "record",
    [
        None,
        [],
        "x",
        {"history": [], "info": {}},
        _mut(lambda r: r.update(trajectory={"0": {}})),
        _mut(lambda r: r["trajectory"].append("step")),
        _mut(lambda r: r["trajectory"][0].update(action=["ls"])),
        _mut(lambda r: r["trajectory"][0].update(observation={"out": 1})),
        _mut(lambda r: r.update(info=["submitted"])),
        _mut(lambda r: r.update(history="hi")),
        _mut(lambda r: r["info"].update(exit_status=3)),
        _mut(lambda r: r["info"].update(submission=["diff"])),
    ],
)
def test_malformed_records_raise_format_error(record):
    with pytest.raises(TrajectoryFormatError):
        FMT.parse(record, "bad.traj")


def test_sniff_rejects_other_formats_and_junk():
    tau = json.loads((DATA / "tau-bench/historical_trajectories/gpt-4o-airline.json").read_text())[
        0
    ]
    openhands = json.loads((DATA / "openhands/tests/runtime/trajs/basic.json").read_text())
    claude = json.loads(
        (DATA / "claude-code-transcripts-fixture/tests/sample_session.jsonl")
        .read_text()
        .splitlines()[1]
    )
    atif = {"schema_version": "ATIF-v1.4", "session_id": "s", "agent": {}, "steps": []}
    for sample in (
        tau,
        {"messages": tau["traj"]},
        openhands[0],
        claude,
        atif,
        None,
        3,
        "x",
        [],
        {},
        [1, 2],
        {"trajectory": "x", "info": {}},
        {"trajectory": [1], "info": {}},
        {"trajectory": [], "info": None},
    ):
        assert FMT.sniff(sample, "object") is False


BASE = load(MARSHMALLOW)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_records_only_raise_format_errors(data):
    record = mutate(copy.deepcopy(BASE), data)
    FMT.sniff(record, "object")
    try:
        for t in FMT.parse(record, "fuzz.traj"):
            assert [s.index for s in t.steps] == list(range(len(t.steps)))
    except TrajectoryFormatError:
        pass
