"""The alerts configuration `config/alerts.yaml` (`baton/v1`): frozen pydantic models, and the
effective alerting policy of one SLA.

    version: baton/v1
    dashboard_url: http://localhost:8501
    targets: {NAME: {kind: pagerduty | slack | alertmanager | webhook, ...}}
    routes:  [{team, severity, sla, alertname, to: [NAME], escalate: {after, to}}]
    policy:  {rules, min_events, group_wait, renotify, give_up, stalled_min, failures, burn}

Secrets are never in the file: a target names the environment variable holding its key or
URL (`routing_key_env`, `url_env`). An SLA may override the policy in its own definition
(`alerts:`, the `SlaAlerts` model of `slas.spec`); `policy_for` merges the two.
`slas.alert_config` loads the file with `file:line` errors and the checks against the SLAs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator

from collectors.sources import EnvName
from slas.definitions import Definitions
from slas.spec import (
    NAME,
    RULES,
    SLA_RULES,
    UNITS,
    BurnWindow,
    Duration,
    Frozen,
    OneOrList,
    Rule,
    Severity,
    Sla,
    SlaAlerts,
    between,
)

__all__ = ["AlertsConfig", "BurnWindow", "Route", "SlaAlerts", "SlaPolicy", "policy_for",
           "routes_for", "spans_needed"]

TARGET_KINDS = ("pagerduty", "slack", "alertmanager", "webhook")
FILTERS = ("team", "severity", "sla", "alertname")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
RATE = re.compile(r"(\d+)/(s|min)")
MINUTE, DAY = UNITS["m"], UNITS["d"]


@dataclass(frozen=True)
class Rate:
    """A send rate, `count` messages per `per_s` seconds ("1/s", "120/min")."""

    count: int
    per_s: int

    def __str__(self) -> str:
        return f"{self.count}/{'s' if self.per_s == 1 else 'min'}"


def parse_rate(value: Any) -> Any:
    """`"1/s"` -> Rate(1, 1); `"120/min"` -> Rate(120, 60)."""
    if isinstance(value, Rate):
        return value
    match = RATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or not 1 <= int(match[1]) <= 10_000:
        raise ValueError('a rate is a number (1 to 10000) per second or per minute: "1/s" '
                         'or "120/min"')
    return Rate(int(match[1]), 1 if match[2] == "s" else MINUTE)


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. "
                         "http://127.0.0.1:9093")
    if parts.password is not None:
        raise ValueError("the URL holds a password; export the whole URL and name its "
                         "variable in `url_env` instead")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
RateText = Annotated[Rate, BeforeValidator(parse_rate), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]+/(s|min)$", "examples": ["1/s", "120/min"]})]
TargetName = Annotated[str, Field(pattern=NAME)]


def _one_or_more(empty: str) -> BeforeValidator:
    """A value or a non-empty list of values -> a tuple (`empty`: the error for [])."""
    def listed(value: Any) -> Any:
        items = (value,) if isinstance(value, str) else value
        if isinstance(items, list | tuple) and not items:
            raise ValueError(empty)
        return items
    return BeforeValidator(listed)


NO_FILTER = "an empty list matches no alert; name at least one value, or leave the filter out"
TargetNames = Annotated[tuple[str, ...], _one_or_more("name at least one target"),
                        OneOrList(min_items=1)]
Filter = Annotated[tuple[str, ...], _one_or_more(NO_FILTER), OneOrList(min_items=1)]
Severities = Annotated[tuple[Severity, ...], _one_or_more(NO_FILTER), OneOrList(min_items=1)]
Rules = Annotated[tuple[Rule, ...], _one_or_more(NO_FILTER), OneOrList(min_items=1)]


class TargetBase(Frozen):
    kind: str = Field(description="What the target is; each kind has its own fields.")
    url_env: EnvName | None = Field(None, description="Environment variable holding the URL "
                                    "to send to.")
    timeout: Annotated[Duration, between(1, 5 * MINUTE)] = Field(
        "10s", validate_default=True, description="Longest wait for the target's answer "
        "(1s to 5m).")
    rate: RateText | None = Field(None, description='Most messages sent, "N/s" or "N/min"; '
                                  "more wait their turn. Default: unlimited.")
    concurrency: int = Field(4, ge=1, le=64, description="Most requests in flight at once "
                             "(1 to 64).")


class PagerDutyTarget(TargetBase):
    """PagerDuty Events API v2: one event per alert, resolved by its dedup key."""

    kind: Literal["pagerduty"] = Field(description="PagerDuty Events API v2.")
    routing_key_env: EnvName = Field(description="Environment variable holding the "
                                     "integration's routing key.")
    url_env: EnvName | None = Field(None, description="Environment variable holding an "
                                    f"Events API URL other than {PAGERDUTY_EVENTS_URL}.")
    rate: RateText | None = Field("120/min", validate_default=True, description="Most "
                                  'events sent, "N/s" or "N/min" (PagerDuty accepts about '
                                  "120 a minute per key).")


class SlackTarget(TargetBase):
    """A Slack incoming webhook: one Block Kit message per team per cycle."""

    kind: Literal["slack"] = Field(description="Slack incoming webhook.")
    url_env: EnvName = Field(description="Environment variable holding the webhook URL (the "
                             "URL is a secret).")
    rate: RateText | None = Field("1/s", validate_default=True, description="Most messages "
                                  'sent, "N/s" or "N/min" (Slack allows about 1 a second).')


class UrlTarget(TargetBase):
    url: HttpUrl | None = Field(None, description="The URL, when it holds no secret; "
                                "otherwise name its variable in `url_env`.")

    @model_validator(mode="after")
    def _one_url(self) -> UrlTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give the URL in `url` or name its environment variable in "
                             "`url_env` (one of the two)")
        return self


class AlertmanagerTarget(UrlTarget):
    """A Prometheus Alertmanager: alerts are posted to `{url}/api/v2/alerts`."""

    kind: Literal["alertmanager"] = Field(description="Prometheus Alertmanager API v2.")


class WebhookTarget(UrlTarget):
    """Any HTTP endpoint: the body is Alertmanager's webhook payload (version 4)."""

    kind: Literal["webhook"] = Field(description="HTTP POST of an Alertmanager webhook v4 "
                                     "body.")


