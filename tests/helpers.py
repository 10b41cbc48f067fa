"""Helpers the tests share: scripted LLM answers for the whole pipeline, seeded workspaces, paths of
the bundled data, and small runners over the run engine. Test files import from here (or from
fakes.py), never from each other."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes import ScriptedClient, analyst_answer
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.consolidate.run import ConsolidationConfig, ConsolidationResult, create_consolidation_run
from trace2skill.demo import DEMO_SKILL, load_demo
from trace2skill.errors import Trace2SkillError
from trace2skill.llm.protocol import StructuredClient
from trace2skill.models import Edit, EvalTask, Patch
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import Workspace
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import lesson_ids, set_status
from trace2skill.store.patches import save_patch
from trace2skill.store.provenance import save_line_origins
from trace2skill.store.skills import folder_of, get_version, import_skill, latest_version, save_version

REPO = Path(__file__).resolve().parents[1]


def app_page(view: str, reviewer: str | None = None) -> Any:
    """The app opened at `view` ("views/review.py") in a new browser session (as after a reload), as
    `reviewer` when named (the `?reviewer=` the sidebar keeps), run once: a Streamlit AppTest."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if reviewer:
        at.query_params["reviewer"] = reviewer
    at.switch_page(view)
    return at.run()
WIKI = REPO / "data/tau-bench/tau_bench/envs/airline/wiki.md"
WTQ = REPO / "data" / "wikitablequestions" / "data" / "training-before300.tsv"
MCP = REPO / "data/anthropics-skills/skills/mcp-builder"


# --------------------------------------------------------------------------- running through the engine


def extract(ws: Workspace, ids: list[str], client: StructuredClient, config: ExtractionConfig | None = None) -> str:
    """An extraction run over `ids`, executed to its end; returns the run id."""
    run_id = create_extraction_run(ws, ids, config or ExtractionConfig())
    runs.execute(ws, run_id, client)
    return run_id


def consolidate(ws: Workspace, config: ConsolidationConfig, client: StructuredClient) -> ConsolidationResult:
    """A consolidation run executed to its end; its result (Trace2SkillError when it did not finish)."""
    run = runs.execute(ws, create_consolidation_run(ws, config), client)
    if run.status != "done":
        raise Trace2SkillError(f"consolidation {run.id} ended {run.status}: {run.error}")
    return ConsolidationResult.from_counters(run.id, run.counters)


# --------------------------------------------------------------------------- scripted merge operator


_EDIT = re.compile(r"^(E\d+) \[supported by \d+ runs\] op=(\S+) file=(\S+) section=(\"[^\"]*\") .*?\ncontent: (.*)$",
                   re.MULTILINE)


def merging_operator(messages, output):
    """Dedups identical content, reports edits marked CONFLICT, and 'forgets' edits marked BREAK."""
    text = messages[1]["content"]
    found = _EDIT.findall(text)
    by_content: dict[str, list[tuple]] = {}
    for label, op, file, section, content in found:
        by_content.setdefault(content, []).append((label, op, file, section.strip('"')))
    edits, dropped, conflicts = [], [], []
    for content, group in by_content.items():
        if "BREAK" in content:
            continue  # neither used nor dropped: an invalid merge
        label, op, file, section = group[0]
        if "CONFLICT" in content:
            conflicts.append(f"{label} contradicts the policy")
            dropped.append({"edit": label, "reason": "contradicts the policy"})
            continue
        edits.append({"op": op, "file": file, "section": section, "anchor": "", "content": content,
                      "rationale": "merged", "derived_from": [g[0] for g in group]})
    return {"edits": edits, "dropped": dropped, "conflicts": conflicts, "rationale": f"{len(found)} in"}


# --------------------------------------------------------------------------- scripted proposer + merger (deepen the airline policy)


_LESSON = re.compile(r"^L(\d+) \((\w+)\) (.+)$", re.MULTILINE)


