"""Review & diff screen (AppTest): a proposal against its base — hunks with support counts, each
accepted, rejected or undecided; reject one and save (a manual version without that hunk, now the
current version), accept in full and save (the proposal itself marked saved), accept/reject all, edit
the text (the diff then shows the edited result), findings inline, export refused on strict errors
and written when valid, any two versions."""

from __future__ import annotations

import html

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import BOOK_LINE, CANCEL_LINE, Seeded, app_page, seed_consolidation
from trace2skill.diff import diff_files
from trace2skill.store import Workspace
from trace2skill.store.decisions import list_decisions
from trace2skill.store.skills import get_version, latest_version, list_versions, save_version
from trace2skill.store.version_states import current_version_id
from trace2skill.ui.diff_view import added_new_lines, hunk_support, line_support


@pytest.fixture
def seeded() -> Seeded:
    ws = Workspace()  # the workspace the app opens
    yield seed_consolidation(ws)
    ws.close()


def _page(reviewer: str | None = None) -> AppTest:
    return app_page("views/review.py", reviewer)


def _hunks(at: AppTest) -> dict[int, str]:
    """hunk index -> key of its Accept / Reject control, for SKILL.md."""
    return {int(c.key.rsplit(":", 1)[1]): c.key for c in at.get("button_group") if c.key and c.key.startswith("rev_h:")}


def _decide(at: AppTest, hunk: int, decision: str | None) -> AppTest:
    return at.segmented_control(key=_hunks(at)[hunk]).set_value(decision).run()


def _findings(at: AppTest):
    return next(d.value for d in at.dataframe if "severity" in d.value.columns)


def _code_of_hunk(at: AppTest, text: str) -> int:
    blocks = [c.value for c in at.code if c.value.startswith("@@")]
    return next(k for k, block in enumerate(blocks) if text in block)


def test_the_proposal_is_shown_against_its_base_with_support_per_hunk(seeded):
    at = _page()
    assert not at.exception
    assert at.selectbox(key="rev_version").value == seeded.result.version
    hunks = _hunks(at)
    assert len(hunks) == 2 and all(at.segmented_control(key=k).value is None for k in hunks.values())  # undecided
    assert any("Draft: this proposal is not part of airline-policy until someone saves it" in i.value for i in at.info)
    book, cancel = _code_of_hunk(at, BOOK_LINE), _code_of_hunk(at, CANCEL_LINE)
    assert (book, cancel) == (0, 1)  # SKILL.md order: Book flight comes before Cancel flight
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert ":orange-badge[:material/groups: supported by 3 trajectories]" not in badges
    assert any("supported by 3 trajectories" in b for b in badges)  # the failures only
    assert any("supported by 6 trajectories" in b for b in badges)  # every trajectory
    assert any("lint and spec: no findings" in b for b in badges)
    unified = [c.value for c in at.code if c.value.startswith("--- a/SKILL.md")]
    assert unified and f"+{BOOK_LINE}" in unified[0] and f"+{CANCEL_LINE}" in unified[0]
    side = next(h.proto.body for h in at.get("html") if "<table" in h.proto.body)
    assert (f'<td class="t new">{html.escape(BOOK_LINE)}</td><td class="s">3 trajectories</td>' in side
            and '<tr class="insert">' in side)
    assert any("2 hunks: 0 accepted, 0 rejected, 2 undecided" in m.value for m in at.markdown)


def test_reject_a_hunk_then_save_a_manual_version_without_it(seeded):
    db = seeded.ws.db
    at = _decide(_page(), 0, "reject")
    assert any("2 hunks: 0 accepted, 1 rejected, 1 undecided" in c.value for c in at.caption)
    preview = [t.value for t in at.text_area]
    assert preview and BOOK_LINE not in preview[0] and CANCEL_LINE in preview[0]
    at.text_input(key="rev_message").input("keep the cancel lesson only").run()
    at.button(key="rev_save").click().run()
    assert not at.exception
    saved = latest_version(db, "airline-policy")
    assert (saved.source, saved.parent, saved.message) == ("manual", seeded.result.version,
                                                                     "keep the cancel lesson only")
    text = saved.files["SKILL.md"]
    assert CANCEL_LINE in text and BOOK_LINE not in text
    assert any(f"Saved version {saved.id}" in s.value and "now the current version" in s.value for s in at.success)
    assert any(f"Reviewed: the result of this proposal was saved as version {saved.id[:12]}" in s.value
               for s in at.success)
    decision = db.execute("SELECT action, subject_id FROM decisions WHERE subject_type = 'skill_version'").fetchall()
    assert decision == [("save", saved.id)]
    assert current_version_id(db, "airline-policy") == saved.id
    # Saving the same selection again creates nothing new.
    at.button(key="rev_save").click().run()
    assert len(list_versions(db, "airline-policy")) == 3
    assert any("already the current version of airline-policy" in i.value for i in at.info)


