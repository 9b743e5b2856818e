"""SLA results in plain words, for scorecards on the terminal and in the dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from slas.judge import Result
from slas.spec import CompletenessSla, FreshnessSla, LatencySla, Sla, format_duration

WINDOW_WORDS = {"7d": "this week", "1d": "today", "30d": "this month", "1h": "this hour"}
DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


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


def duration_words(seconds: float) -> str:
    """A length of time in its two largest units, rounded down: 594000 -> '6d 21h',
    3900 -> '1h 5m', 42 -> '42s'."""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in DURATION_UNITS:
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
        elif parts:
            break  # '1d 0h 5m' would mislead: stop at the first empty unit after the largest
        if len(parts) == 2:
            break
    return " ".join(parts)


def moment_words(micros: int) -> str:
    """An instant for people, to the minute: '2026-01-01 12:05 UTC'."""
    return datetime.fromtimestamp(micros / 1e6, UTC).strftime("%Y-%m-%d %H:%M UTC")


def times(value: float) -> str:
    """A burn-rate factor: 14.4 -> '14.4×', 6.0 -> '6×', 0.523 -> '0.52×'."""
    text = f"{value:.1f}" if value >= 1 else f"{value:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}×"


def burn_words(rates: Mapping[str, float]) -> str:
    """Burn rates by window, in the order given: '14.4× the sustainable rate over 1h, 15.2×
    over 5m' (1× spends exactly the error budget over the SLA's window)."""
    if not rates:
        return "-"
    parts = [f"{times(rate)} over {span}" for span, rate in rates.items()]
    first, *rest = parts
    head = first.replace(" over ", " the sustainable rate over ", 1)
    return ", ".join([head, *rest])


def budget_words(remaining: float) -> str:
    """Error budget left: 0.125 -> '12.5% left'; -0.5 -> 'none left (overspent by 50%)'."""
    if remaining < 0:
        return f"none left (overspent by {percent(-remaining)})"
    return f"{percent(remaining)} left"
