"""Trajectory search (store): bm25 ranking (task above conversation above tool output), shared text
(system prompts, a text most runs carry word for word) left out unless asked for, the list of shared
steps kept current as trajectories come and go, snippets with the matched words marked."""

from __future__ import annotations

import json

from trace2skill.ingest import import_paths
from trace2skill.models import Step, Task, ToolCall, ToolResult, Trajectory
from trace2skill.store.search import MARK, refresh_shared, search_hits, shared_is_current
from trace2skill.store.trajectories import (
    TrajectoryFilter,
    count_trajectories,
    insert_trajectories,
    list_trajectories,
    trajectory_ids,
)

POLICY = "You are an airline agent. Travel insurance can only be bought at booking. Follow the baggage rules."


def _run(n: int, *steps: Step, task: str = "") -> Trajectory:
    return Trajectory(source_format="test", task=Task(id=str(n), prompt=task or f"task {n}: help the customer"),
                      steps=[Step(index=0, role="system", text=POLICY),
                             *(s.model_copy(update={"index": i + 1}) for i, s in enumerate(steps))],
                      outcome={"label": "failure"}).with_id()


def _say(role: str, text: str) -> Step:
    return Step(index=0, role=role, text=text)


def _store(ws, runs: list[Trajectory]) -> dict[int, str]:
    insert_trajectories(ws.db, [(t, []) for t in runs])
    return {int(t.task.id): t.id for t in runs}


def _search(ws, text: str, include_shared: bool = False) -> list[str]:
    return [r.id for r in list_trajectories(ws.db, TrajectoryFilter(search=text, include_shared=include_shared))]


def _airline(ws) -> dict[int, str]:
    tool_call = Step(index=0, role="assistant", tool_calls=[ToolCall(name="get_reservation", arguments={"id": "X1"})])
    tool_out = Step(index=0, role="tool", tool_results=[ToolResult(content='{"id": "X1", "insurance": "no"}')])
    return _store(ws, [
        _run(1, _say("user", "Hi, I need to change my flight."), task="Add travel insurance to the booking you made"),
        _run(2, _say("user", "Can I change seats?"), _say("assistant", "Insurance cannot be added after booking.")),
        _run(3, _say("user", "Show my reservation."), tool_call, tool_out),
        _run(4, _say("user", "Book me a flight to Paris.")),
        _run(5, _say("user", "Cancel my reservation please.")),
    ])


def test_a_word_in_every_system_prompt_finds_only_the_runs_that_use_it_best_first(ws):
    ids = _airline(ws)
    assert _search(ws, "insurance") == [ids[1], ids[2], ids[3]]  # task, then conversation, then tool output
    assert count_trajectories(ws.db, TrajectoryFilter(search="insurance")) == 3
    assert set(trajectory_ids(ws.db, TrajectoryFilter(search="insurance"))) == {ids[1], ids[2], ids[3]}
    # Asked for, the shared text counts: every run carries the policy.
    assert set(_search(ws, "insurance", include_shared=True)) == set(ids.values())
    assert count_trajectories(ws.db, TrajectoryFilter(search="insurance", include_shared=True)) == 5
    assert _search(ws, "baggage") == [] and len(_search(ws, "baggage", include_shared=True)) == 5
    # Other filters still apply to a ranked search, and pages follow the ranking.
    assert set(_search(ws, "reservation")) == {ids[3], ids[5]}
    assert _search(ws, "insurance") == [r.id for r in list_trajectories(
        ws.db, TrajectoryFilter(search="insurance", outcome="failure"))]
    assert list_trajectories(ws.db, TrajectoryFilter(search="insurance", outcome="success")) == []
    page = list_trajectories(ws.db, TrajectoryFilter(search="insurance"), limit=1, offset=1)
    assert [r.id for r in page] == [ids[2]]


def test_more_mentions_rank_higher_and_a_tool_output_match_ranks_below_talk(ws):
    ids = _store(ws, [
        _run(1, _say("user", "My bag is lost."), _say("assistant", "I will file a report for your lost bag.")),
        _run(2, _say("user", "My bag is lost.")),
        _run(3, Step(index=0, role="tool", tool_results=[ToolResult(content="bag: lost, delayed, lost again")])),
    ])
    assert _search(ws, "lost") == [ids[1], ids[2], ids[3]]


def test_a_text_most_runs_share_word_for_word_is_not_a_match(ws):
    greeting = "Welcome to the airline support desk, how can I help with your baggage today?"
    ids = _store(ws, [
        _run(1, _say("assistant", greeting), _say("user", "my baggage is late")),
        _run(2, _say("assistant", greeting)),
        _run(3, _say("assistant", greeting)),
        _run(4, _say("user", "where is my baggage")),
        _run(5, _say("user", "hello")),
    ])
    # The greeting is in 3 of 5 runs (more than half): only the runs that speak of baggage otherwise match.
    assert set(_search(ws, "baggage")) == {ids[1], ids[4]}
    assert set(_search(ws, "baggage", include_shared=True)) == set(ids.values())
    # Two more runs without it: 3 of 7 is no longer most, so the greeting counts again.
    more = _store(ws, [_run(6, _say("user", "a")), _run(7, _say("user", "b"))])
    assert not shared_is_current(ws.db)
    assert set(_search(ws, "baggage")) == {ids[1], ids[2], ids[3], ids[4]}
    assert shared_is_current(ws.db)
    assert more[6] not in _search(ws, "baggage")