Target = Annotated[PagerDutyTarget | SlackTarget | AlertmanagerTarget | WebhookTarget,
                   Field(discriminator="kind")]


class Escalation(Frozen):
    after: Annotated[Duration, between(MINUTE, 7 * DAY)] = Field(
        description="A page still firing this long after it started also goes to `to` "
        "(1m to 7d).")
    to: TargetNames = Field(description="Targets (keys of `targets`) to escalate to.")


class Route(Frozen):
    """Alerts whose labels match every filter given go to `to`. Every matching route
    notifies; a route without filters matches every alert."""

    team: Filter | None = Field(None, description="Team key(s) of the alert (the SLA's "
                                "team, or the team owing a stalled stage).")
    severity: Severities | None = Field(None, description="Severity or severities: critical, "
                                        "warning, info.")
    sla: Filter | None = Field(None, description="SLA name(s).")
    alertname: Rules | None = Field(None, description="Rule name(s): " + ", ".join(RULES)
                                    + ".")
    to: TargetNames = Field(description="Targets (keys of `targets`) notified.")
    escalate: Escalation | None = Field(None, description="Where a page goes when it is not "
                                        "resolved in time.")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every filter given holds one of the alert's label values."""
        for name in FILTERS:
            wanted = getattr(self, name)
            if wanted is not None and labels.get(name) not in wanted:
                return False
        return True


def _windows(*windows: tuple[str, str, float]) -> list[dict[str, Any]]:
    return [{"long": long, "short": short, "factor": factor} for long, short, factor in windows]


class Burn(Frozen):
    """The ErrorBudgetBurn windows: `fast` pages, `slow` warns (Google SRE workbook)."""

    fast: tuple[BurnWindow, ...] = Field(
        _windows(("1h", "5m", 14.4), ("6h", "30m", 6)), validate_default=True,
        description="Windows of the `fast` alert (severity critical): any one met fires it. "
        "[] turns it off.")
    slow: tuple[BurnWindow, ...] = Field(
        _windows(("3d", "6h", 1)), validate_default=True,
        description="Windows of the `slow` alert (severity warning), inhibited while `fast` "
        "fires. [] turns it off.")