def proposer_and_merger(messages, output):
    if output.__name__ == "MergeOut":
        return merging_operator(messages, output)
    if output.__name__ == "ProposalOut":
        text = messages[1]["content"]
        lessons = _LESSON.findall(text)
        skill_md = text.split('<file path="SKILL.md">', 1)[1].split("</file>", 1)[0]
        titles = re.findall(r"^#+ (.+)$", skill_md, re.MULTILINE)
        section = "Cancel flight" if "Cancel flight" in titles else titles[0]
        edits = [{"op": "append_to_section", "file": "SKILL.md", "section": section, "anchor": "",
                  "content": f"- Lesson learnt: {title.strip()}.", "rationale": "from the run's lessons",
                  "lessons": [int(n)]} for n, _kind, title in lessons[:1]]
        return {"edits": edits}
    return analyst_answer(messages, output)


OUTPUTS = {"error_analysis": "ErrorAnalysis", "success_analysis": "SuccessAnalysis", "patch_proposal": "ProposalOut",
           "merge": "MergeOut"}


def over_http(script: Any) -> Any:
    """A FakeLLMServer responder answering each request with `script(messages, output type)`."""
    def respond(request: dict[str, Any]) -> dict[str, Any]:
        output = type(OUTPUTS[request["response_format"]["json_schema"]["name"]], (), {})
        return script(request["messages"], output)
    return respond


responder = over_http(proposer_and_merger)


# --------------------------------------------------------------------------- two hunks of different support (review pages)


CANCEL_LINE = "- Lesson learnt: Confirm details first."
BOOK_LINE = "- Before booking, read the details back to the user and wait for a clear yes."


def proposer(messages, output):
    """Per trajectory: one edit at the end of "Cancel flight" (every trajectory: support = all) and,
    for failed runs, one at the end of "Book flight" (support = the failures) — two hunks. A skill
    without those sections (a new skill) gets both at the end of its first section."""
    if output.__name__ == "MergeOut":
        return merging_operator(messages, output)
    if output.__name__ != "ProposalOut":
        return analyst_answer(messages, output)
    text = messages[1]["content"]
    lessons = _LESSON.findall(text)
    n, kind, title = next((x for x in lessons if x[2].strip() == "Confirm details first"), lessons[0])
    titles = re.findall(r"^#+ (.+)$", text.split('<file path="SKILL.md">', 1)[1].split("</file>", 1)[0], re.MULTILINE)
    cancel, book = ("Cancel flight", "Book flight") if "Cancel flight" in titles else (titles[0], titles[0])
    edits = [{"op": "append_to_section", "file": "SKILL.md", "section": cancel, "anchor": "",
              "content": f"- Lesson learnt: {title.strip()}.", "rationale": "from the run's lessons",
              "lessons": [int(n)]}]
    if kind.startswith("failure"):
        edits.append({"op": "append_to_section", "file": "SKILL.md", "section": book, "anchor": "",
                      "content": BOOK_LINE, "rationale": "failed runs acted before confirming", "lessons": [int(n)]})
    return {"edits": edits}


http_responder = over_http(proposer)


@dataclass
class Seeded:
    ws: Workspace
    client: ScriptedClient
    base: str
    run_id: str
    result: ConsolidationResult


def seed_lessons(ws: Workspace, n: int = 6, seed: int = 3) -> ScriptedClient:
    """The demo workspace with the lessons of `n` trajectories (half failures) approved."""
    load_demo(ws)
    client = ScriptedClient(proposer)
    ids = select_trajectories(ws, outcome="all", sample=n, seed=seed, balance=True)
    extract(ws, ids, client, ExtractionConfig(max_lessons=2))
    set_status(ws.db, lesson_ids(ws.db), "approved")
    return client


def seed_consolidation(ws: Workspace, n: int = 6, batch_size: int = 2) -> Seeded:
    """`seed_lessons` plus a finished consolidation deepening the airline policy."""
    client = seed_lessons(ws, n)
    base = latest_version(ws.db, DEMO_SKILL).id
    result = consolidate(ws, ConsolidationConfig(base_version=base, batch_size=batch_size, embeddings=False,
                                                 skill_chars=20000), client)
    return Seeded(ws, client, base, result.run_id, result)