def test_reject_all_then_accept_all(seeded):
    at = _page()
    at.button(key="rev_reject_all").click().run()
    assert all(at.segmented_control(key=k).value == "reject" for k in _hunks(at).values())
    assert any("2 hunks: 0 accepted, 2 rejected, 0 undecided" in c.value for c in at.caption)
    at.button(key="rev_save").click().run()
    saved = latest_version(seeded.ws.db, "airline-policy")
    assert saved.files == get_version(seeded.ws.db, seeded.base).files  # the base text, as a child of the proposal
    at.button(key="rev_accept_all").click().run()
    assert all(at.segmented_control(key=k).value == "accept" for k in _hunks(at).values())
    at.button(key="rev_clear_all").click().run()
    assert all(at.segmented_control(key=k).value is None for k in _hunks(at).values())


def test_edit_the_result_then_save(seeded):
    at = _page()
    area = at.text_area[0]
    area.input(area.value.replace(CANCEL_LINE, "- Confirm the cancellation with the user first.")).run()
    at.button(key="rev_save").click().run()
    text = latest_version(seeded.ws.db, "airline-policy").files["SKILL.md"]
    assert "- Confirm the cancellation with the user first." in text and CANCEL_LINE not in text and BOOK_LINE in text


def test_strict_errors_block_export_and_valid_results_export(seeded, tmp_path):
    at = _page("Dana")
    area = at.text_area[0]
    area.input(area.value.replace("name: airline-policy", "name: Airline Policy!")).run()
    assert any("breaks the Agent Skills spec" in e.value for e in at.error)
    assert at.get("download_button")[0].proto.disabled
    findings = _findings(at)  # the findings beside SKILL.md
    assert "error" in set(findings["severity"]) and any("name" in m for m in findings["message"])
    at.text_input(key="rev_export_path").input(str(tmp_path)).run()
    at.button(key="rev_export").click().run()
    assert any("Export refused" in e.value for e in at.error)
    assert not (tmp_path / "airline-policy").exists()

    at = _page("Dana")  # a fresh session brings the unsaved edit back (a draft); discarding it leaves the proposal
    assert at.get("download_button")[0].proto.disabled
    next(b for b in at.button if b.key and b.key.startswith("rev_discard:")).click().run()
    assert not at.get("download_button")[0].proto.disabled
    at.text_input(key="rev_export_path").input(str(tmp_path)).run()
    at.button(key="rev_export").click().run()
    written = (tmp_path / "airline-policy" / "SKILL.md").read_text()
    assert BOOK_LINE in written and CANCEL_LINE in written


def test_any_two_versions(seeded):
    at = _page()
    at.segmented_control(key="rev_mode").set_value("Any two versions").run()
    assert at.selectbox(key="rev_old").value == seeded.base and at.selectbox(key="rev_new").value == seeded.result.version
    at.selectbox(key="rev_old").set_value(seeded.result.version).run()
    assert any("The two versions are identical" in i.value for i in at.info)


def test_line_support_of_a_manual_child_is_traced_through_history(seeded):
    db = seeded.ws.db
    proposal = get_version(db, seeded.result.version)
    from trace2skill.store.skills import save_version

    files = dict(proposal.files)
    files["SKILL.md"] = files["SKILL.md"].replace(BOOK_LINE, BOOK_LINE + "\n- A line written by hand.")
    manual = save_version(db, "airline-policy", files, source="manual", parent=proposal.id, message="hand")
    [fd] = diff_files(get_version(db, seeded.base).files, files)
    support = line_support(db, manual, "SKILL.md", added_new_lines(fd))
    lines = files["SKILL.md"].splitlines()
    by_text = {lines[i]: s for i, s in support.items()}
    assert len(by_text[BOOK_LINE].trajectories) == 3 and len(by_text[CANCEL_LINE].trajectories) == 6
    assert "- A line written by hand." not in by_text
    per_hunk = hunk_support(fd.hunks, support)
    assert [h.count for h in per_hunk] == [3, 6]



# --------------------------------------------------------------------------- held-out evaluation


def _evaluate(seeded: Seeded, candidate_breaks: bool) -> str:
    """A finished A/B run of the proposal against its base on six stored tasks; with
    `candidate_breaks`, the model answers wrongly whenever the proposal's booking line is in its
    system prompt (so every task goes pass→fail)."""
    from tests.fakes import ScriptedClient
    from trace2skill import runs
    from trace2skill.evaluate import EvalConfig, start_ab_run
    from trace2skill.models import EvalTask
    from trace2skill.store import evaluation as eval_store

    def answer(messages, output):
        n = messages[1]["content"].split("Question ", 1)[1].split(":", 1)[0]
        broken = candidate_breaks and BOOK_LINE in messages[0]["content"]
        return {"answer": "no idea" if broken else f"v{n}"}

    ws = seeded.ws
    tasks = [EvalTask(prompt=f"Question {n}: what is in row {n}?", context=f"row,value\n{n},v{n}",
                      answers=[f"v{n}"]).with_id() for n in range(6)]
    ids = eval_store.save_tasks(ws.db, tasks, "six")
    proposal = get_version(ws.db, seeded.result.version)
    run_id = start_ab_run(ws, proposal.id, proposal.parent, ids,
                          EvalConfig(repeats=2, concurrency=2, skill_chars=100_000))
    runs.execute(ws, run_id, ScriptedClient(answer))
    return run_id


