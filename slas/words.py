"""SLA results in plain words, for scorecards on the terminal and in the dashboard."""

from __future__ import annotations

from slas.judge import Result
from slas.spec import CompletenessSla, FreshnessSla, LatencySla, Sla, format_duration

WINDOW_WORDS = {"7d": "this week", "1d": "today", "30d": "this month", "1h": "this hour"}
DURATION_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_words(seconds: float) -> str:
    """A span of time as people read it: the two largest units, `6d 21h`, `3h 12m`, `45s`
    (the one owner of durations in words: the CLI and the dashboard both call it)."""
    left = max(0, int(round(seconds)))
    parts: list[str] = []
    for unit, size in DURATION_UNITS:
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


def percent(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    text = f"{value * 100:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def sentence(sla: Sla, result: Result) -> str:
    """E.g. '98.7% of qualified leads reached crm.assigned within 5m of form.submitted this
    week; target 99%.'"""
    window = WINDOW_WORDS.get(result.window, f"over the last {result.window}")
    target = f"target {percent(result.objective)}"
    if result.total == 0:
        return f"No data {window} yet; {target}."
    share = percent(result.sli)
    if isinstance(sla, FreshnessSla):
        types = ", ".join(sla.type)
        return (f"{share} of minutes {window} had a {types} event at most "
                f"{format_duration(sla.max_age)} old; {target}.")
    who = _who(sla)
    if isinstance(sla, LatencySla):
        return (f"{share} of {who} reached {sla.to} within {format_duration(sla.threshold)} "
                f"of {sla.from_} {window}; {target}.")
    assert isinstance(sla, CompletenessSla)
    return (f"{share} of {who} that reached {sla.from_} reached {sla.to} within "
            f"{format_duration(sla.within)} {window}; {target}.")


def _who(sla: LatencySla | CompletenessSla) -> str:
    noun = f"{sla.journey}s"
    if not sla.where:
        return noun
    flags = [name for name, value in sla.where.items() if value is True]
    others = [f"{name}={value}" for name, value in sla.where.items() if value is not True]
    adjectives = " ".join(flags)
    text = f"{adjectives} {noun}" if adjectives else noun
    return f"{text} ({', '.join(others)})" if others else text
