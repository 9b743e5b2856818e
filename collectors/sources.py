"""`config/sources.yaml`: the systems Baton collects from, as frozen, validated models.

    version: baton/v1
    sources:
      NAME: {kind: kong | otlp | cloudevents | nats | rabbitmq | redis | hubspot | salesforce,
             ...connection settings..., key: [paths], rules: [{type, when, time}], data: {...}}

Secrets are never written in the file: a source names the environment variable that holds
its token or password (`token_env`, `password_env`). Every problem in the file is reported in
one pass as `file:line: path: message` (`SourceConfigError`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from collectors.errors import CollectorError, SourceConfigError
from collectors.mapping import OPERATORS, SourceMap
from collectors.yamlfile import Lines, YamlSyntaxError, load_yaml, pydantic_errors, read_text

VERSION = "baton/v1"
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
SECRET_KEYS = frozenset({"token", "password", "secret", "api_key", "apikey", "client_secret",
                         "access_token", "private_key"})
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
LONGEST_S = 400 * 86400.0  # as SLA durations: past this a setting is a mistake (and inf)


def _duration(value: Any) -> Any:
    """`500ms`, `30s`, `5m`, `2h`, `7d` (or a number of seconds) -> seconds, in (0, 400d]."""
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        value = float(match[1]) * _UNITS[match[2]]
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a duration is a number and a unit: 500ms, 30s, 5m, 2h or 7d")
    if not 0 < value <= LONGEST_S:  # NaN fails this too
        raise ValueError("a duration here is above 0s and at most 400d")
    return float(value)


def _env_name(value: Any) -> Any:
    if isinstance(value, str) and not ENV_NAME.fullmatch(value):
        raise ValueError("must name an environment variable (e.g. HUBSPOT_TOKEN), not hold "
                         "the secret itself; export the secret under that name")
    return value


def _paths(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _no_password_in_url(value: Any) -> Any:
    if isinstance(value, str) and urlsplit(value).password:
        raise ValueError("the URL holds a password; remove it and name an environment "
                         "variable in `password_env` instead")
    return value


Seconds = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
EnvName = Annotated[str, BeforeValidator(_env_name)]
Paths = Annotated[tuple[str, ...], BeforeValidator(_paths)]
Url = Annotated[str, BeforeValidator(_no_password_in_url)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _conditions(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for path, cond in value.items():
        if isinstance(cond, dict):
            unknown = sorted(set(cond) - OPERATORS)
            if unknown:
                raise ValueError(f"{path}: unknown operator {unknown[0]!r}; use one of "
                                 + ", ".join(sorted(OPERATORS)))
    return value


class Rule(Model):
    """Records matching `when` become an event of `type`, timed by the field at `time`."""

    type: str = Field(min_length=1, description="event type emitted, e.g. crm.lead.assigned")
    when: Annotated[dict[str, Any], BeforeValidator(_conditions)] = Field(
        default_factory=dict, description="path -> value, list (any of), or operators "
        "{eq, ne, lt, lte, gt, gte, in, exists, startswith}; all must hold")
    time: str | None = Field(None, description="path of the event time (default per kind)")


class Source(Model):
    kind: str
    description: str | None = Field(None, description="what this source is, for people")
    key: Paths | None = Field(None, description="paths to the journey key, first found wins")
    event_source: str | None = Field(None, description="CloudEvents `source` attribute of "
                                     "the events made here (default <kind>://<name>)")
    token_env: EnvName | None = Field(None, description="environment variable holding the "
                                      "bearer token (API token, or receiver push token)")
    poll: Seconds = Field(5.0, description="pause between polls when idle, e.g. 5s")
    batch: int = Field(500, ge=1, le=10_000, description="records per store transaction")


class MappedSource(Source):
    rules: tuple[Rule, ...] | None = Field(None, description="record -> event type rules "
                                           "(default per kind, see docs/collectors.md)")
    data: dict[str, str] | None = Field(None, description="journey attribute -> record path")


class KongSource(MappedSource):
    """Kong `file-log` lines tailed from `file`, and/or `http-log` pushed to the receiver."""

    kind: Literal["kong"]
    file: str | None = Field(None, description="file-log path to tail (omit: push only)")


class OtlpSource(MappedSource):
    """OTLP/JSON spans from a Collector file exporter (`file`) and/or pushed to /v1/traces."""

    kind: Literal["otlp"]
    file: str | None = Field(None, description="file exporter path to tail (omit: push only)")


class CloudEventsSource(Source):
    """CloudEvents pushed to the receiver's POST /v1/events."""

    kind: Literal["cloudevents"]