def test_the_latest_ab_result_and_its_flips_are_shown(seeded):
    run_id = _evaluate(seeded, candidate_breaks=True)
    at = _page()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Regressions (pass→fail)"] == "6" and metrics["Change"] == "-100.0%"
    assert any(label.startswith("Candidate") and value == "0.0% ± 0.0%" for label, value in metrics.items())
    flips = next(d.value for d in at.dataframe if "flip" in d.value.columns)
    assert list(flips["flip"]) == ["pass→fail"] * 6 and set(flips["expected"]) == {f"v{n}" for n in range(6)}
    assert any(run_id in c.value and "6 held-out tasks × 2 repeat(s)" in c.value for c in at.caption)


def test_the_gate_refuses_to_save_a_regression(seeded):
    _evaluate(seeded, candidate_breaks=True)
    at = _page()
    before = len(list_versions(seeded.ws.db, "airline-policy"))
    assert not at.button(key="rev_save").disabled  # gate off: a reviewer may still save
    at.toggle(key="rev_gate").set_value(True).run()
    assert any("Saving is refused by the gate: regressed" in e.value for e in at.error)
    assert at.button(key="rev_save").disabled  # a browser user cannot click it
    _decide(at, 0, "reject")  # still refused after changing the selection
    assert at.button(key="rev_save").disabled
    assert len(list_versions(seeded.ws.db, "airline-policy")) == before


def test_the_gate_lets_an_improvement_or_a_tie_through(seeded):
    _evaluate(seeded, candidate_breaks=False)
    at = _page()
    at.toggle(key="rev_gate").set_value(True).run()
    assert not at.error and not at.button(key="rev_save").disabled
    _decide(at, 0, "reject")  # a partial accept: something new to save
    at.button(key="rev_save").click().run()
    saved = latest_version(seeded.ws.db, "airline-policy")
    assert (saved.source, saved.parent) == ("manual", seeded.result.version)


GARBAGE = "<pre><code>booked_cancellation_rules.json</code></pre><p>…When a customer can"  # seen from SmolLM2


def test_the_proposal_shows_the_edit_budget_it_was_applied_under(seeded):
    at = _page()
    assert any("Edit budget: 2 of 60 lines added" in c.value for c in at.caption)
    assert not [e for e in at.expander if "Over the edit budget" in e.label]


def test_saving_garbage_needs_an_explicit_confirmation_recorded_with_the_decision(seeded):
    db = seeded.ws.db
    files = dict(get_version(db, seeded.base).files)
    files["SKILL.md"] += f"\n{GARBAGE}\n"
    proposal = save_version(db, "airline-policy", files, source="proposal", parent=seeded.base)
    at = _page()
    assert at.selectbox(key="rev_version").value == proposal
    assert any("finding(s) to check before saving (markup, truncated)" in w.value for w in at.warning)
    assert at.button(key="rev_save").proto.disabled
    (confirm,) = [c for c in at.checkbox if c.key and c.key.startswith("rev_confirm:")]
    assert confirm.label == "I checked these findings: save anyway" and not confirm.value
    confirm.check().run()
    assert not at.button(key="rev_save").proto.disabled
    edited = at.text_area[0].value.replace("a customer can", "a customer could")
    at.text_area[0].input(edited).run()
    assert at.button(key="rev_save").proto.disabled  # other findings now: confirmed afresh
    [c for c in at.checkbox if c.key and c.key.startswith("rev_confirm:")][0].check().run()
    at.button(key="rev_save").click().run()
    saved = latest_version(db, "airline-policy")
    assert saved.parent == proposal and "When a customer could" in saved.files["SKILL.md"]
    (decision,) = list_decisions(db, "skill_version", saved.id)
    confirmed = decision.detail["confirmed_findings"]
    assert sorted(f["code"] for f in confirmed) == ["markup", "truncated"]
    assert all(f["check"] == "lint" and f["file"] == "SKILL.md" for f in confirmed)


def test_a_clean_save_asks_nothing_and_records_no_confirmation(seeded):
    at = _page()
    assert not [c for c in at.checkbox if c.key and c.key.startswith("rev_confirm:")]
    _decide(at, 0, "reject")
    at.button(key="rev_save").click().run()
    (decision,) = list_decisions(seeded.ws.db, "skill_version")
    assert "confirmed_findings" not in decision.detail
