"""Counts, times and codes as people read them (trace2skill.humanize, trace2skill.ui.words)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest

from trace2skill.humanize import ago, exact, minute, parse_time, plural
from trace2skill.models import SignalKind
from trace2skill.ui.words import FORMAT_WORDS, SIGNAL_WORDS, outcome_detail_words, signal_words, time_html

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("n", "word", "expected"), [
    (1, "edit", "1 edit"), (0, "edit", "0 edits"), (2, "error", "2 errors"), (1, "trajectory", "1 trajectory"),
    (3, "trajectory", "3 trajectories"), (2, "day", "2 days"), (1200, "lesson", "1,200 lessons"),
    (2, "analysis", "2 analyses"),
])
def test_plural(n, word, expected):
    assert plural(n, word, "analyses" if word == "analysis" else None) == expected


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-11-26T11:59:40+00:00", "just now"),
    ("2026-11-26T11:59:00+00:00", "1 minute ago"),
    ("2026-11-26T11:55:00+00:00", "5 minutes ago"),
    ("2026-11-26T10:00:00+00:00", "2 hours ago"),
    ("2026-11-25T09:00:00+00:00", "yesterday"),
    ("2026-11-20T12:00:00+00:00", "6 days ago"),
    ("2026-10-01T12:00:00Z", "1 month ago"),
    ("2026-11-26T11:00:00", "1 hour ago"),  # naive: taken as UTC
    ("2026-11-26T13:00:00+00:00", "just now"),  # a clock ahead of ours
])
def test_ago(stamp, expected):
    assert ago(stamp, now=NOW) == expected


def test_exact_and_minute_times_and_what_does_not_parse():
    assert exact("2026-11-26T10:02:13.123456+00:00") == "2026-11-26 10:02:13 UTC"
    assert minute("2026-11-26T12:02:13+02:00") == "2026-11-26 10:02 UTC"  # shown in UTC
    assert parse_time("now") is None and ago("now") == "now" and exact(None) == ""  # shown as it is, not hidden
    html = time_html("2026-11-20T10:02:13+00:00")
    assert 'title="2026-11-20 10:02:13 UTC"' in html and "ago<" in html
    assert time_html(None) == "at an unknown time"


def test_every_signal_and_importer_has_words():
    assert set(SIGNAL_WORDS) == set(get_args(SignalKind))
    assert all("_" not in words and "," not in words for words in SIGNAL_WORDS.values())  # lists join with ", "
    assert signal_words("some_new_kind") == "some new kind"
    from trace2skill.ingest.pipeline import FORMAT_NAMES
    assert set(FORMAT_NAMES) <= set(FORMAT_WORDS)


def test_outcome_detail_in_words():
    assert outcome_detail_words("r_actions=0.0") == "The agent's actions did not match the expected ones (score 0.0)."
    both = outcome_detail_words("r_actions=1.0, r_outputs=0.0")
    assert both == ("The agent's actions matched the expected ones (score 1.0). "
                    "The answers the user needed were not all given (score 0.0).")
    assert outcome_detail_words("score: 3 of 5") == "score: 3 of 5"  # anything else is shown as the data has it
    assert outcome_detail_words("r_actions=high") == "r_actions=high"
    assert "not why" in outcome_detail_words("reward_info missing: failure with unknown detail")
