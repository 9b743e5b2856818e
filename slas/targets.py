"""Alert targets: turn a `Message` into one HTTP request per target kind, send it, and classify
the answer as an `Outcome` (FORMATS.md section 6, ALERTS.md).

    kind          request
    pagerduty     POST https://events.pagerduty.com/v2/enqueue (or `url`/`url_env`), Events v2
    slack         POST $url_env, incoming-webhook Block Kit (slas.alert_text)
    alertmanager  POST {url}/api/v2/alerts, a JSON array of postable alerts
    webhook       POST url, the Alertmanager webhook v4 body

    answer                                   outcome
    2xx (Slack: 200 with body `ok`)          sent
    Slack 2xx with another body              failed (Slack's error code, permanent)
    429, 5xx                                 retry (Retry-After honoured, bounded)
    connection refused/reset, timeout        retry
    3xx, other 4xx                           failed
    missing env var, unusable URL            failed (a sentence naming the variable)

`send` never raises for network problems. Secrets stay out of error text: only the URL's
scheme and host are named, never its path (a Slack webhook's path is its token) or the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests

from collectors.schema import format_time
from slas.alert_text import clip, description, link, slack_body, subject
from slas.delivery import retry_after
from slas.errors import SlaError
from slas.notices import AlertView, Message, Outcome

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
PAGERDUTY_BODY_LIMIT = 512 * 1024
PAGERDUTY_SUMMARY_CHARS = 1024
PAGERDUTY_DEDUP_CHARS = 255
FIRING_ENDS_AT = "0001-01-01T00:00:00Z"  # what Alertmanager's webhook says while firing
DEFAULT_TIMEOUT_S = 10.0
HEADERS = {"Content-Type": "application/json", "User-Agent": "Baton/0.1 (alert target)"}
SLACK_OUR_BUG = {"invalid_payload", "no_text"}


class TargetError(SlaError):
    """A target cannot be sent to as configured (missing variable, unusable URL)."""


class TargetConfig(Protocol):
    """What the adapters read of one alerts.yaml target (slas.alerting's model has these)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def url_env(self) -> str | None: ...
    @property
    def routing_key_env(self) -> str | None: ...
    @property
    def timeout(self) -> float | timedelta | None: ...


@dataclass(frozen=True)
class Target:
    """A plain target, for tests and callers without an alerts.yaml model."""

    name: str
    kind: str
    url: str | None = None
    url_env: str | None = None
    routing_key_env: str | None = None
    timeout: float | timedelta | None = None


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    json_body: Any


def render(target: TargetConfig, message: Message, environ: Mapping[str, str],
           now_us: int) -> Request:
    """The HTTP request that delivers `message` to `target`; TargetError if it cannot be made."""
    if not message.alerts:
        raise TargetError(f"target {target.name!r}: the message carries no alert (a bug in "
                          "Baton: report it)")
    if target.kind == "pagerduty":
        url = _url(target, environ, PAGERDUTY_URL)
        return Request("POST", url, HEADERS, pagerduty_body(target, message, environ))
    if target.kind == "slack":
        return Request("POST", _url(target, environ), HEADERS, slack_body(message, now_us))
    if target.kind == "alertmanager":
        url = _url(target, environ)
        if not urlsplit(url).path.rstrip("/").endswith("/api/v2/alerts"):
            url = url.rstrip("/") + "/api/v2/alerts"
        return Request("POST", url, HEADERS, alertmanager_body(message, now_us))
    if target.kind == "webhook":
        return Request("POST", _url(target, environ), HEADERS,
                       webhook_body(target, message, now_us))
    raise TargetError(f"target {target.name!r}: unknown kind {target.kind!r}; use pagerduty, "
                      "slack, alertmanager or webhook")


def send(session: requests.Session, target: TargetConfig, message: Message,
         environ: Mapping[str, str], now_us: int, timeout: float | None = None) -> Outcome:
    """Deliver `message` once and say how it went; never raises for network problems."""
    try:
        request = render(target, message, environ, now_us)
    except TargetError as exc:
        return Outcome.failed(str(exc))
    seconds = _seconds(timeout or target.timeout or DEFAULT_TIMEOUT_S)
    where = f"target {target.name!r} ({target.kind}): {_origin(request.url)}"
    try:
        response = session.request(request.method, request.url, headers=dict(request.headers),
                                   data=orjson.dumps(request.json_body), timeout=seconds,
                                   allow_redirects=False)
    except requests.Timeout:
        return Outcome.retry(f"{where} did not answer within {seconds:g}s; will retry")
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader) as exc:
        return Outcome.failed(f"{where}: the request cannot be made ({type(exc).__name__}); "
                              "check the target's URL")
    except requests.RequestException as exc:
        return Outcome.retry(f"{where} cannot be reached ({type(exc).__name__}); will retry")
    return classify(target, response, now_us)