class NatsSource(Source):
    kind: Literal["nats"]
    url: Url = "nats://127.0.0.1:4222"
    stream: str = Field(description="JetStream stream name")
    subject: str = Field(description="subject filter, e.g. leads.>")
    durable: str = Field("baton", description="durable pull consumer shared by collectors")
    ack_wait: Seconds = Field(30.0, description="redelivery delay of unacknowledged messages")
    password_env: EnvName | None = None


class RabbitSource(Source):
    kind: Literal["rabbitmq"]
    url: Url = "amqp://127.0.0.1:5672/%2F"
    queue: str = Field(description="durable queue to consume (declared if missing)")
    username: str | None = Field(None, description="user (password from password_env)")
    password_env: EnvName | None = None


class RedisSource(Source):
    kind: Literal["redis"]
    url: Url = "redis://127.0.0.1:6379/0"
    stream: str = Field(description="stream key")
    group: str = Field("baton", description="consumer group shared by collectors")
    consumer: str | None = Field(None, description="consumer name (default host-pid)")
    claim_idle: Seconds = Field(60.0, description="reclaim entries pending longer than this")
    field: str = Field("event", description="entry field holding a structured CloudEvent")
    password_env: EnvName | None = None


class CrmSource(MappedSource):
    overlap: Seconds = Field(300.0, description="re-read this far behind the watermark")
    backfill: Seconds = Field(86400.0, description="how far back the first poll reads")
    token_env: EnvName = Field(description="environment variable holding the API token")


class HubSpotSource(CrmSource):
    kind: Literal["hubspot"]
    base_url: Url = "https://api.hubapi.com"
    properties: tuple[str, ...] = Field((), description="extra contact properties to fetch")
    page_size: int = Field(100, ge=1, le=200)
    max_results: int = Field(10_000, ge=1, description="HubSpot's per-query result cap")


class SalesforceSource(CrmSource):
    kind: Literal["salesforce"]
    instance_url: Url = Field(description="https://<your-domain>.my.salesforce.com")
    api_version: str = Field("v62.0", pattern=r"^v\d+\.\d$")
    fields: tuple[str, ...] = Field((), description="extra Lead fields to select")


KINDS: dict[str, type[Source]] = {
    "kong": KongSource, "otlp": OtlpSource, "cloudevents": CloudEventsSource,
    "nats": NatsSource, "rabbitmq": RabbitSource, "redis": RedisSource,
    "hubspot": HubSpotSource, "salesforce": SalesforceSource,
}
PUSH_KINDS = frozenset({"kong", "otlp", "cloudevents"})

DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "kong": ("correlation_id", "request.headers.x-correlation-id", "request.headers.x-lead-id"),
    "otlp": ("attributes.lead.id", "attributes.correlationid", "resource.lead.id"),
    "hubspot": ("properties.lead_id",),
    "salesforce": ("Lead_ID__c",),
}
DEFAULT_TIME = {"kong": "started_at", "otlp": "endTimeUnixNano", "hubspot": "updatedAt",
                "salesforce": "SystemModstamp"}
DEFAULT_RULES: dict[str, tuple[Rule, ...]] = {
    # every request is kept: a failed one is an attempt, and a retry (a new request id) is
    # an attempt of its own (`fails_on` in a journey stage shows them as such)
    "kong": (Rule(type="gateway.request.accepted", when={"response.status": {"lt": 400}},
                  time=None),
             Rule(type="gateway.request.failed", when={"response.status": {"gte": 400}},
                  time=None)),
    "otlp": (),
    "hubspot": (
        Rule(type="crm.lead.upserted", time="properties.createdate"),
        Rule(type="crm.lead.assigned",
             when={"properties.hubspot_owner_assigneddate": {"exists": True}},
             time="properties.hubspot_owner_assigneddate"),
    ),
    "salesforce": (
        Rule(type="crm.lead.upserted", time="CreatedDate"),
        Rule(type="crm.lead.assigned", when={"OwnerId": {"startswith": "005"}}, time=None),
    ),
}
DEFAULT_DATA: dict[str, dict[str, str]] = {
    "kong": {"route": "route.name", "status": "response.status", "latency_ms": "latencies.request"},
    "otlp": {"span": "name", "service": "service"},
    "hubspot": {"lifecyclestage": "properties.lifecyclestage",
                "lead_status": "properties.hs_lead_status", "owner": "properties.hubspot_owner_id"},
    "salesforce": {"status": "Status", "owner": "OwnerId", "converted": "IsConverted"},
}


def source_map(name: str, source: Source) -> SourceMap:
    """The mapping a source's adapter applies, its defaults filled in."""
    rules = getattr(source, "rules", None)
    data = getattr(source, "data", None)
    return SourceMap(
        name=name, event_source=source.event_source or f"{source.kind}://{name}",
        rules=DEFAULT_RULES.get(source.kind, ()) if rules is None else rules,
        key_paths=source.key or DEFAULT_KEYS.get(source.kind, ("correlationid",)),
        data_paths=DEFAULT_DATA.get(source.kind, {}) if data is None else data,
        time_path=DEFAULT_TIME.get(source.kind, "time"))


