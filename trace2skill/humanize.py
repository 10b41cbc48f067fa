"""Numbers, times and counts as people read them, for the screens and the CLI alike: "1 edit",
"3 edits"; "5 minutes ago" with the exact time kept for a tooltip; "2026-11-26 10:02 UTC".

Stored times are ISO 8601 in UTC (`datetime.now(timezone.utc).isoformat()`); anything that does
not parse is shown as it is rather than hidden."""

from __future__ import annotations

from datetime import UTC, datetime


def plural(n: int, word: str, words: str | None = None) -> str:
    """ "1 edit", "2 edits", "1 trajectory", "3 trajectories" (`words` for other irregular plurals)."""
    if n == 1:
        return f"{n:,} {word}"
    if words is None:
        words = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u") else word + "s"
    return f"{n:,} {words}"


def parse_time(timestamp: str | None) -> datetime | None:
    """A stored timestamp as an aware datetime (naive ones are taken as UTC); None if absent or
    not a time."""
    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def exact(timestamp: str | None) -> str:
    """ "2026-11-26 10:02:13 UTC" — the time to the second, for tooltips and exports."""
    moment = parse_time(timestamp)
    if moment is None:
        return timestamp or ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def minute(timestamp: str | None) -> str:
    """ "2026-11-26 10:02 UTC" — the time to the minute, where a line must stay short."""
    moment = parse_time(timestamp)
    if moment is None:
        return timestamp or ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_UNITS = ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"), (86400, "day"), (3600, "hour"),
          (60, "minute"))


def ago(timestamp: str | None, now: datetime | None = None) -> str:
    """How long ago, in words: "just now", "5 minutes ago", "yesterday", "3 weeks ago"; a time in
    the future (clock skew) reads "just now"."""
    moment = parse_time(timestamp)
    if moment is None:
        return timestamp or ""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 45:
        return "just now"
    if 86400 <= seconds < 2 * 86400:
        return "yesterday"
    for size, unit in _UNITS:
        if seconds >= size:
            return f"{plural(int(seconds // size), unit)} ago"
    return "1 minute ago"