def seed_consolidation_file(directory: Path) -> tuple[Path, str, str]:
    """`seed_consolidation` written once to a SQLite file in `directory` (for module-scoped
    fixtures that copy it per test): the file, the base version and the proposal."""
    path = directory / "seed.db"
    ws = Workspace(path)
    seeded = seed_consolidation(ws)
    ws.close()
    return path, seeded.base, seeded.result.version


def rerun_script(messages, output):
    """Like `proposer`, but a merge asked again drops the booking advice (with a reason)."""
    if output.__name__ == "MergeOut" and "Re-run" in messages[1]["content"]:
        answer = merging_operator(messages, output)
        keep = [e for e in answer["edits"] if "Before booking" not in e["content"]]
        for e in answer["edits"]:
            if e not in keep:
                answer["dropped"] += [{"edit": label, "reason": "re-run: too specific"} for label in e["derived_from"]]
        return {**answer, "edits": keep, "rationale": "asked again"}
    return proposer(messages, output)


# --------------------------------------------------------------------------- a command evaluator and a skill zip


HARNESS = r'''
import json, os, sys, time
skill_dir, tasks_file, output = sys.argv[1:4]
mode = os.environ.get("HARNESS_MODE", "ok")
skill_path = os.path.join(skill_dir, "SKILL.md")
skill = open(skill_path).read() if os.path.exists(skill_path) else ""
tasks = [json.loads(line) for line in open(tasks_file)]
if mode == "sleep":
    time.sleep(60)
if mode == "crash":
    sys.stderr.write("harness: cannot reach the simulator\n")
    sys.exit(3)
results = {}
for n, task in enumerate(tasks):
    # "with skill" solves the tasks whose answer the skill mentions; everyone solves even-numbered ones
    solved = n % 2 == 0 or any(a in skill for a in task["answers"])
    results[task["id"]] = {"passed": solved, "answer": "ok" if solved else "gave up", "detail": mode}
if mode == "missing":
    results.pop(tasks[-1]["id"])
if mode == "extra":
    results["not-a-task"] = True
if mode == "badvalue":
    results[tasks[0]["id"]] = "yes"
with open(output, "w") as fh:
    fh.write("{not json" if mode == "garbage" else json.dumps(results))
if os.environ.get("T2S_NO_SKILL") == "1" and os.listdir(skill_dir):
    sys.exit(9)
'''


def mcp_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(MCP.rglob("*")):
            if path.is_file():
                zf.write(path, f"mcp-builder/{path.relative_to(MCP).as_posix()}")
    return buf.getvalue()


# --------------------------------------------------------------------------- A/B evaluation, scripted table QA


AB_TASKS = [EvalTask(prompt=f"Question {n}: what is in row {n}?", context=f"row,value\n{n},v{n}",
                     answers=[f"v{n}"]).with_id() for n in range(6)]
AB_BASE_MD = "# Table QA\n\n## Reading\n\nAnswer briefly.\n"


def right_answers(system: str, repeat: int) -> set[int]:
    """Which of AB_TASKS the scripted model gets right, by the skill markers in its system prompt:
    without a marker 0, 1, 4; MARK-GOOD fixes 2, 3 (and 5, in the first repeat only) but breaks 1;
    MARK-BAD breaks 1 and 4."""
    right = {0, 1, 4}
    if "MARK-GOOD" in system:
        right = (right - {1}) | {2, 3} | ({5} if repeat == 0 else set())
    if "MARK-BAD" in system:
        right -= {1, 4}
    return right


def _eval_repeat(user: str) -> int:
    found = re.search(r"\(Evaluation repeat (\d+)\.\)", user)
    return int(found.group(1)) - 1 if found else 0