def classify(target: TargetConfig, response: requests.Response, now_us: int) -> Outcome:
    """Sent, retry or failed, from the peer's answer (the table in this module's docstring)."""
    status, where = response.status_code, f"target {target.name!r} ({target.kind})"
    said = _said(response)
    if 200 <= status < 300:
        if target.kind != "slack" or response.text.strip() == "ok":
            return Outcome.sent(status)
        return Outcome.failed(f"{where}: Slack answered {status} {said!r} instead of 'ok'; "
                              f"{_slack_hint(target, said)}", status)
    if status == 429 or status >= 500:
        wait = retry_after(response.headers.get("Retry-After"), now_us)
        return Outcome.retry(f"{where}: {_origin(response.url)} answered {status} ({said}); "
                             "will retry", status, wait)
    if 300 <= status < 400:
        return Outcome.failed(f"{where}: {_origin(response.url)} answered {status}, a redirect; "
                              "set the target's URL to where it points", status)
    hint = _slack_hint(target, said) if target.kind == "slack" else _hint(target, status)
    return Outcome.failed(f"{where}: {_origin(response.url)} refused the notification "
                          f"({status}: {said}); {hint}", status)


# --- PagerDuty Events API v2 ---

def pagerduty_body(target: TargetConfig, message: Message,
                   environ: Mapping[str, str]) -> dict[str, Any]:
    """One trigger or resolve event; the routing key comes from `routing_key_env`."""
    if len(message.alerts) != 1:
        raise TargetError(f"target {target.name!r}: a PagerDuty message carries exactly one "
                          f"alert, not {len(message.alerts)} (a bug in Baton: report it)")
    alert = message.alerts[0]
    body: dict[str, Any] = {"routing_key": _routing_key(target, environ),
                            "event_action": "trigger" if alert.firing else "resolve",
                            "dedup_key": dedup_key(alert.key)}
    if not alert.firing:
        return body  # PagerDuty needs only the key to resolve (as Alertmanager sends it)
    body["payload"] = {
        "summary": clip(alert.summary, PAGERDUTY_SUMMARY_CHARS), "source": "baton",
        "severity": PAGERDUTY_SEVERITY.get(alert.severity, "error"),
        "timestamp": format_time(alert.since_us),
        "component": alert.labels.get("sla") or alert.labels.get("stage")
        or alert.labels.get("source") or subject(alert),
        "group": alert.team, "class": alert.alertname, "custom_details": plain(alert.details)}
    body["client"] = "Baton"
    if url := link(alert):
        body["client_url"] = url
        body["links"] = [{"href": url, "text": "Open in Baton"}]
    if len(orjson.dumps(body)) >= PAGERDUTY_BODY_LIMIT:
        body["payload"]["custom_details"] = {
            "note": "details left out: the event would pass PagerDuty's 512 KB limit"}
    return body


def dedup_key(key: str) -> str:
    """The alert's key, or a stable digest of it when it passes PagerDuty's 255 characters."""
    if len(key) <= PAGERDUTY_DEDUP_CHARS:
        return key
    return "baton/" + hashlib.sha256(key.encode()).hexdigest()


# --- Alertmanager: POST /api/v2/alerts and the webhook v4 body ---

def alertmanager_body(message: Message, now_us: int) -> list[dict[str, Any]]:
    """Postable alerts: firing ones without `endsAt` (Alertmanager then resolves them after its
    `resolve_timeout` unless re-sent), resolved ones with `endsAt` = when they resolved."""
    out = []
    for alert in message.alerts:
        item: dict[str, Any] = {"labels": alert_labels(alert),
                                "annotations": alert_annotations(alert, now_us),
                                "startsAt": format_time(alert.since_us)}
        if not alert.firing:
            item["endsAt"] = format_time(_ended(alert, now_us))
        if url := link(alert):
            item["generatorURL"] = url
        out.append(item)
    return out