def default_map(kind: str) -> SourceMap:
    """The mapping used when no source is configured (`baton ingest --format KIND`)."""
    return source_map(kind, KINDS[kind].model_construct(kind=kind))


class SourcesConfig(Model):
    file: str
    sources: dict[str, Source]

    def get(self, name: str) -> Source:
        if name not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none"
            raise CollectorError(f"no source named {name!r} in {self.file}; known: {known}")
        return self.sources[name]

    def push_tokens(self) -> dict[str, str]:
        """Receiver bearer tokens -> source name, read from the environment now."""
        out: dict[str, str] = {}
        for name, source in self.sources.items():
            if source.kind in PUSH_KINDS and source.token_env and os.environ.get(
                    source.token_env):
                out[os.environ[source.token_env]] = name
        return out


def secret(env: str | None, what: str) -> str | None:
    """The value of the environment variable `env`; a clear error when it is unset."""
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise CollectorError(f"{what}: environment variable {env} is not set; export the "
                             f"secret as {env} before starting Baton")
    return value


def load_sources(path: str | Path) -> SourcesConfig:
    """Read and validate a sources file; SourceConfigError lists every problem."""
    file = Path(path)
    if not file.exists() and not file.is_symlink():
        raise SourceConfigError([f"{file}:1: no such file; create it (see "
                                 "docs/collectors.md) or pass --config"])
    try:
        text = read_text(file)
    except YamlSyntaxError as exc:
        raise SourceConfigError([str(exc)]) from None
    return parse_sources(text, str(file))


def parse_sources(text: str, file: str) -> SourcesConfig:
    try:
        data, lines = load_yaml(text, file)
    except YamlSyntaxError as exc:
        raise SourceConfigError([str(exc)]) from None
    errors: list[str] = []
    sources = _top_level(data, lines, errors)
    built: dict[str, Source] = {}
    for name, raw in sources.items():
        source = _source(name, raw, lines, errors)
        if source is not None:
            built[name] = source
    if errors:
        raise SourceConfigError(sorted(errors, key=_line_number))
    return SourcesConfig(file=file, sources=built)


def _line_number(error: str) -> int:
    match = re.match(r".*?:(\d+): ", error)
    return int(match[1]) if match else 0


def _top_level(data: Any, lines: Lines, errors: list[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        errors.append(f"{lines.where(())}: the file must be a mapping with `version` and "
                      "`sources`")
        return {}
    if data.get("version") != VERSION:
        errors.append(f"{lines.where(('version',))}: version: must be {VERSION!r} "
                      f"(got {data.get('version')!r})")
    for extra in sorted(set(data) - {"version", "sources"}):
        errors.append(f"{lines.where((extra,))}: {extra}: unknown field; the file holds "
                      "`version` and `sources`")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        errors.append(f"{lines.where(('sources',))}: sources: must be a mapping of source "
                      "name -> settings, with at least one source")
        return {}
    return sources


def _source(name: Any, raw: Any, lines: Lines, errors: list[str]) -> Source | None:
    at = ("sources", str(name))
    if not SOURCE_NAME.fullmatch(str(name)):
        errors.append(f"{lines.where(at)}: sources.{name}: a source name uses lowercase "
                      "letters, digits, '-', '_' and '.'")
    if not isinstance(raw, dict):
        errors.append(f"{lines.where(at)}: sources.{name}: must be a mapping with a `kind`")
        return None
    errors.extend(_inline_secrets(raw, at, lines))
    kind = raw.get("kind")
    if kind not in KINDS:
        errors.append(f"{lines.where(at + ('kind',))}: sources.{name}.kind: must be one of "
                      f"{', '.join(KINDS)} (got {kind!r})")
        return None
    clean = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    try:
        return KINDS[kind].model_validate(clean)
    except ValidationError as exc:
        errors.extend(_hide_secrets(line) for line in pydantic_errors(exc, lines, at))
        return None


def _hide_secrets(line: str) -> str:
    """Drop the echoed value from errors on fields that may hold a secret by mistake."""
    if re.search(r"(_env|url): ", line):
        return re.sub(r" \(got .*\)$", "", line)
    return line


def _inline_secrets(raw: Mapping[str, Any], at: tuple[str, ...], lines: Lines) -> list[str]:
    return [f"{lines.where(at + (key,))}: {'.'.join(at)}.{key}: secrets are never written "
            f"in the config; export it and write `{_env_field(key)}: NAME_OF_THE_VARIABLE`"
            for key in raw if key in SECRET_KEYS]


def _env_field(key: str) -> str:
    return "password_env" if "password" in key else "token_env"
