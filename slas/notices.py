"""What the alert rules hand to the targets, and what a target answers (ALERTS.md).

Three frozen records shared by the lifecycle, the dispatcher and the target adapters:
`AlertView` (one alert as a notification announces it), `Message` (what one target is sent in
one go) and `Outcome` (how the attempt ended: sent, retry later, or failed for good).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Result = Literal["sent", "retry", "failed"]


@dataclass(frozen=True)
class AlertView:
    """One alert, in the state this notification announces ("firing" or "resolved")."""

    key: str                    # dedup key: baton/<alertname>/<sla-or-journey:stage>[/<window>]
    alertname: str
    labels: Mapping[str, str]   # alertname, team, severity; sla | journey+stage | source; window
    state: str                  # "firing" | "resolved"
    since_us: int               # when it started firing
    ended_us: int | None        # when it resolved (None while firing)
    severity: str               # critical | warning | info
    team: str                   # the team key
    team_name: str              # the team's display name
    summary: str                # one sentence (<= 1024 chars)
    details: Mapping[str, Any] = field(default_factory=dict)  # sli, objective, burn_rate, ...
    url: str | None = None      # link to the breach / alert in the dashboard

    @property
    def firing(self) -> bool:
        return self.state == "firing"


@dataclass(frozen=True)
class Message:
    """What one target receives in one request: PagerDuty exactly one alert, others one or
    more (a team's group), each alert with its own state."""

    target: str
    group: str
    alerts: tuple[AlertView, ...]
    notification_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended. `retry_after_s` is the peer's `Retry-After`, if any."""

    result: Result
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @classmethod
    def sent(cls, status: int) -> Outcome:
        return cls("sent", status)

    @classmethod
    def retry(cls, error: str, status: int | None = None,
              retry_after_s: float | None = None) -> Outcome:
        return cls("retry", status, error, retry_after_s)

    @classmethod
    def failed(cls, error: str, status: int | None = None) -> Outcome:
        return cls("failed", status, error)
