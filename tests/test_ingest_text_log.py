"""Plain-text ReAct logs through a text mapping: records split at a marker line, thoughts, actions
(with their input), observations and final answers as steps, outcome and gold answer read from the
text; a wrong mapping or a record the mapping cannot read says so, and the rest imports."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from trace2skill.cli import main
from trace2skill.errors import MappingError
from trace2skill.ingest import import_paths
from trace2skill.ingest.pipeline import import_stream
from trace2skill.ingest.text_log import EXAMPLE_MAPPING, TextLogFormat, TextMapping, iter_text_records
from trace2skill.store import Workspace
from trace2skill.store.imports import list_imports
from trace2skill.store.trajectories import TrajectoryFilter, get_trajectory, list_trajectories

DATA = Path(__file__).parent / "data"
LOG, MAPPING = DATA / "react_episodes.log", DATA / "react_mapping.yaml"


def _by_task_id(ws: Workspace) -> dict[str, object]:
    rows = list_trajectories(ws.db, TrajectoryFilter(), limit=50)
    return {get_trajectory(ws.db, r.id).task_id: get_trajectory(ws.db, r.id) for r in rows}


def test_a_react_log_imports_with_steps_outcomes_and_gold_answers(ws: Workspace) -> None:
    report = import_paths(ws, [LOG], text_mapping=MAPPING)
    assert (report.imported, report.errors) == (3, [])
    runs = _by_task_id(ws)
    assert set(runs) == {"wtq-17", "wtq-18", "wtq-19"}

    first = runs["wtq-17"]
    assert first.source_format == "text_log" and first.model == "gpt-4o-mini"
    assert first.task == "Which country won the most gold medals at the 1994 Winter Olympics?"
    assert (first.outcome, first.ground_truth, first.final_output) == ("success", {"answer": "Russia"}, "Russia")
    assert [s.role for s in first.steps] == ["user", "assistant", "tool", "assistant"]
    call = first.steps[1].tool_calls[0]
    assert first.steps[1].reasoning.startswith("I should look up the medal table")
    assert (call.name, call.arguments) == ("search", "1994 Winter Olympics medal table")
    assert first.steps[2].tool_results[0].content.startswith("Norway topped the medal count")
    assert first.steps[2].tool_results[0].call_id == call.id
    assert first.steps[3].reasoning.startswith("The question asks about gold medals") and first.steps[3].text == "Russia"

    failed = runs["wtq-18"]
    assert (failed.outcome, failed.ground_truth, failed.final_output) == ("failure", {"answer": "77,544"}, "60,000")
    sql = failed.steps[1].tool_calls[0]
    assert sql.name == "sql" and sql.arguments == {"query": "SELECT population FROM cities WHERE name = 'Tromsø' "
                                                            "AND year = 2020"}
    assert failed.steps[2].is_error and failed.n_errors == 1  # "Error: …" is a failed tool call
    assert any(s.kind == "tool_error" for s in failed.signals)

    multi = runs["wtq-19"]  # a thought over two lines stays one thought; no tool call
    assert multi.steps[1].reasoning == "Simple arithmetic,\nno tool needed: 12 × 7 = 84."
    assert multi.n_tool_calls == 0 and multi.final_output == "84"

    [record] = list_imports(ws.db)
    assert record.format == "text_log" and record.mapping["text_mapping"]["markers"]["thought"] == "Thought:"
    again = import_paths(ws, [LOG], text_mapping=MAPPING)  # re-import adds nothing
    assert (again.imported, again.duplicates) == (0, 3)


def test_the_cli_imports_and_previews_a_text_log(tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    runner = CliRunner()
    bare = runner.invoke(main, ["import", str(LOG), "--db", db])  # no text mapping: an error that says what to do
    assert bare.exit_code == 1
    assert "0 trajectories imported, 0 already present, 1 error\n" in bare.output
    assert f"hint: {LOG} is plain text: a log imports with --text-mapping FILE" in bare.output
    Path(db).unlink()
    dry = runner.invoke(main, ["import", str(LOG), "--text-mapping", str(MAPPING), "--dry-run", "--db", db])
    assert dry.exit_code == 0, dry.output
    assert "text_log: 3 records, 3 trajectories (success 2, failure 1" in dry.output
    assert "(thinks) I should look up the medal table" in dry.output and not Path(db).exists()
    done = runner.invoke(main, ["import", str(LOG), "--text-mapping", str(MAPPING), "--db", db])
    assert done.exit_code == 0, done.output
    assert "3 trajectories imported" in done.output
    wrong = runner.invoke(main, ["import", str(LOG), "--text-mapping", str(MAPPING), "--format", "tau_bench",
                                 "--db", db])
    assert wrong.exit_code != 0 and "goes with neither --mapping nor --format" in wrong.output


def test_records_the_mapping_cannot_read_are_errors_and_the_rest_imports(ws: Workspace) -> None:
    text = (LOG.read_text() + "\n=== Episode broken ===\njust some words with no marker\n"
            "\n=== Episode odd ===\nQuestion: q\nThought: t\nResult: maybe\n").encode()
    report = import_stream(ws, io.BytesIO(text), "mixed.log", fmt=TextLogFormat(TextMapping.load(MAPPING)))
    assert report.imported == 3 and len(report.errors) == 2
    problems = sorted(str(e) for e in report.errors)
    assert "record 3" in problems[0] and "no line starts with a marker" in problems[0]
    assert "record 4" in problems[1] and "'maybe', which says neither success nor failure" in problems[1]


def test_bytes_that_are_not_text_spoil_only_their_record() -> None:
    data = b"=== Episode a\nThought: fine\n=== Episode b\nThought: \xff\xfe bad\n=== Episode c\nThought: ok\n"
    records = list(iter_text_records(io.BytesIO(data), TextMapping.load(MAPPING)))
    assert [r.index for r in records] == [0, 1, 2]
    assert records[1].error == "line 4 is not UTF-8 text" and records[2].data.startswith("=== Episode c")
    whole = list(iter_text_records(io.BytesIO(b"Thought: one\nThought: two\n"),
                                   TextMapping(markers={"thought": "Thought:"})))
    assert len(whole) == 1 and whole[0].line == 1  # without record_start the file is one record


@pytest.mark.parametrize(("mapping", "words"), [
    ({"markers": {"user": "Q:"}}, "name at least one marker among thought, action, observation, answer"),
    ({"markers": {"thought": "T:"}, "outcome": "(unclosed"}, "outcome: Value error, not a regular expression"),
    ({"markers": {"thought": "T:"}, "markers_typo": 1}, "markers_typo"),
    ({"markers": {"thinking": "T:"}}, "markers.thinking"),
])
def test_a_wrong_text_mapping_is_one_clear_sentence(ws: Workspace, mapping: dict, words: str) -> None:
    with pytest.raises(MappingError, match="text mapping") as caught:
        TextMapping.load(mapping)
    assert words in str(caught.value)
    with pytest.raises(MappingError, match="text logs need a text mapping"):
        import_paths(ws, [LOG], format_name="text_log")


def test_the_readme_example_is_the_tested_mapping() -> None:
    import yaml

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Text logs", 1)[1].split("###", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert TextMapping.load(yaml.safe_load(block)) == TextMapping.load(MAPPING)
    assert block == EXAMPLE_MAPPING  # the app's text mapping form starts from the same example
    assert "Result: wrong" in section and "Result: wrong" in LOG.read_text()
