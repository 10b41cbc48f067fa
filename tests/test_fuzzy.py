"""The one fuzzy matcher (trace2skill.fuzzy) and its users agreeing: grounding stores the span the
Lessons screen marks."""

from __future__ import annotations

from trace2skill.analysis.grounding import ground, step_text
from trace2skill.fuzzy import Match, Refusal, best_span, find, find_unique, fold_text
from trace2skill.models import Evidence, StoredStep, ToolCall, ToolResult
from trace2skill.ui.lesson_view import evidence_caption, evidence_span

POLICY = ("Booking policy.\n\nThe agent must first obtain the user id, then ask for the trip type, origin and "
          "destination. Each extra baggage is 50 dollars, and travel insurance costs 30 dollars per passenger. "
          "Basic economy flights cannot be modified after booking.")
SENTENCE = "Basic economy flights cannot be modified after booking."


def test_exact_with_folding_reports_original_offsets():
    text = "Result:\n  The   Booking\twas\n\nCHANGED  today"
    found = find(text, "the booking was changed", max_error=0.2, fold=True)
    assert found == Match(10, 36, "exact") and text[found.start:found.end] == "The   Booking\twas\n\nCHANGED"
    assert find(text, "the booking was changed", max_error=0.2, fold=False) is None  # case matters unfolded
    assert fold_text("A\t\n B") == "a b"
    assert find(text, "booking", max_error=0.2, fold=True, min_chars=8) is None  # too short to count


def test_fuzzy_typo_in_a_long_quote_is_found_in_place():
    typo = SENTENCE.replace("economy", "econmy").replace("modified", "modifed")
    assert len(typo) > 32  # beyond diff-match-patch's Bitap limit
    found = find(POLICY, typo, max_error=0.25, fold=False)
    assert found is not None and found.kind == "fuzzy" and found.distance == 2
    assert POLICY[found.start:found.end] == SENTENCE


def test_too_different_is_not_found():
    assert find(POLICY, "Pets travel in the cabin for a fee of 95.", max_error=0.25, fold=True) is None
    assert find(POLICY, "Basic economy fares can never be changed.", max_error=0.2, fold=True) is None
    assert find(POLICY, "Each extra bagage is 50 dolars", max_error=0.0, fold=True) is None  # exact only
    assert find("", "anything at all", max_error=0.25, fold=True) is None


def test_unique_refuses_ambiguity():
    text = "Check the id.\nAsk for the trip type.\nCheck the id.\nAsk for the trip typo.\n"
    assert find_unique(text, "Check the id.", max_error=0.25) == Refusal("repeated", 2)
    assert find_unique(text, "Ask for the trip typ.", max_error=0.25) == Refusal("ambiguous")
    assert find_unique(text, "Never seen anywhere here", max_error=0.25) == Refusal("not_found")
    assert find_unique(text, "   ", max_error=0.25) == Refusal("empty")
    assert find_unique(text, "Chek", max_error=0.25, fuzzy_min_chars=8) == Refusal("not_found")
    one = find_unique(text, "Ask for the trip type.", max_error=0.25)
    assert isinstance(one, Match) and one.kind == "exact" and text[one.start:one.end] == "Ask for the trip type."


def test_best_span_is_semi_global_and_shortest():
    assert best_span("kitten", "the sitting cat") == (2, 5, 10)
    assert best_span("kitten", "the sitting cat", max_distance=1) is None


def test_grounded_quote_is_marked_by_the_lesson_view_at_the_same_span():
    steps = [
        StoredStep(trajectory_id="t", idx=0, role="user", text="Please move my flight to Friday."),
        StoredStep(trajectory_id="t", idx=1, role="assistant", text="Let me check.",
                   tool_calls=[ToolCall(name="get_reservation", arguments={"id": "ZFA04Y"})],
                   tool_results=[ToolResult(
                       content="Reservation ZFA04Y:  Basic Economy,\n no changes allowed after 24 hours.")]),
    ]
    quote = "basic economy, NO changes alowed after 24 hours"  # other case and spacing, one typo
    [ev] = ground([Evidence(step_idx=0, quote=quote)], steps)  # cites the wrong step: re-pointed
    assert ev.grounded and ev.match == "fuzzy" and ev.step_idx == 1
    assert ev.start is not None and ev.end is not None
    span = (ev.start, ev.end)
    assert step_text(steps[1])[ev.start:ev.end] == "Basic Economy,\n no changes allowed after 24 hours"
    stored = ev
    old = ev.model_copy(update={"start": None, "end": None})  # evidence grounded before spans were stored
    assert evidence_span(stored, steps[1]) == evidence_span(old, steps[1]) == span
    assert evidence_caption(stored, span) == " · quote found (fuzzy)"
    [missing] = ground([Evidence(step_idx=1, quote="the flight was upgraded to business")], steps)
    assert missing.grounded is False and missing.start is None
    assert evidence_span(missing, steps[1]) is None
    assert evidence_caption(missing, None) == " · quote not found in this step"