def webhook_body(target: TargetConfig, message: Message, now_us: int) -> dict[str, Any]:
    """The Alertmanager webhook v4 body for one team's group of alerts."""
    alerts = [_webhook_alert(alert, now_us) for alert in message.alerts]
    team = json.dumps(message.group, ensure_ascii=False)  # quoted as Alertmanager quotes
    return {
        "version": "4", "groupKey": "{}:{team=" + team + "}", "truncatedAlerts": 0,
        "status": "firing" if any(a.firing for a in message.alerts) else "resolved",
        "receiver": target.name, "groupLabels": {"team": message.group},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": _external_url(message), "alerts": alerts}


def alert_labels(alert: AlertView) -> dict[str, str]:
    """The alert's identity for Alertmanager: its labels (empty values dropped, as Alertmanager
    treats them as absent) with alertname, team and severity always present."""
    out = {str(k): str(v) for k, v in alert.labels.items() if v not in (None, "")}
    out.setdefault("alertname", alert.alertname)
    out.setdefault("team", alert.team)
    out.setdefault("severity", alert.severity)
    return out


def alert_annotations(alert: AlertView, now_us: int) -> dict[str, str]:
    out = {"summary": alert.summary, "description": description(alert, now_us)}
    if url := link(alert):
        out["dashboard"] = url
    return out


def fingerprint(label_set: Mapping[str, str]) -> str:
    """16 hex characters of SHA-256 over the labels sorted by name (name and value separated
    by 0xff bytes, as Prometheus separates them), so the same labels give the same print."""
    digest = hashlib.sha256()
    for name in sorted(label_set):
        digest.update(name.encode() + b"\xff" + label_set[name].encode() + b"\xff")
    return digest.hexdigest()[:16]


def plain(value: Any) -> Any:
    """`value` as JSON types: Decimals as numbers, None entries left out."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _webhook_alert(alert: AlertView, now_us: int) -> dict[str, Any]:
    label_set = alert_labels(alert)
    return {"status": alert.state, "labels": label_set,
            "annotations": alert_annotations(alert, now_us),
            "startsAt": format_time(alert.since_us),
            "endsAt": FIRING_ENDS_AT if alert.firing else format_time(_ended(alert, now_us)),
            "generatorURL": link(alert) or "", "fingerprint": fingerprint(label_set)}


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first, *rest = maps
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


def _external_url(message: Message) -> str:
    """Where the alerts come from: the dashboard the alerts link to (scheme and host)."""
    for alert in message.alerts:
        if url := link(alert):
            return _origin(url)
    return ""


def _ended(alert: AlertView, now_us: int) -> int:
    # Alertmanager rejects endsAt before startsAt.
    return max(alert.ended_us if alert.ended_us is not None else now_us, alert.since_us)


# --- configuration: URLs and keys from the environment ---

def _url(target: TargetConfig, environ: Mapping[str, str], default: str | None = None) -> str:
    if target.url:
        url, source = target.url, "its url"
    elif target.url_env:
        url, source = _env(target, environ, target.url_env, "URL"), target.url_env
    elif default:
        return default
    else:
        raise TargetError(f"target {target.name!r} has no URL; give it url_env (or url for "
                          "alertmanager and webhook targets)")
    parts = urlsplit(url.strip())
    try:
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number
        usable = False
    if not usable:
        raise TargetError(f"target {target.name!r}: {source} is not an http(s) URL; set it "
                          "to the full address, such as https://host/path")
    return url.strip()


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _routing_key(target: TargetConfig, environ: Mapping[str, str]) -> str:
    if not target.routing_key_env:
        raise TargetError(f"target {target.name!r} has no routing_key_env; name the variable "
                          "that holds the PagerDuty integration key")
    return _env(target, environ, target.routing_key_env, "PagerDuty integration key")


def _env(target: TargetConfig, environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise TargetError(f"target {target.name!r}: environment variable {name} is not set; "
                          f"export the {what} as {name} before starting Baton")
    return value


# --- answers in words ---

def _origin(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the target"


def _said(response: requests.Response) -> str:
    """What the peer said, short: PagerDuty's message and errors, or the body's start."""
    text = response.text.strip()
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        errors = data.get("errors")
        extra = f": {'; '.join(map(str, errors))}" if isinstance(errors, list) and errors else ""
        text = f"{data['message']}{extra}"
    return clip(" ".join(text.split()), 200) or response.reason or "no body"


def _slack_hint(target: TargetConfig, said: str) -> str:
    if said in SLACK_OUR_BUG:
        return "Baton sent a message Slack could not read; this is a bug in Baton, report it"
    where = target.url_env or "the target's url"
    return f"the webhook no longer works; create a new incoming webhook and put its URL in {where}"


def _hint(target: TargetConfig, status: int) -> str:
    if target.kind == "pagerduty" and status == 400:
        return (f"check the integration key in {target.routing_key_env}; it will not be "
                "retried")
    if status in (401, 403, 404, 410):
        return "check the target's URL and its credentials; it will not be retried"
    return "it will not be retried; fix the target or report the message"
