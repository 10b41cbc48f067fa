"""The evaluation command line against a loopback OpenAI-compatible server: evaluate --json on the
bundled WikiTableQuestions sample, eval-report, resume of an evaluation run, split, held-out
trajectories with the command evaluator, leakage."""

from __future__ import annotations

import json
import sys

from click.testing import CliRunner
from conftest import TAU_BENCH

from tests.helpers import AB_TASKS, HARNESS, WTQ, ab_http_responder, proposal_with_groups
from trace2skill import runs
from trace2skill.cli import main
from trace2skill.evaluate import WTQ_MAPPING, EvalConfig, load_tasks, start_ab_run
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import Workspace
from trace2skill.store import evaluation as eval_store
from trace2skill.store.skills import import_skill

GOLD = {t.prompt: t.answers for t in load_tasks(WTQ, WTQ_MAPPING, limit=4)}
FIRST = next(iter(GOLD))


def responder(request):
    """Right on every question with the skill in the system prompt; without it only on the first."""
    question = request["messages"][1]["content"].split("Question: ", 1)[1].split("\n(Evaluation", 1)[0]
    knows = "MARK-GOOD" in request["messages"][0]["content"] or question == FIRST
    return {"answer": " | ".join(GOLD[question]) if knows else "I do not know"}


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _skill(db: str) -> str:
    ws = Workspace(db)
    return import_skill(ws.db, SkillFolder.from_markdown("table-qa", "Answer questions about tables.",
                                                         "# Table QA\n\nMARK-GOOD: read the table row by row.\n"))


def test_evaluate_json_on_wikitablequestions_then_report(tmp_path):
    db = str(tmp_path / "e.db")
    version = _skill(db)
    with FakeLLMServer(responder) as srv:
        out = json.loads(cli("evaluate", "--tasks", str(WTQ), "--mapping", "wtq", "--limit", "4", "--skill", "table-qa",
                             "--vs", "none", "--repeats", "2", "--base-url", srv.base_url, "--model", "fake",
                             "--json", "--db", db))
        assert srv.request_count == 16  # 2 arms x 4 tasks x 2 repeats
    assert out["tasks"] == 4 and out["task_set"] == "training-before300.tsv (first 4)"
    assert out["status"] == "done" and out["progress"]["done"] == 16
    result = out["result"]
    assert result["candidate"]["version_id"] == version and result["baseline"]["label"] == "no skill"
    assert (result["candidate"]["mean"], result["candidate"]["std"]) == (1.0, 0.0)
    assert (result["baseline"]["mean"], result["baseline"]["per_repeat"]) == (0.25, [0.25, 0.25])
    assert result["delta"] == 0.75 and result["complete"] is True
    assert [f["direction"] for f in result["flips"]] == ["fail→pass"] * 3
    assert result["flips"][0]["baseline_answers"] == ["I do not know"] * 2

    assert json.loads(cli("eval-report", out["run"], "--json", "--db", db))["result"] == result
    text = cli("eval-report", out["run"], "--db", db)
    assert "100.0% ± 0.0%" in text and "delta +75.0 points over 4 tasks x 2 repeats" in text and "fail→pass" in text
    runs = json.loads(cli("runs", "--kind", "evaluation", "--json", "--db", db))
    assert [r["id"] for r in runs] == [out["run"]]


def test_resume_finishes_a_cancelled_evaluation_run(tmp_path):
    db = str(tmp_path / "r.db")
    version = _skill(db)
    ws = Workspace(db)
    ids = eval_store.save_tasks(ws.db, load_tasks(WTQ, WTQ_MAPPING, limit=4), "four")
    with FakeLLMServer(responder) as srv:
        run_id = start_ab_run(ws, version, None, ids, EvalConfig(base_url=srv.base_url, model="fake"))
        runs.cancel(ws, run_id)
        out = json.loads(cli("resume", run_id, "--json", "--db", db))
        assert srv.request_count == 8
    assert out["status"] == "done" and out["result"]["candidate"]["mean"] == 1.0


def test_split_then_evaluate_heldout_trajectories_with_a_command(tmp_path):
    db = str(tmp_path / "s.db")
    cli("import", str(TAU_BENCH), "--db", db)
    counts = json.loads(cli("split", "random", "--heldout", "0.1", "--seed", "3", "--json", "--db", db))
    assert (counts["heldout_tasks"], counts["heldout"]) == (5, 20)
    shown = json.loads(cli("split", "show", "--json", "--db", db))
    assert shown["trajectories"] == {"evolve": 180, "heldout": 20}
    _skill(db)
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    err = cli("evaluate", "--from-trajectories", "all", "--skill", "table-qa", "--vs", "none", "--db", db, code=2)
    assert "no gold answer for the QA evaluator" in err
    out = json.loads(cli("evaluate", "--from-trajectories", "all", "--skill", "table-qa", "--vs", "none",
                         "--evaluator", "command", "--command", f"{sys.executable} {harness}", "--json", "--db", db))
    assert out["tasks"] == 5 and out["progress"]["done"] == 2  # one command run per arm
    assert out["result"]["candidate"]["mean"] == out["result"]["baseline"]["mean"] == 0.6  # tasks 0, 2, 4 of 5
    none = cli("evaluate", "--from-trajectories", "source_format=openhands", "--skill", "table-qa", "--db", db, code=2)
    assert "no held-out trajectory matches" in none
    bad = cli("evaluate", "--from-trajectories", "colour=red", "--skill", "table-qa", "--db", db, code=2)
    assert "bad trajectory filter 'colour=red'" in bad


def test_leakage_command(tmp_path):
    db = str(tmp_path / "l.db")
    ws = Workspace(db)
    tasks = load_tasks(WTQ, WTQ_MAPPING, limit=2)
    eval_store.save_tasks(ws.db, tasks, "two")
    clean = import_skill(ws.db, SkillFolder.from_markdown("table-qa", "Answer questions about tables.", "# QA\n"))
    assert json.loads(cli("leakage", "--skill", clean, "--json", "--db", db))["clean"] is True
    leaky = import_skill(ws.db, SkillFolder.from_markdown("table-qa", "Answer questions about tables.",
                                                          f"# QA\n\nFor example: {tasks[0].prompt}\n"))
    text = cli("leakage", "--skill", leaky, "--db", db, code=1)
    assert "substring" in text and f"task:{tasks[0].id}" in text


def test_ablate_from_the_command_line(tmp_path):
    db = str(tmp_path / "a.db")
    ws = Workspace(db)
    _, proposal = proposal_with_groups(ws)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(json.dumps({"question": t.prompt, "answer": t.answers[0], "table": t.context})
                               for t in AB_TASKS))
    with FakeLLMServer(ab_http_responder) as srv:
        out = json.loads(cli("evaluate", "--tasks", str(tasks), "--mapping", str(_mapping(tmp_path)), "--skill",
                             proposal, "--ablate", "--base-url", srv.base_url, "--model", "fake", "--json",
                             "--db", db))
    assert out["progress"]["done"] == 5 * 6  # arms full, base and three groups, six tasks each
    groups = [(g["group"], round(g["effect"], 3)) for g in out["ablation"]["groups"]]
    assert groups == [("SKILL.md › Table QA > Pitfalls", -0.167), ("SKILL.md › Table QA > Terms", 0.0),
                      ("SKILL.md › Table QA > Reading", 0.5)]
    assert out["result"]["candidate"]["arm"] == "full" and out["result"]["baseline"]["arm"] == "base"


def _mapping(folder):
    path = folder / "mapping.yaml"
    path.write_text("prompt: question\nanswer: answer\nid: null\ncontext: table\n")
    return path
