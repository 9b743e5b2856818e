"""Baton's one phrase book: SLA results, durations, times, burn rates and budgets in plain
words, for the command line, the dashboard and alert messages alike."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from slas.spec import CompletenessSla, FreshnessSla, LatencySla, Sla, format_duration

WINDOW_WORDS = {7 * 86_400: "this week", 86_400: "in the last 24 hours",
                30 * 86_400: "in the last 30 days"}
DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
UNIT_NAMES = {"d": "day", "h": "hour", "m": "minute", "s": "second"}
def percent(value: float | None, digits: int = 2, missing: str = "-") -> str:
    """0.987 -> '98.7%'; `missing` when there is no value (None or NaN)."""
    if value is None or math.isnan(value):
        return missing
    text = f"{value * 100:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def limit_words(seconds: int) -> str:
    """A limit or a window as people say it: 300 -> '5 minutes', 86400 -> '1 day'."""
    unit = format_duration(seconds)
    number, name = int(unit[:-1]), UNIT_NAMES[unit[-1]]
    return f"{number} {name}{'' if number == 1 else 's'}"


def window_words(window_s: int) -> str:
    """A rolling window: 'this week', 'in the last 24 hours', 'in the last 2 hours'."""
    return WINDOW_WORDS.get(window_s, f"in the last {limit_words(window_s)}")


def subject_words(sla: LatencySla | CompletenessSla) -> str:
    """`lead` + {qualified: true} -> 'qualified leads'; other filters in brackets."""
    flags = [name for name, value in sla.where.items() if value is True]
    others = [f"{name} {_value_words(value)}" for name, value in sla.where.items()
              if value is not True]
    noun = " ".join([*flags, sla.journey + "s"])
    return noun + (f" ({', '.join(others)})" if others else "")


def _value_words(value: object) -> str:
    if isinstance(value, list):
        return "in " + "/".join(map(str, value))
    return f"= {value}"


def sentence(sla: Sla, sli: float | None) -> str:
    """One sentence a leader can read: what share kept the promise over the SLA's window,
    and the target; with no SLI yet (None or NaN) it says so instead of a share. E.g. '98.7%
    of qualified leads went from form.submitted to crm.assigned within 5 minutes this week;
    target 99%'."""
    target = percent(float(sla.objective))
    if isinstance(sla, FreshnessSla):
        what = (f"minutes had a {', '.join(sla.type)} event no older than "
                f"{limit_words(sla.max_age)}")
    else:
        assert isinstance(sla, LatencySla | CompletenessSla)
        limit = sla.threshold if isinstance(sla, LatencySla) else sla.within
        what = (f"{subject_words(sla)} went from {sla.from_} to {sla.to} within "
                f"{limit_words(limit)}")
    window = window_words(sla.window)
    if sli is None or math.isnan(sli):
        return f"No data {window} yet on whether {what}; target {target}"
    return f"{percent(sli, 1)} of {what} {window}; target {target}"


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
