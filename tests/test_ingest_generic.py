"""The generic importer: user-named fields (dotted paths) for task, steps/transcript, outcome, truth."""

from __future__ import annotations

import json

import pytest

from trace2skill.errors import MappingError
from trace2skill.ingest import FieldMapping, import_paths
from trace2skill.store.trajectories import get_trajectory, trajectory_ids

GSM8K_LIKE = [
    {"question": "Tom has 3 apples and buys 2 more. How many?", "ground_truth": "3 + 2 = <<3+2=5>>5\nA: 5",
     "6b_finetuning": {"is_correct": True, "solution": "3 + 2 = 5. A: 5"}},
    {"question": "What is 7 * 6?", "ground_truth": "A: 42",
     "6b_finetuning": {"is_correct": False, "solution": "7 * 6 = 48. A: 48"}},
]


def _write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_transcript_mapping_with_dotted_paths(ws, tmp_path):
    data = _write_jsonl(tmp_path / "gsm8k.jsonl", GSM8K_LIKE)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("task: question\ntranscript: 6b_finetuning.solution\n"
                       "outcome: 6b_finetuning.is_correct\nground_truth: ground_truth\n")
    report = import_paths(ws, [data], mapping=mapping)
    assert report.errors == []
    assert report.files[0].format == "generic"
    rows = [get_trajectory(ws.db, i) for i in trajectory_ids(ws.db)]
    by_task = {r.task: r for r in rows}
    right = by_task["Tom has 3 apples and buys 2 more. How many?"]
    assert right.outcome == "success"
    assert right.ground_truth == {"answer": "3 + 2 = <<3+2=5>>5\nA: 5"}
    assert right.steps[0].text == "3 + 2 = 5. A: 5"
    assert by_task["What is 7 * 6?"].outcome == "failure"


def test_steps_mapping_with_step_fields_and_custom_outcome_values(ws, tmp_path):
    records = [{
        "meta": {"prompt": "fix the bug", "id": "T-1"},
        "trace": [
            {"who": "assistant", "say": "running tests", "cmd": "pytest", "args": {"k": "x"},
             "out": "1 failed", "bad": True},
            {"who": "assistant", "say": "patched", "cmd": "edit", "args": "{\"file\": \"a.py\"}", "out": "ok"},
        ],
        "result": {"status": "PASS", "score": 0.9},
    }]
    data = tmp_path / "runs.json"
    data.write_text(json.dumps(records))
    mapping = {
        "task": "meta.prompt", "task_id": "meta.id", "steps": "trace",
        "step_fields": {"role": "who", "text": "say", "tool": "cmd", "arguments": "args",
                        "observation": "out", "is_error": "bad"},
        "outcome": "result.status", "success_values": ["PASS"], "reward": "result.score",
    }
    report = import_paths(ws, [data], mapping=mapping)
    assert report.errors == []
    t = get_trajectory(ws.db, report.files[0].trajectory_ids[0])
    assert (t.task_id, t.outcome, t.reward) == ("T-1", "success", 0.9)
    assert t.steps[0].tool_calls[0].model_dump() == {"id": None, "name": "pytest", "arguments": {"k": "x"}}
    assert t.steps[0].tool_results[0].is_error is True
    assert t.steps[1].tool_calls[0].arguments == {"file": "a.py"}
    assert t.steps[1].tool_results[0].is_error is False


def test_missing_task_field_is_a_per_record_error(ws, tmp_path):
    data = _write_jsonl(tmp_path / "x.jsonl", [GSM8K_LIKE[0], {"other": 1}, GSM8K_LIKE[1]])
    report = import_paths(ws, [data], mapping={"task": "question", "transcript": "6b_finetuning.solution"})
    assert report.imported == 2
    [issue] = report.errors
    assert (issue.record, issue.line) == (1, 2)
    assert "'question'" in issue.problem and "not found" in issue.problem
    assert str(issue).startswith(f"{data}: record 1 (line 2): ")


@pytest.mark.parametrize("mapping, message", [
    ({"transcript": "x"}, "task"),
    ({"task": "q"}, "either 'steps'"),
    ({"task": "q", "transcript": "t", "colour": "red"}, "colour"),
])
def test_invalid_mappings_are_refused_clearly(mapping, message):
    with pytest.raises(MappingError, match=message):
        FieldMapping.load(mapping)


def test_generic_format_needs_a_mapping(ws, tmp_path):
    data = _write_jsonl(tmp_path / "x.jsonl", GSM8K_LIKE)
    with pytest.raises(MappingError, match="--mapping"):
        import_paths(ws, [data], format_name="generic")
