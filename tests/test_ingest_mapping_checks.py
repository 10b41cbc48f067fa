"""Generic mappings that check themselves: paths tried on the first records before anything is
written (typo -> error naming the real keys; partial -> warning with the count), repeated per-record
errors grouped into one line, constants ({value: ...}), objects where text belongs refused, and
`import --dry-run` / the app's preview that show what would be imported without writing it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, TAU_BENCH
from streamlit.testing.v1 import AppTest

from trace2skill.cli import main
from trace2skill.errors import MappingError
from trace2skill.ingest import FieldMapping, import_paths
from trace2skill.ingest.issue_groups import group_issues
from trace2skill.ingest.mapping_check import check_mapping
from trace2skill.ingest.preview import preview_paths
from trace2skill.store import Workspace
from trace2skill.store.trajectories import count_trajectories, get_trajectory, trajectory_ids


def _records(n: int, *, truth_every: int = 0) -> list[dict]:
    """n graded answers; `result` holds the grade, `model_info` an object; every k-th has a truth."""
    out = []
    for i in range(n):
        record = {"question": f"What is {i} + 1?", "answer": f"It is {i + 1}.",
                  "result": {"is_correct": i % 3 != 0, "score": 1.0 if i % 3 else 0.0},
                  "model_info": {"name": "gpt-4o", "version": "2024-08-06"}}
        if truth_every and i % truth_every == 0:
            record["ground_truth"] = str(i + 1)
        out.append(record)
    return out


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


BASE = {"task": "question", "transcript": "answer", "outcome": "result.is_correct"}


# --------------------------------------------------------------------------- paths found in none / some


def test_a_misspelled_optional_path_is_an_error_naming_the_real_keys(ws, tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(30))
    with pytest.raises(MappingError) as caught:
        import_paths(ws, [data], mapping={**BASE, "outcome": "result.is_corect"})
    assert str(caught.value) == ('outcome path "result.is_corect" not found in any of the 30 records; '
                                 '"result" has keys: is_correct, score')
    assert count_trajectories(ws.db) == 0


def test_the_error_says_first_200_and_names_top_level_keys_when_the_first_part_is_wrong(ws, tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(250))
    with pytest.raises(MappingError, match=r'task path "questoin" not found in any of the first 200 records; '
                                           r"records have keys: question, answer, result, model_info"):
        import_paths(ws, [data], mapping={**BASE, "task": "questoin"})
    assert count_trajectories(ws.db) == 0


def test_the_cli_refuses_a_typo_in_one_line_and_writes_nothing(tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(30))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("task: question\ntranscript: answer\noutcome: result.is_corect\n")
    db = tmp_path / "w.db"
    code, out = _cli("import", str(data), "--mapping", str(mapping), "--db", str(db))
    assert code == 2
    assert out.count("error:") == 1
    assert 'error: outcome path "result.is_corect" not found' in out and "is_correct, score" in out
    assert count_trajectories(Workspace(db).db) == 0


def test_a_path_in_some_records_is_a_warning_with_the_count_reported_once(tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(50, truth_every=5))  # 10 of 50 have a truth
    db = tmp_path / "w.db"
    report = import_paths(Workspace(db), [data], mapping={**BASE, "ground_truth": "ground_truth"})
    assert report.imported == 50 and report.errors == []
    assert report.files[0].warnings == ["ground_truth: found in 10 of 50 records"]
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({**BASE, "ground_truth": "ground_truth"}))
    code, out = _cli("import", str(data), "--mapping", str(mapping), "--db", str(tmp_path / "w2.db"))
    assert code == 0
    assert out.count("ground_truth: found in 10 of 50 records") == 1
    code, out = _cli("import", str(data), "--mapping", str(mapping), "--db", str(tmp_path / "w3.db"), "--json")
    assert json.loads(out)["warnings"] == [f"{data}: ground_truth: found in 10 of 50 records"]


def test_outcome_values_that_read_as_no_label_are_a_warning():
    records = [{"q": "x", "t": "y", "grade": "partial" if i % 2 else "pass"} for i in range(10)]
    warnings = check_mapping(FieldMapping.load({"task": "q", "transcript": "t", "outcome": "grade"}), records)
    assert any(w.startswith("outcome: 5 of 10 values read as neither success nor failure ('partial')") for w in warnings)


def test_step_field_paths_are_checked_inside_the_steps(ws, tmp_path):
    records = [{"prompt": f"fix bug {i}", "trace": [{"who": "assistant", "say": "running", "cmd": "pytest"},
                                                    {"who": "assistant", "say": "done"}]} for i in range(5)]
    data = _jsonl(tmp_path / "runs.jsonl", records)
    mapping = {"task": "prompt", "steps": "trace", "step_fields": {"text": "say", "tool": "command"}}
    with pytest.raises(MappingError, match=r'step_fields.tool path "command" not found in any step of the 5 records; '
                                           r"steps have keys: who, say, cmd"):
        import_paths(ws, [data], mapping=mapping)
    mapping["step_fields"]["tool"] = "cmd"
    report = import_paths(ws, [data], mapping=mapping)
    assert report.imported == 5 and report.files[0].warnings == ["no outcome or reward named: every trajectory "
                                                                 "will count as unknown"]


def test_real_tau_bench_runs_mapped_by_hand(ws):
    mapping = {"task": "info.task.instruction", "steps": "traj", "reward": "reward", "task_id": "task_id",
               "model": {"value": "gpt-4o"}}
    with pytest.raises(MappingError, match=r'"info.task" has keys: user_id, actions, instruction'):
        import_paths(ws, [TAU_BENCH], mapping={**mapping, "task": "info.task.instructoin"})
    assert count_trajectories(ws.db) == 0
    report = import_paths(ws, [TAU_BENCH], mapping=mapping)
    assert (report.imported, report.errors, report.files[0].warnings) == (200, [], [])
    t = get_trajectory(ws.db, report.files[0].trajectory_ids[0])
    assert (t.model, t.task_id, t.outcome) == ("gpt-4o", "0", "failure")
    assert t.task and t.steps[0].role == "system"


# --------------------------------------------------------------------------- grouped errors


def test_the_same_error_in_many_records_is_one_grouped_line(tmp_path):
    records = _records(250)
    for record in records[200:]:  # past the records the check tries: 50 per-record errors
        del record["question"]
    data = _jsonl(tmp_path / "graded.jsonl", records)
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps(BASE))
    code, out = _cli("import", str(data), "--mapping", str(mapping), "--db", str(tmp_path / "w.db"))
    assert code == 1
    assert f"error: {data}: 50 records: field 'question' (task) not found; first at line 201" in out
    assert out.count("not found") == 1
    assert "200 trajectories imported, 0 already present, 50 errors" in out

    report = import_paths(Workspace(tmp_path / "w2.db"), [data], mapping=BASE)
    [group] = report.files[0].error_groups
    assert (group.count, len(group.examples), group.first.line) == (50, 5, 201)
    assert len(report.errors) == 50  # the per-record detail is kept
    assert report.as_dict()["files"][0]["error_groups"][0]["count"] == 50


def test_fifty_records_with_a_wrong_required_path_are_one_line(tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(50))
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({**BASE, "transcript": "answers"}))
    code, out = _cli("import", str(data), "--mapping", str(mapping), "--db", str(tmp_path / "w.db"))
    assert code == 2
    assert [line for line in out.splitlines() if "error" in line] == [
        'error: transcript path "answers" not found in any of the 50 records; '
        "records have keys: question, answer, result, model_info"]


def test_grouping_keeps_single_problems_as_they_were():
    class Issue:
        def __init__(self, problem: str, record: int, line: int | None):
            self.file, self.problem, self.record, self.line = "f.jsonl", problem, record, line

        def __str__(self) -> str:
            return f"f.jsonl: record {self.record}: {self.problem}"

    groups = group_issues([Issue("bad", 0, None), Issue("worse", 1, None), Issue("bad", 2, None)])
    assert [str(g) for g in groups] == ["f.jsonl: 2 records: bad; first at record 0", "f.jsonl: record 1: worse"]


# --------------------------------------------------------------------------- constants and types


def test_a_constant_model_and_outcome(ws, tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(6))
    mapping = tmp_path / "m.yaml"
    mapping.write_text("task: question\ntranscript: answer\nmodel: {value: gpt-4o-2024-08-06}\n"
                       "outcome: {value: failure}\ntask_id: {value: gsm8k}\n")
    report = import_paths(ws, [data], mapping=mapping)
    assert report.imported == 6 and report.errors == [] and report.files[0].warnings == []
    rows = [get_trajectory(ws.db, i) for i in trajectory_ids(ws.db)]
    assert {(r.model, r.outcome, r.task_id) for r in rows} == {("gpt-4o-2024-08-06", "failure", "gsm8k")}


@pytest.mark.parametrize("mapping, message", [
    ({**BASE, "model": {"value": {"name": "x"}}}, "the constant for model should be text, not an object"),
    ({**BASE, "outcome": {"value": "maybe"}}, r"the constant for outcome \('maybe'\) is not success"),
    ({**BASE, "reward": {"value": "high"}}, "the constant for reward should be a number"),
    ({**BASE, "model": {"valeu": "gpt-4o"}}, r"model: give a dotted path, or a constant written \{value: ...\}"),
])
def test_bad_constants_are_refused_clearly(mapping, message):
    with pytest.raises(MappingError, match=message):
        FieldMapping.load(mapping)


def test_an_object_at_the_model_path_is_a_type_error_never_a_stored_repr(ws, tmp_path):
    records = _records(10)
    for record in records[5:]:
        record["model_info"] = "gpt-4o"
    data = _jsonl(tmp_path / "graded.jsonl", records)
    report = import_paths(ws, [data], mapping={**BASE, "model": "model_info"})
    assert report.imported == 5
    [group] = report.files[0].error_groups
    assert (group.count, group.problem) == (5, "field 'model_info' (model) holds an object, not text")
    assert report.files[0].warnings == ['model: "model_info" holds an object, not text, in 5 of 10 records; '
                                        "those records will not import (its keys: name, version)"]
    models = {get_trajectory(ws.db, i, with_steps=False).model for i in trajectory_ids(ws.db)}
    assert models == {"gpt-4o"}


def test_an_object_at_the_outcome_path_is_an_error_not_unknown(ws, tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(4))
    report = import_paths(ws, [data], mapping={**BASE, "outcome": "result"})
    assert report.imported == 0
    assert [g.problem for g in report.files[0].error_groups] == ["field 'result' (outcome) holds an object, not a label"]


# --------------------------------------------------------------------------- dry run


def _mapping_file(tmp_path: Path, mapping: dict) -> str:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping))
    return str(path)


def test_dry_run_shows_counts_and_a_sample_and_creates_no_workspace(tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(30, truth_every=3))
    db = tmp_path / "never.db"
    mapping = _mapping_file(tmp_path, {**BASE, "ground_truth": "ground_truth", "model": {"value": "gpt-4o"}})
    code, out = _cli("import", str(data), "--mapping", mapping, "--dry-run", "--db", str(db))
    assert code == 0, out
    assert "dry run: nothing is written" in out
    assert "30 records, 30 trajectories (success 20, failure 10, unknown 0); 30 new, 0 already present" in out
    assert out.count("warning: ground_truth: found in 10 of 30 records") == 1
    assert "task: What is 0 + 1?" in out and "outcome: failure   model: gpt-4o   task id: -" in out
    assert "[0] assistant: It is 1." in out
    assert not db.exists()


def test_dry_run_on_a_workspace_leaves_its_file_unchanged_and_counts_what_it_has(tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(12, truth_every=4))
    db = tmp_path / "w.db"
    mapping = _mapping_file(tmp_path, {**BASE, "ground_truth": "ground_truth"})
    code, _ = _cli("import", str(data), "--mapping", mapping, "--db", str(db))
    more = _jsonl(tmp_path / "more.jsonl", _records(20, truth_every=4))  # 12 known, 8 new
    Workspace(db).close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    code, out = _cli("import", str(more), "--mapping", mapping, "--dry-run", "--db", str(db), "--json")
    assert code == 0
    preview = json.loads(out)
    assert (preview["trajectories"], preview["new"], preview["already_present"]) == (20, 8, 12)
    assert preview["outcomes"] == {"success": 13, "failure": 7, "unknown": 0}
    assert preview["warnings"] == [f"{more}: ground_truth: found in 5 of 20 records"]
    assert preview["files"][0]["sample"]["task"] == "What is 0 + 1?"
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert count_trajectories(Workspace(db).db) == 12


def test_dry_run_refuses_a_typo_like_the_import(tmp_path):
    data = _jsonl(tmp_path / "graded.jsonl", _records(5))
    mapping = _mapping_file(tmp_path, {**BASE, "outcome": "result.is_corect"})
    code, out = _cli("import", str(data), "--mapping", mapping, "--dry-run", "--db", str(tmp_path / "w.db"))
    assert code == 2 and '"result" has keys: is_correct, score' in out


def test_dry_run_of_a_detected_format_on_real_data(tmp_path):
    preview = preview_paths([TAU_BENCH])
    [f] = preview.files
    assert (f.format, f.trajectories, f.new, f.outcomes) == ("tau_bench", 200, 200,
                                                             {"success": 84, "failure": 116, "unknown": 0})
    assert f.sample is not None and f.sample.task.prompt


# --------------------------------------------------------------------------- the app's preview


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("views/trajectories.py")
    return at.run()


def _codes(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code)


def test_the_upload_shows_a_preview_before_import(tmp_path):
    chat = [{"messages": [{"role": "user", "content": f"Book flight {i}"},
                          {"role": "assistant", "content": "Booked."}], "reward": i % 2} for i in range(6)]
    at = _page()
    at.file_uploader[0].set_value([("chat.jsonl", "".join(json.dumps(c) + "\n" for c in chat).encode(),
                                    "application/json")])
    at.run()
    assert not at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "6 records → 6 trajectories (success 3, failure 3, unknown 0); 6 new, 0 already present" in captions
    assert "task: Book flight 0" in _codes(at)
    assert count_trajectories(Workspace().db) == 0
    at.button(key="traj_import").click().run()
    assert count_trajectories(Workspace().db) == 6


def test_the_mapping_form_previews_and_names_a_typo(tmp_path):
    records = _records(8, truth_every=2)
    at = _page()
    at.file_uploader[0].set_value([("graded.json", json.dumps(records).encode(), "application/json")])
    at.run()
    at.button(key="traj_import").click().run()
    k = "traj_map_0_"
    at.text_input(key=k + "transcript").input("answer")
    at.text_input(key=k + "outcome").input("result.is_corect").run()
    at.button(key=k + "preview").click().run()
    assert not at.exception
    assert any('"result" has keys: is_correct, score' in e.value for e in at.error)
    at.text_input(key=k + "outcome").input("result.is_correct").run()
    at.button(key=k + "preview").click().run()
    assert not at.error
    captions = "\n".join(c.value for c in at.caption)
    assert "8 records → 8 trajectories (success 5, failure 3, unknown 0); 8 new" in captions
    assert "task: What is 0 + 1?" in _codes(at)
    assert count_trajectories(Workspace().db) == 0
    at.button(key=k + "import").click().run()
    assert count_trajectories(Workspace().db) == 8
