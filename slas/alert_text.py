"""An alert in words for people: its facts (what, team, since when, SLI vs objective, budget
left, burn rate, stalled stage and accountable team, the link) and the Slack Block Kit message
that groups a team's alerts (FORMATS.md 6b: <= 50 blocks, header <= 150 chars, section <= 3000).

Amounts are worded by `slas.words` only; this module decides which facts to show and how to lay
them out. The same facts are the `description` annotation of the Alertmanager targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from slas.notices import AlertView, Message
from slas.words import budget_words, burn_words, duration_words, moment_words, percent

SLACK_MAX_BLOCKS = 50
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_TEXT_CHARS = 3000
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def subject(alert: AlertView) -> str:
    """What the alert is about: the SLA, the journey's stage, or the failing source."""
    labels = alert.labels
    if labels.get("sla"):
        return labels["sla"]
    if labels.get("journey") and labels.get("stage"):
        return f"{labels['journey']} at {labels['stage']}"
    return labels.get("source") or alert.key


def link(alert: AlertView) -> str | None:
    """The alert's dashboard link when it is an absolute http(s) URL (peers reject others)."""
    parts = urlsplit(alert.url or "")
    return alert.url if parts.scheme in ("http", "https") and parts.netloc else None


def facts(alert: AlertView, now_us: int) -> list[tuple[str, str]]:
    """(name, value) pairs describing the alert, the ones that apply, in reading order."""
    details = alert.details
    out = [("Team", alert.team_name or alert.team)]
    if alert.firing:
        out.append(("Since", f"{moment_words(alert.since_us)} "
                             f"({duration_words((now_us - alert.since_us) / 1e6)} ago)"))
    else:
        ended = alert.ended_us if alert.ended_us is not None else now_us
        out.append(("Resolved", f"{moment_words(ended)}, after "
                                f"{duration_words((ended - alert.since_us) / 1e6)}"))
    sli, objective = _number(details.get("sli")), _number(details.get("objective"))
    if sli is not None:
        versus = f" vs objective {percent(objective)}" if objective is not None else ""
        out.append(("SLI", f"{percent(sli)}{versus}"))
    if (budget := _number(details.get("budget_remaining"))) is not None:
        out.append(("Error budget", budget_words(budget)))
    if rates := _rates(details.get("burn_rate")):
        window = f" ({details['window']} burn)" if details.get("window") else ""
        out.append(("Burn rate", burn_words(rates) + window))
    if details.get("stalled_stage"):
        count = details.get("stalled_count")
        many = f" ({count} journeys)" if count is not None else ""
        out.append(("Stalled at", f"{details['stalled_stage']}{many}"))
    if details.get("accountable_team"):
        out.append(("Accountable team", str(details["accountable_team"])))
    return out


def description(alert: AlertView, now_us: int) -> str:
    """The facts as plain text lines (Alertmanager's `description` annotation)."""
    return "\n".join(f"{name}: {value}" for name, value in facts(alert, now_us))


def slack_body(message: Message, now_us: int) -> dict[str, Any]:
    """Slack incoming-webhook JSON: `text` fallback, a header, one section per alert (firing
    first, most severe first), "and N more" when they would pass 50 blocks, and a context."""
    alerts = sorted(message.alerts, key=lambda a: (not a.firing, SEVERITY_RANK.get(a.severity,
                                                                                 3)))
    room = SLACK_MAX_BLOCKS - 2  # the header and the context
    shown = alerts if len(alerts) <= room else alerts[:room - 1]
    blocks: list[dict[str, Any]] = [_header(_headline(message))]
    blocks += [_section(_alert_mrkdwn(alert, now_us)) for alert in shown]
    if hidden := alerts[len(shown):]:
        blocks.append(_section(_more(hidden)))
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _escape(f"Baton · {_count(alerts)} for "
                                           f"{_team_name(message)} · {moment_words(now_us)}")}]})
    # `text` is mrkdwn too: escaped, or a summary saying <!channel> would ping the channel.
    return {"text": _escape(clip(_fallback(message), SLACK_TEXT_CHARS // 2)), "blocks": blocks}


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _headline(message: Message) -> str:
    if len(message.alerts) == 1:
        alert = message.alerts[0]
        return f"{_state(alert)}: {alert.alertname} · {subject(alert)}"
    return f"{_team_name(message)}: {_count(message.alerts)}"


def _fallback(message: Message) -> str:
    if len(message.alerts) == 1:
        alert = message.alerts[0]
        return alert.summary if alert.firing else f"Resolved: {alert.summary}"
    first = message.alerts[0]
    return f"{_count(message.alerts)} for {_team_name(message)}; first: {first.summary}"


def _alert_mrkdwn(alert: AlertView, now_us: int) -> str:
    lines = [f"*{_state(alert)}* · {_escape(alert.severity)} · *{_escape(alert.alertname)}* · "
             f"{_escape(subject(alert))}", _escape(alert.summary)]
    lines += [f"*{name}:* {_escape(value)}" for name, value in facts(alert, now_us)]
    if url := link(alert):
        lines.append(f"<{_link(url)}|Open in Baton>")
    return "\n".join(lines)


def _more(hidden: list[AlertView]) -> str:
    by_rule: dict[str, list[str]] = {}
    for a in hidden:
        by_rule.setdefault(a.alertname, []).append(subject(a) + ("" if a.firing else
                                                                 " (resolved)"))
    names = "; ".join(f"{rule}: {', '.join(subjects)}" for rule, subjects in by_rule.items())
    head = f"…and {len(hidden)} more ({_count(hidden)}): "
    return head + _escape(clip(names, SLACK_SECTION_CHARS - len(head)))


def _count(alerts: list[AlertView] | tuple[AlertView, ...]) -> str:
    firing = sum(1 for a in alerts if a.firing)
    parts = [f"{firing} firing"] if firing else []
    if resolved := len(alerts) - firing:
        parts.append(f"{resolved} resolved")
    return " and ".join(parts) if parts else "no alerts"


def _team_name(message: Message) -> str:
    return next((a.team_name for a in message.alerts if a.team_name), message.group)


def _state(alert: AlertView) -> str:
    return "Firing" if alert.firing else "Resolved"


def _header(text: str) -> dict[str, Any]:
    return {"type": "header",
            "text": {"type": "plain_text", "text": clip(text, SLACK_HEADER_CHARS)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section",
            "text": {"type": "mrkdwn", "text": clip(text, SLACK_SECTION_CHARS)}}


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str) -> str:
    return url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rates(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    return {str(span): rate for span, raw in value.items()
            if (rate := _number(raw)) is not None}