def ab_model_answer(messages) -> dict:
    """The scripted model's answer to one QA evaluation request (see `right_answers`)."""
    system, user = messages[0]["content"], messages[1]["content"]
    n = int(re.search(r"Question (\d+):", user).group(1))
    return {"answer": f"v{n}" if n in right_answers(system, _eval_repeat(user)) else "no idea"}


def ab_http_responder(request):
    """`ab_model_answer` for a FakeLLMServer."""
    return ab_model_answer(request["messages"])


def proposal_with_groups(ws: Workspace) -> tuple[str, str]:
    """A base skill and a consolidation proposal whose final patch has three edit groups: a helpful
    one (SKILL.md › Reading), a harmful one (SKILL.md › Pitfalls, new) and a neutral one (a new
    section Terms with the reference file it links to)."""
    base = import_skill(ws.db, SkillFolder.from_markdown("table-qa", "Answer questions about tables.", AB_BASE_MD))
    run_id = run_store.create_run(ws.db, "consolidation", {"base_version": base, "lesson_ids": [], "min_support": 0},
                                  [])
    edits = [Edit(id="e-good", op="append_to_section", section="Table QA > Reading", content="MARK-GOOD: read rows."),
             Edit(id="e-bad", op="add_section", section="Pitfalls", content="## Pitfalls\n\nMARK-BAD: guess."),
             Edit(id="e-ref", op="create_file", file="references/glossary.md", content="# Glossary\n\nrow: a line.\n"),
             Edit(id="e-terms", op="add_section", section="Terms", content="## Terms\n\nSee references/glossary.md.")]
    root = Patch(id="root", run_id=run_id, level=0, edits=edits)
    save_patch(ws.db, root)
    applied = apply_patch(folder_of(get_version(ws.db, base)), root, dirname="table-qa")
    assert len(applied.applied) == 4, applied.rejected
    proposal = save_version(ws.db, "table-qa", applied.skill.as_files(), source="proposal", parent=base,
                            run_id=run_id)
    save_line_origins(ws.db, proposal, applied.line_origins, run_id)
    return base, proposal