class Policy(Frozen):
    """When alerts fire and how often they are sent; every SLA follows it unless its own
    `alerts:` says otherwise."""

    rules: tuple[Rule, ...] = Field(RULES, description="Rules that raise alerts.")
    min_events: int = Field(10, ge=1, le=1_000_000, description="A burn-rate window with "
                            "fewer outcomes than this never fires.")
    group_wait: Annotated[Duration, between(1, 3600)] = Field(
        "30s", validate_default=True, description="A team's first notification waits this "
        "long for company (1s to 1h).")
    renotify: Annotated[Duration, between(MINUTE, 30 * DAY)] = Field(
        "4h", validate_default=True, description="A still-firing alert is sent again after "
        "this long (1m to 30d).")
    give_up: Annotated[Duration, between(MINUTE, 7 * DAY)] = Field(
        "1h", validate_default=True, description="A notification not delivered by then is "
        "marked failed, and shown (1m to 7d).")
    stalled_min: int = Field(3, ge=1, le=1_000_000, description="JourneysStalled: at least "
                             "this many journeys stalled at one stage.")
    failures: int = Field(3, ge=1, le=1000, description="DeliveryFailing: this many "
                          "consecutive collector errors, or failed attempts of a stage.")
    burn: Burn = Field(default_factory=lambda: Burn.model_validate({}),
                       description="ErrorBudgetBurn windows (defaults: the Google SRE "
                       "workbook's).")


class AlertsConfig(Frozen):
    """config/alerts.yaml: where alerts go, and the policy every SLA follows unless its
    definition says otherwise (`alerts:`)."""

    version: Literal["baton/v1"] = Field(description="Format version; must be baton/v1.")
    dashboard_url: HttpUrl | None = Field(None, description="Dashboard address for links in "
                                          "messages, e.g. http://localhost:8501.")
    targets: dict[TargetName, Target] = Field(default_factory=dict, description="Targets, by "
                                              "name.")
    routes: tuple[Route, ...] = Field((), description="Routes, each tried on every alert.")
    policy: Policy = Field(default_factory=lambda: Policy.model_validate({}),
                           description="The default policy.")


DEFAULT_POLICY = Policy.model_validate({})
NO_OVERRIDE = SlaAlerts.model_validate({})


@dataclass(frozen=True)
class SlaPolicy:
    """What one SLA alerts on: its rules (among SLABreached, ErrorBudgetBurn), the fewest
    outcomes a burn window needs, and its burn windows {"fast": (...), "slow": (...)}."""

    rules: frozenset[str]
    min_events: int
    burn: Mapping[str, tuple[BurnWindow, ...]]


def policy_for(sla: Sla, config: AlertsConfig | None) -> SlaPolicy:
    """The SLA's effective policy: its `alerts:` fields over the policy of `config` (None:
    the default policy)."""
    policy = DEFAULT_POLICY if config is None else config.policy
    own = sla.alerts or NO_OVERRIDE
    rules = own.rules if own.rules is not None else [r for r in policy.rules if r in SLA_RULES]
    burn = own.burn
    return SlaPolicy(
        rules=frozenset(rules),
        min_events=policy.min_events if own.min_events is None else own.min_events,
        burn={"fast": policy.burn.fast if burn is None or burn.fast is None else burn.fast,
              "slow": policy.burn.slow if burn is None or burn.slow is None else burn.slow})


def spans_needed(definitions: Definitions, config: AlertsConfig | None) -> frozenset[int]:
    """Every long and short window (seconds) of any SLA raising ErrorBudgetBurn: the burn
    spans the engine must count."""
    spans: set[int] = set()
    for sla in definitions.slas:
        policy = policy_for(sla, config)
        if "ErrorBudgetBurn" in policy.rules:
            for windows in policy.burn.values():
                spans.update(s for w in windows for s in (w.long_s, w.short_s))
    return frozenset(spans)


def routes_for(config: AlertsConfig, labels: Mapping[str, str]) -> list[Route]:
    """Every route matching an alert's labels, in the file's order."""
    return [route for route in config.routes if route.matches(labels)]
