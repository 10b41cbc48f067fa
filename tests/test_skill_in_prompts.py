"""No prompt ever carries a skill cut in the middle (issue 17, part 4): a consolidation and an A/B run
over the scripted loopback endpoint with a skill larger than the local prompt budgets, every prompt
they sent checked; the record of the exact skill text each arm received; the clear refusal of a
skill too large for even its section index and the sections a call needs; and the old, cut A/B
results that are no longer scored."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from tests.helpers import AB_TASKS, WIKI, http_responder, seed_lessons
from trace2skill import runs
from trace2skill.analysis.analysts import ANALYSTS, PromptBudget, build_messages
from trace2skill.analysis.fleet import select_trajectories
from trace2skill.cli import main
from trace2skill.consolidate.propose import skill_context
from trace2skill.consolidate.run import ConsolidationConfig, create_consolidation_run
from trace2skill.consolidate.schemas import LOCAL_SKILL_CHARS as LOCAL_CONSOLIDATION_CHARS
from trace2skill.consolidate.schemas import SKILL_CHARS as CONSOLIDATION_CHARS
from trace2skill.consolidate.tree import merge_need
from trace2skill.demo import load_demo
from trace2skill.errors import SkillTooLargeError
from trace2skill.evaluate import EvalConfig, ab_result, gate, start_ab_run
from trace2skill.evaluate.qa import LOCAL_SKILL_CHARS as LOCAL_QA_CHARS
from trace2skill.evaluate.qa import SKILL_CHARS as QA_CHARS
from trace2skill.evaluate.qa import text_hash
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.llm.fake_server import FakeLLMServer
from trace2skill.models import Edit, Lesson, Outcome, Step, Task, Trajectory
from trace2skill.settings import set_setting
from trace2skill.skill.excerpt import PREAMBLE, blocks, section_index
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import evaluation as eval_store
from trace2skill.store.lessons import insert_lessons
from trace2skill.store.runs import get_run
from trace2skill.store.skills import get_version, import_skill
from trace2skill.store.trajectories import get_trajectory, insert_trajectories
from trace2skill.store.verifications import checks_of
from trace2skill.verify.run import VerifyConfig, create_verification_run

TOPICS = ["seat maps", "meal requests", "pet travel", "lost items", "group fares", "airport lounges", "wheelchairs",
          "unaccompanied minors", "travel documents", "weather delays"]
CUT_MARKER = re.compile(r"characters omitted|omitted\]|\[\d+ characters")


def big_skill(name: str = "airline-long") -> SkillFolder:
    """The airline policy with ten more sections: longer than every local prompt budget."""
    extra = []
    for topic in TOPICS:
        extra += ["", f"## {topic.capitalize()}", ""]
        extra += [f"- When a user asks about {topic} (case {i}), confirm the request with the user and follow the "
                  f"{topic} rule {i} before any change." for i in range(1, 6)]
    body = WIKI.read_text(encoding="utf-8").rstrip() + "\n" + "\n".join(extra) + "\n"
    return SkillFolder.from_markdown(name, "The airline policy, with the service topics.", body,
                                     files={"references/fees.md": "# Fees\n\nBag fees by cabin.\n"})


def test_the_big_skill_is_over_the_local_budgets_and_fits_an_endpoints_qa_prompt():
    skill = big_skill()
    assert len(skill.skill_md()) > max(LOCAL_CONSOLIDATION_CHARS, CONSOLIDATION_CHARS, LOCAL_QA_CHARS)
    assert len(skill.body) < QA_CHARS - 200


def _skill_md_shown(content: str) -> str:
    return content.split('<file path="SKILL.md">\n', 1)[1].split("\n</file>\nOther files:", 1)[0]


def _check_whole_sections(shown: str, skill_md: str) -> str:
    """"whole" when SKILL.md is shown whole, "excerpt" when it is the index and whole sections."""
    if shown == skill_md:
        return "whole"
    parts = {b.path or PREAMBLE: b.text.strip("\n") for b in blocks(skill_md)}
    sections = re.findall(r'<section path="([^"]*)">\n(.*?)\n</section>', shown, re.DOTALL)
    assert sections, shown[:500]
    for path, text in sections:
        assert text == parts[path], f"section {path!r} was not sent whole"
    assert section_index(blocks(skill_md)) in shown  # every heading, with its length
    return "excerpt"


def test_a_consolidation_sends_the_section_index_and_whole_sections_never_a_cut_skill(ws):
    seed_lessons(ws, 6)
    skill = big_skill()
    base = import_skill(ws.db, skill)
    skill_md = get_version(ws.db, base).files["SKILL.md"]
    with FakeLLMServer(http_responder) as srv:
        config = ConsolidationConfig(base_version=base, batch_size=2, embeddings=False, base_url=srv.base_url,
                                     model="fake", concurrency=2)
        run = runs.execute(ws, create_consolidation_run(ws, config), LLMClient(ws, LLMConfig(base_url=srv.base_url,
                                                                                              model="fake")))
        requests = list(srv.requests)
    assert run.status == "done", run.error
    names = [r["response_format"]["json_schema"]["name"] for r in requests]
    assert "patch_proposal" in names and "merge" in names  # identical proposals are answered from the cache
    views = []
    for request in requests:
        for message in request["messages"]:
            assert not CUT_MARKER.search(message["content"]), message["content"][:300]
        user = request["messages"][1]["content"]
        shown = _skill_md_shown(user)
        assert len(shown) <= CONSOLIDATION_CHARS  # the endpoint's budget: the whole file would not fit
        views.append(_check_whole_sections(shown, skill_md))
        assert "Other files: references/fees.md" in user
    assert set(views) == {"excerpt"}
    # the proposals' lessons are about confirming a request: a section shown says so
    first = _skill_md_shown(requests[0]["messages"][1]["content"])
    shown_sections = re.findall(r'<section path="[^"]*">\n(.*?)\n</section>', first, re.DOTALL)
    assert any("confirm" in text.lower() and "request" in text.lower() for text in shown_sections)


def _qa_responder(request):
    n = int(re.search(r"Question (\d+):", request["messages"][1]["content"]).group(1))
    return {"reasoning": f"Row {n} holds v{n}.", "answer": f"v{n}"}


def test_an_ab_run_sends_and_records_the_whole_skill(ws):
    skill = big_skill()
    version = import_skill(ws.db, skill)
    ids = eval_store.save_tasks(ws.db, AB_TASKS[:3], "three")
    with FakeLLMServer(_qa_responder) as srv:
        config = EvalConfig(base_url=srv.base_url, model="fake", concurrency=2)
        run_id = start_ab_run(ws, version, None, ids, config)
        run = runs.execute(ws, run_id, LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake")))
        requests = list(srv.requests)
    assert run.status == "done", run.error
    assert len(requests) == 6
    arms = eval_store.get_arms(ws.db, run_id)
    sent_texts = set()
    for request in requests:
        system = request["messages"][0]["content"]
        for message in request["messages"]:
            assert not CUT_MARKER.search(message["content"])
        if "<skill>" in system:
            sent_texts.add(system.split("<skill>\n", 1)[1].split("\n</skill>", 1)[0])
    assert sent_texts == {arms["A"]["skill_text"]}  # the same, whole text in every prompt of the arm
    whole = arms["A"]["skill_text"]
    assert whole.startswith(skill.body.strip()) and "references/fees.md" in whole
    assert arms["A"]["skill_hash"] == text_hash(whole) and arms["B"]["skill_text"] is None
    rows = eval_store.list_results(ws.db, run_id)
    assert {r["skill_hash"] for r in rows if r["arm"] == "A"} == {text_hash(whole)}
    assert {r["skill_hash"] for r in rows if r["arm"] == "B"} == {None}
    result = ab_result(ws.db, run_id)
    assert result.complete and result.refused == [] and result.candidate.mean == 1.0


def test_a_skill_too_large_for_the_prompt_is_refused_before_anything_is_sent(ws, tmp_path):
    version = import_skill(ws.db, big_skill())
    ids = eval_store.save_tasks(ws.db, AB_TASKS[:2], "two")
    with pytest.raises(SkillTooLargeError) as refused:  # the embedded model: the whole skill does not fit
        start_ab_run(ws, version, None, ids, EvalConfig())
    message = str(refused.value)
    assert f"{LOCAL_QA_CHARS:,} characters" in message and "tokens" in message
    assert "trace2skill settings set context_window" in message
    assert ws.db.execute("SELECT count(*) FROM runs WHERE kind = 'evaluation'").fetchone()[0] == 0

    set_setting(ws.db, "context_window", "32768")  # the model's window is larger: the whole skill fits
    run_id = start_ab_run(ws, version, None, ids, EvalConfig())
    assert eval_store.get_arms(ws.db, run_id)["A"]["skill_text"].startswith("# Airline Agent Policy")

    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "SKILL.md").write_text(big_skill().skill_md())
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(json.dumps({"question": t.prompt, "answer": t.answers[0]}) for t in AB_TASKS))
    assert runner.invoke(main, ["--db", db, "skills", "import", str(folder)]).exit_code == 0
    out = runner.invoke(main, ["--db", db, "evaluate", "--tasks", str(tasks), "--skill", "airline-long",
                               "--vs", "none"])
    assert out.exit_code == 2 and out.output.count("\n") == 1 and "context_window" in out.output, out.output


def test_a_consolidation_whose_needed_section_does_not_fit_is_refused(ws):
    seed_lessons(ws, 2)
    lines = [f"- Confirm the request and the change with the user, rule {i}: read the details back." for i in range(150)]
    giant = SkillFolder.from_markdown("confirming", "How to confirm requests.", "# Confirming\n\n## Confirm requests\n\n"
                                      + "\n".join(lines) + "\n\n## Other\n\nNothing.\n")
    base = import_skill(ws.db, giant)
    with pytest.raises(SkillTooLargeError, match=r"A patch proposal needs [\d,]+ characters .* hold 8,000 "
                                                 r"characters \(about 2,666 tokens\).*context_window"):
        create_consolidation_run(ws, ConsolidationConfig(base_version=base, base_url="http://127.0.0.1:9/v1",
                                                         model="fake"))
    assert ws.db.execute("SELECT count(*) FROM runs WHERE kind = 'consolidation'").fetchone()[0] == 0

    files = get_version(ws.db, base).files
    edits = [Edit(id="e1", op="append_to_section", section="Confirm requests", content="- Read back."),
             Edit(id="e2", op="append_to_section", section="Other", content="- Something.")]
    with pytest.raises(SkillTooLargeError, match="A merge of patches needs"):
        skill_context(files, 3000, merge_need(edits), what="A merge of patches")
    small = skill_context(files, 3000, merge_need(edits[1:]), what="A merge of patches")
    assert "## Other\n\nNothing." in small and "Confirm requests (" in small  # the index names every section


def test_old_results_of_a_cut_skill_are_not_scored_and_the_gate_ignores_them(ws):
    skill = big_skill()
    base = import_skill(ws.db, SkillFolder.from_markdown("airline-long", "Short.", "# Policy\n\nBe kind.\n"))
    version = import_skill(ws.db, skill)
    ids = eval_store.save_tasks(ws.db, AB_TASKS[:2], "two")
    with FakeLLMServer(_qa_responder) as srv:
        run_id = start_ab_run(ws, version, base, ids, EvalConfig(base_url=srv.base_url, model="fake"))
        runs.execute(ws, run_id, LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake")))
    assert ab_result(ws.db, run_id).complete and gate(ws.db, version, base).result is not None
    # a run from before skill texts were recorded, on the embedded model, which saw 2,000 characters
    ws.db.execute("UPDATE eval_arms SET skill_hash = NULL, skill_text = NULL WHERE run_id = ?", [run_id])
    ws.db.execute("UPDATE runs SET config = json_set(config, '$.base_url', NULL, '$.skill_chars', NULL) WHERE id = ?",
                  [run_id])
    result = ab_result(ws.db, run_id)
    assert not result.complete and len(result.refused) == 1 and "cut to 2,000" in result.refused[0]
    assert gate(ws.db, version, base).result is None  # the gate does not rest on it
    lines, _ = runs.get_kind("evaluation").report(ws, get_run(ws.db, run_id))
    assert lines[0].startswith("not scored: arm A")


def test_replays_record_the_skill_they_sent_and_never_send_a_cut_one(ws):
    version = import_skill(ws.db, big_skill())
    question = "What is six times seven?"
    t = Trajectory(source_format="qa_run", task=Task(prompt=question), outcome=Outcome(label="failure"),
                   steps=[Step(index=0, role="user", text=question), Step(index=1, role="assistant", text="41")],
                   ground_truth={"answer": "42"}).with_id()
    insert_trajectories(ws.db, [(t, [])])
    insert_lessons(ws.db, [Lesson(id="mul", trajectory_id=t.id, kind="failure_lesson", title="Multiply",
                                  content="Multiply digit by digit.")])

    def model(request):
        return {"reasoning": "6 x 7 = 42.", "answer": "42" if "digit by digit" in request["messages"][0]["content"]
                else "41"}

    with FakeLLMServer(model) as srv:
        client = LLMClient(ws, LLMConfig(base_url=srv.base_url, model="fake"))
        config = VerifyConfig(repeats=1, rounds=0, base_url=srv.base_url, model="fake", skill_version=version)
        run = runs.execute(ws, create_verification_run(ws, ["mul"], config), client)
        assert run.status == "done", run.error
        sent = {text_hash(r["messages"][0]["content"].split("<skill>\n", 1)[1].split("\n</skill>", 1)[0])
                for r in srv.requests}
        [check] = checks_of(ws.db, "mul")
        assert check.verdict == "fixed"
        recorded = {r["skill_hash"] for side in ("with_lesson", "baseline") for r in check.evidence[side]}
        assert recorded == sent and len(sent) == 2 and None not in recorded  # with and without the lesson
        assert not any(CUT_MARKER.search(m["content"]) for r in srv.requests for m in r["messages"])

        count = len(srv.requests)
        small = VerifyConfig(repeats=1, rounds=0, base_url=srv.base_url, model="fake", skill_version=version,
                             skill_chars=5000)
        run = runs.execute(ws, create_verification_run(ws, ["mul"], small), client)
        assert run.status == "done" and len(srv.requests) == count  # nothing sent
    latest = next(c for c in checks_of(ws.db, "mul") if c.run_id == run.id)
    assert latest.verdict == "not_verifiable" and "context_window" in latest.evidence["reason"]


def test_an_analyst_consults_whole_sections_or_the_index_never_a_cut_skill(ws):
    load_demo(ws)
    skill_md = big_skill().skill_md()
    parts = {b.path or PREAMBLE: b.text.strip("\n") for b in blocks(skill_md)}
    t = get_trajectory(ws.db, select_trajectories(ws, outcome="failure", limit=1)[0])
    for total in (4000, 24000, 400):  # the embedded model's budget, an endpoint's, a tiny one
        _, user = build_messages(ANALYSTS["error"], t, skill_md, 3, PromptBudget(total))
        shown = user["content"].split("# Current skill", 1)[1].split("\n# ", 1)[0]
        assert not CUT_MARKER.search(shown)
        sections = re.findall(r'<section path="([^"]*)">\n(.*?)\n</section>', shown, re.DOTALL)
        assert all(text == parts[path] for path, text in sections)
        assert len(shown) <= PromptBudget(total).skill + 100
    assert "too large to show here" in shown  # 100 characters of skill: only a line about it