def table_with(at: Any, column: str) -> Any:
    """The first table (AppTest dataframe) on the page that has `column`."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column on the page")


# --------------------------------------------------------------------------- contradicting advice (merge conflicts)


RUSH_LINE = "- Book at once when the user names a flight; reading the details back wastes time."
_SUPPORTED = re.compile(r"^(E\d+) \[supported by (\d+) runs\]", re.MULTILINE)


def contradicting_merger(messages, output):
    """`merging_operator`, except that BOOK_LINE and RUSH_LINE contradict each other: where both
    meet, the advice more runs support is kept (BOOK_LINE on a tie), every edit of the other is
    dropped ("contradicts E2, which more runs support"), and one conflict naming them is reported."""
    answer = merging_operator(messages, output)
    text = messages[1]["content"]
    support = {label: int(n) for label, n in _SUPPORTED.findall(text)}
    by_content: dict[str, list[str]] = {}
    for label, _op, _file, _section, content in _EDIT.findall(text):
        if content in (BOOK_LINE, RUSH_LINE):
            by_content.setdefault(content, []).append(label)
    if len(by_content) < 2:
        return answer
    strength = {c: sum(support[label] for label in labels) for c, labels in by_content.items()}
    winner = max(by_content, key=lambda c: (strength[c], c == BOOK_LINE))
    loser = RUSH_LINE if winner == BOOK_LINE else BOOK_LINE
    kept = by_content[winner][0]
    answer["edits"] = [e for e in answer["edits"] if e["content"] != loser]
    answer["dropped"] += [{"edit": label, "reason": f"contradicts {kept}, which more runs support"}
                          for label in by_content[loser]]
    answer["conflicts"].append(f"{' '.join(by_content[loser])} vs {kept}: read the details back before booking, "
                               "or book at once")
    return answer


def contradicting_proposer(messages, output):
    """`proposer`, except that successful runs advise RUSH_LINE in "Book flight" (the failed runs
    advise BOOK_LINE there), and merges go through `contradicting_merger`."""
    if output.__name__ == "MergeOut":
        return contradicting_merger(messages, output)
    answer = proposer(messages, output)
    if output.__name__ == "ProposalOut" and len(answer["edits"]) == 1:  # a successful run's proposal
        first = answer["edits"][0]
        book = "Book flight" if first["section"] == "Cancel flight" else first["section"]
        answer["edits"].append({**first, "section": book, "content": RUSH_LINE, "rationale": "the run went fine"})
    return answer


contradicting_responder = over_http(contradicting_proposer)


def seed_conflicts(ws: Workspace, n: int = 6, batch_size: int = 2) -> Seeded:
    """`seed_lessons` plus a finished consolidation (scripted by `contradicting_proposer`) whose
    merges settled conflicts between the failed runs' and the successful runs' booking advice."""
    seed_lessons(ws, n)
    client = ScriptedClient(contradicting_proposer)
    base = latest_version(ws.db, DEMO_SKILL).id
    result = consolidate(ws, ConsolidationConfig(base_version=base, batch_size=batch_size, embeddings=False,
                                                 skill_chars=20000), client)
    return Seeded(ws, client, base, result.run_id, result)


# --------------------------------------------------------------------------- a run with a known clock (run panels)


def seed_timed_run(ws: Workspace, n: int = 30, per_second: int = 3, failed: int = 2) -> str:
    """The demo workspace with a finished extraction run of `n` trajectories that began an hour
    ago: `per_second` finished each second (the last `failed` of them failed), so its pace is
    `per_second * 60` a minute. Returns the run id."""
    from datetime import UTC, datetime, timedelta

    load_demo(ws)
    ids = select_trajectories(ws, outcome="all", limit=n)
    run_id = create_extraction_run(ws, ids, ExtractionConfig())
    execution = run_store.mark_running(ws.db, run_id, "elsewhere:1")
    for k, tid in enumerate(ids):
        bad = k >= n - failed
        run_store.start_item(ws.db, run_id, tid, execution=execution)
        run_store.finish_item(ws.db, run_id, tid, "failed" if bad else "done", execution=execution,
                              error="the endpoint refused" if bad else None)
    run_store.finish_run(ws.db, run_id, "done")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def at(seconds: int) -> str:
        return (start + timedelta(seconds=seconds)).isoformat(timespec="seconds")

    with ws.db.conn:  # the clock of a run that really took n / per_second seconds
        ws.db.execute("UPDATE runs SET started = ?, resumed = ?, finished = ? WHERE id = ?",
                      [at(0), at(0), at(-(-n // per_second)), run_id])
        ws.db.conn.executemany("UPDATE run_items SET started = ?, finished = ? WHERE run_id = ? AND item_id = ?",
                               [(at(k // per_second), at(k // per_second + 1), run_id, tid)
                                for k, tid in enumerate(ids)])
    return run_id


def unlabelled_react(ws: Workspace, folder: Path) -> dict[str, str]:
    """The three ReAct runs of tests/data/react_episodes.log with their "Result:" lines taken out,
    imported (all outcomes unknown): task id -> trajectory id."""
    import yaml

    from trace2skill.ingest import import_paths
    from trace2skill.store.trajectories import TrajectoryFilter, get_trajectory, list_trajectories

    data = Path(__file__).parent / "data"
    mapping = yaml.safe_load((data / "react_mapping.yaml").read_text())
    mapping.pop("outcome")
    (folder / "unlabelled.yaml").write_text(yaml.safe_dump(mapping))
    lines = (data / "react_episodes.log").read_text().splitlines(keepends=True)
    (folder / "unlabelled.log").write_text("".join(x for x in lines if not x.startswith("Result:")))
    import_paths(ws, [folder / "unlabelled.log"], text_mapping=folder / "unlabelled.yaml")
    rows = list_trajectories(ws.db, TrajectoryFilter(), limit=10)
    assert {r.outcome for r in rows} == {"unknown"}
    return {get_trajectory(ws.db, r.id).task_id or "": r.id for r in rows}
