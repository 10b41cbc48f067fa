"""The whole pipeline on the embedded local model (llama.cpp + SmolLM2-135M, 2 CPU cores):
import the τ-bench sample -> extract on a few failures -> approve all -> consolidate, deepening
the airline policy and creating a new skill -> export folders that pass `skills-ref validate`.

The toy model's text is poor; what is checked is the mechanics: real calls logged, lessons stored
with checked evidence, proposals saved as versions with provenance, valid exports.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TAU_BENCH

from tests.helpers import WIKI, consolidate
from trace2skill import runs
from trace2skill.analysis.fleet import ExtractionConfig, create_extraction_run, select_trajectories
from trace2skill.consolidate.run import ConsolidationConfig
from trace2skill.ingest import import_paths
from trace2skill.llm import LLMClient, LLMConfig
from trace2skill.skill import export_dir
from trace2skill.skill.folder import SkillFolder
from trace2skill.store import runs as run_store
from trace2skill.store.lessons import LessonFilter, lesson_ids, list_lessons, set_status
from trace2skill.store.skills import folder_of, get_version, import_skill

pytestmark = pytest.mark.slow


def test_local_model_end_to_end(ws, tmp_path):
    import_paths(ws, [TAU_BENCH])
    client = LLMClient(ws, LLMConfig.from_env(base_url=None, model=None))
    lessons, run_id = [], ""
    # The toy model may answer with no lesson; then try two other failures. Its answers vary from run to
    # run (llama.cpp batches the two concurrent calls), and a CI run once got none from six.
    for seed in (11, 12, 13, 14, 15):
        ids = select_trajectories(ws, outcome="failure", sample=2, seed=seed)
        run_id = create_extraction_run(ws, ids, ExtractionConfig(max_lessons=1, max_tokens=700, concurrency=2))
        progress = runs.execute(ws, run_id, client).progress
        assert progress.done + progress.failed == 2
        assert all(i.error for i in run_store.list_items(ws.db, run_id, status="failed"))
        lessons = list_lessons(ws.db, LessonFilter(run_id=run_id), limit=100)
        if lessons:
            break
    assert lessons, "the local model produced no lesson from ten failures"
    for lesson in lessons:  # evidence is checked, and a lesson without found evidence says so
        assert lesson.grounded is not None
        assert lesson.grounded or any(f.code == "ungrounded" for f in lesson.flags)
    assert ws.db.execute("SELECT count(*) FROM llm_calls WHERE run_id = ?", [run_id]).fetchone()[0] >= 2
    set_status(ws.db, lesson_ids(ws.db), "approved")

    base = import_skill(ws.db, SkillFolder.from_markdown(
        "airline-policy", "The policy an airline customer-service agent must follow.", WIKI.read_text()))
    for config in (ConsolidationConfig(base_version=base, batch_size=2, max_tokens=500, concurrency=2),
                   ConsolidationConfig(new_skill="airline-lessons", batch_size=2, max_tokens=500, concurrency=2,
                                       description="Lessons for airline customer-service agents.")):
        result = consolidate(ws, config, client)
        items = run_store.list_items(ws.db, result.run_id)
        assert {i.status for i in items} <= {"done", "failed"}
        assert all(i.error for i in items if i.status == "failed")  # the toy model may fail; it is recorded
        assert result.proposals == sum(i.status == "done" for i in items)
        version = get_version(ws.db, result.version)
        # with nothing applicable the proposal equals its parent and is that version
        assert version.source == "proposal" or result.applied == 0
        out = export_dir(folder_of(version), tmp_path / result.run_id)
        check = subprocess.run([sys.executable, "-m", "skills_ref.cli", "validate", str(out)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