def test_a_text_in_fewer_than_three_runs_is_never_shared(ws):
    ids = _store(ws, [_run(1, _say("user", "lost my passport")), _run(2, _say("user", "lost my passport"))])
    assert set(_search(ws, "passport")) == {ids[1], ids[2]}  # 2 of 2 runs, but too few to call it shared


def test_the_shared_list_is_recomputed_only_after_changes(ws):
    _airline(ws)
    assert not shared_is_current(ws.db)
    assert refresh_shared(ws.db) == 5  # the five system steps
    assert shared_is_current(ws.db)
    before = ws.db.execute("SELECT count(*) FROM search_shared").fetchone()[0]
    assert refresh_shared(ws.db) == before
    with ws.db.atomic():
        ws.db.execute("DELETE FROM trajectories WHERE rowid = (SELECT max(rowid) FROM trajectories)")
    assert not shared_is_current(ws.db)
    assert refresh_shared(ws.db) == 4


def test_snippets_mark_the_matched_words_in_task_and_best_step(ws):
    ids = _airline(ws)
    hits = search_hits(ws.db, [ids[1], ids[2], ids[3]], "insurance")
    start, end = MARK
    assert hits[ids[1]].task is not None and f"{start}insurance{end}" in hits[ids[1]].task
    assert hits[ids[1]].step is None  # its steps do not mention it (the policy does not count)
    assert hits[ids[2]].task is None and hits[ids[2]].step_idx == 2 and hits[ids[2]].role == "assistant"
    assert f"{start}Insurance{end} cannot be added" in (hits[ids[2]].step or "")
    assert hits[ids[3]].step_idx == 3 and f'"{start}insurance{end}": "no"' in (hits[ids[3]].step or "")
    shared = search_hits(ws.db, [ids[4]], "insurance", include_shared=True)[ids[4]]
    assert shared.step_idx == 0 and shared.role == "system"
    assert search_hits(ws.db, [ids[4]], "insurance") == {}


def test_search_text_is_never_fts_syntax(ws):
    _airline(ws)
    for text in ('"quote" OR ) bad (', "NEAR(insurance", "insurance*", "-insurance"):
        assert count_trajectories(ws.db, TrajectoryFilter(search=text)) == len(_search(ws, text))


def test_the_demo_runs_mention_insurance_outside_the_policy(ws, shared_data):
    path = shared_data / "tau-bench" / "historical_trajectories" / "gpt-4o-airline.json"
    import_paths(ws, [path])
    raw = json.loads(path.read_text())
    outside = [r for r in raw if "insur" in (json.dumps([m for m in r["traj"] if m["role"] != "system"])
                                             + r["info"]["task"]["instruction"]).lower()]
    assert 150 < len(outside) < len(raw)
    assert count_trajectories(ws.db, TrajectoryFilter(search="insurance")) == len(outside)
    assert count_trajectories(ws.db, TrajectoryFilter(search="insurance", include_shared=True)) == len(raw)
    best = list_trajectories(ws.db, TrajectoryFilter(search="insurance"), limit=1)[0]
    assert "insurance" in best.task.lower()  # the run whose task asks about insurance comes first


def test_a_ranking_is_not_reused_once_a_step_changes(ws):
    ids = _airline(ws)
    assert _search(ws, "Paris") == [ids[4]]
    with ws.db.atomic():  # say, a redaction rewrites a step's text
        ws.db.execute("UPDATE steps SET text = 'Book me a flight to Rome.' WHERE text = 'Book me a flight to Paris.'")
    assert _search(ws, "Paris") == [] and _search(ws, "Rome") == [ids[4]]


def test_stored_batches_are_indexed_in_bulk_and_the_index_matches_the_tables(ws):
    """New trajectories and their steps are indexed once per stored batch (migration m020), not by a
    trigger per row: every batch is found, each counts once as a change of the shared list, and FTS5's
    own integrity check finds the index equal to the tables, through a delete and a text update too."""
    first = _store(ws, [_run(1, _say("user", "lost my passport"), task="renew a passport")])
    generation = ws.db.execute("SELECT generation FROM search_state").fetchone()[0]
    second = _store(ws, [_run(2, _say("user", "lost my ticket"), task="refund a ticket"),
                         _run(3, _say("user", "hello"), task="refund a ticket twice")])
    assert ws.db.execute("SELECT generation FROM search_state").fetchone()[0] == generation + 1
    assert _search(ws, "passport") == [first[1]] and set(_search(ws, "refund")) == {second[2], second[3]}
    ws.db.execute("UPDATE trajectories SET task = 'renew a visa' WHERE id = ?", [first[1]])
    ws.db.execute("DELETE FROM trajectories WHERE id = ?", [second[3]])
    assert _search(ws, "visa") == [first[1]] and _search(ws, "refund") == [second[2]]
    for table in ("trajectories_fts", "steps_fts"):
        ws.db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)")
