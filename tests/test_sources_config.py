"""config/sources.yaml: validation with file:line errors, defaults, mapping rules, and
`baton collect --once` end to end."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import redis
import yaml

from app.cli import main
from collectors.errors import SourceConfigError
from collectors.mapping import coerce_time, lookup, matches
from collectors.sources import KINDS, load_sources, parse_sources, source_map

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


def errors_of(text: str) -> list[str]:
    with pytest.raises(SourceConfigError) as caught:
        parse_sources(text, "sources.yaml")
    return caught.value.errors


def test_the_example_config_loads_and_covers_every_kind() -> None:
    config = load_sources(ROOT / "config" / "sources.yaml")
    assert {s.kind for s in config.sources.values()} == set(KINDS)


def test_the_example_rules_emit_only_event_types_of_the_lead_journey() -> None:
    journeys = yaml.safe_load((ROOT / "config" / "slas" / "leads.yaml").read_text())["journeys"]
    # plain PyYAML reads the key `on` as the boolean True (YAML 1.1); a type may also record
    # failed attempts at a stage (`fails_on`)
    stage_types = {t for stage in journeys["lead"]["stages"]
                   for t in [*stage.get("on", stage.get(True)), *stage.get("fails_on", [])]}
    config = load_sources(ROOT / "config" / "sources.yaml")
    emitted = {rule.type for name, source in config.sources.items()
               for rule in source_map(name, source).rules}
    assert emitted and emitted <= stage_types


def test_every_problem_is_reported_in_one_pass_with_its_line() -> None:
    errors = errors_of("""version: baton/v1
sources:
  hub:
    kind: hubspot
    token_env: HUBSPOT_TOKEN
    overlap: 5 minutes
    page_size: 500
    rules:
      - {type: crm.lead.assigned, when: {properties.x: {bogus: 1}}}
      - {when: {}}
  bus:
    kind: kafka
  redis:
    kind: redis
    stream: s
    strem: s
""")
    assert errors == [
        "sources.yaml:6: sources.hub.overlap: a duration is a number and a unit: 500ms, 30s, "
        "5m, 2h or 7d (got '5 minutes')",
        "sources.yaml:7: sources.hub.page_size: Input should be less than or equal to 200 "
        "(got 500)",
        "sources.yaml:9: sources.hub.rules[0].when: properties.x: unknown operator 'bogus'; "
        "use one of eq, exists, gt, gte, in, lt, lte, ne, startswith",
        "sources.yaml:10: sources.hub.rules[1].type: required field is missing",
        "sources.yaml:12: sources.bus.kind: must be one of kong, otlp, cloudevents, nats, "
        "rabbitmq, redis, hubspot, salesforce (got 'kafka')",
        "sources.yaml:16: sources.redis.strem: unknown field; check its spelling against the "
        "reference (got 's')",
    ]


@pytest.mark.parametrize(("settings", "message"), [
    ("token: pat-na1-0123", "sources.crm.token: secrets are never written in the config; "
     "export it and write `token_env: NAME_OF_THE_VARIABLE`"),
    ("token_env: pat-na1-0123", "sources.crm.token_env: must name an environment variable "
     "(e.g. HUBSPOT_TOKEN), not hold the secret itself; export the secret under that name"),
    ("base_url: https://me:hunter2@api.hubapi.com", "sources.crm.base_url: the URL holds a "
     "password; remove it and name an environment variable in `password_env` instead"),
], ids=["inline-token", "token-in-env-field", "password-in-url"])
def test_secrets_written_inline_are_refused_without_repeating_them(
        settings: str, message: str) -> None:
    text = f"version: baton/v1\nsources:\n  crm:\n    kind: hubspot\n    {settings}\n"
    if "token_env" not in settings:
        text += "    token_env: HUBSPOT_TOKEN\n"
    errors = errors_of(text)
    assert f"sources.yaml:5: {message}" in errors
    assert not any("pat-na1" in e or "hunter2" in e for e in errors)


def test_a_wrong_version_and_a_missing_file_are_clear() -> None:
    assert errors_of("version: baton/v2\nsources: {a: {kind: cloudevents}}\n") == [
        "sources.yaml:1: version: must be 'baton/v1' (got 'baton/v2')"]
    with pytest.raises(SourceConfigError, match="no such file; create it"):
        load_sources("/nonexistent/sources.yaml")


def test_kinds_have_documented_default_keys_rules_and_times() -> None:
    config = parse_sources("version: baton/v1\nsources:\n  kong: {kind: kong}\n"
                           "  sf: {kind: salesforce, instance_url: https://x, "
                           "token_env: SF}\n", "s.yaml")
    kong = source_map("kong", config.sources["kong"])
    assert kong.key_paths[0] == "correlation_id" and kong.time_path == "started_at"
    assert [r.type for r in kong.rules] == ["gateway.request.accepted", "gateway.request.failed"]
    assert kong.event_source == "kong://kong"
    salesforce = source_map("sf", config.sources["sf"])
    assert [r.type for r in salesforce.rules] == ["crm.lead.upserted", "crm.lead.assigned"]


@pytest.mark.parametrize(("record", "when", "expected"), [
    ({"response": {"status": 201}}, {"response.status": {"lt": 400}}, True),
    ({"response": {"status": 502}}, {"response.status": {"lt": 400}}, False),
    ({"upstream_status": "201"}, {"upstream_status": 201}, True),
    ({"route": {"name": "a"}}, {"route.name": ["a", "b"]}, True),
    ({"attributes": {"lead.id": "L-1"}}, {"attributes.lead.id": {"exists": True}}, True),
    ({"properties": {"owner": None}}, {"properties.owner": {"exists": True}}, False),
    ({"OwnerId": "00G5g"}, {"OwnerId": {"startswith": "005"}}, False),
    ({"status": {"code": 2}}, {"status.code": {"ne": 2}}, False),
    ({"qualified": "true"}, {"qualified": True}, True),
], ids=["lt", "lt-fails", "number-as-string", "any-of", "dotted-key", "null-not-exists",
        "queue-owner", "ne", "bool-as-string"])
def test_rule_conditions(record: dict, when: dict, expected: bool) -> None:
    assert matches(record, when) is expected


@pytest.mark.parametrize(("value", "micros"), [
    ("2026-01-01T12:00:00.000+0000", 1767268800000000),
    ("2026-01-01T12:00:00Z", 1767268800000000),
    (1767268800123, 1767268800123000),
    ("1767268800123000000", 1767268800123000),
    ("2026-01-01", 1767225600000000),
], ids=["salesforce", "rfc3339", "epoch-ms", "epoch-ns-string", "date"])
def test_vendor_times_become_epoch_microseconds(value: object, micros: int) -> None:
    assert coerce_time(value, "t") == micros


def test_lookup_finds_keys_that_contain_dots() -> None:
    assert lookup({"attributes": {"http.response.status_code": 429}},
                  "attributes.http.response.status_code") == 429


def test_baton_collect_once_reads_every_pulling_source_and_prints_counts(
        tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    stream = f"baton:test:collect:{tmp_path.name}"
    client = redis.Redis(decode_responses=True)
    client.xadd(stream, {"event": orjson.dumps({
        "specversion": "1.0", "id": "e1", "source": "s", "type": "com.acme.lead.enriched",
        "time": "2026-01-01T12:00:00Z"}).decode()})
    (tmp_path / "sources.yaml").write_text(f"""version: baton/v1
sources:
  kong-edge: {{kind: kong, file: {FIXTURES / 'kong-file-log.jsonl'}}}
  enrichment: {{kind: redis, stream: "{stream}"}}
  push: {{kind: cloudevents}}
""")
    try:
        code = main(["--config", str(tmp_path), "--store", store_url, "collect", "--once"])
    finally:
        client.delete(stream)
        client.close()
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "kong-edge: accepted 5 entries, 5 events, duplicate 0, rejected 0, skipped 0 (no rule)",
        "enrichment: accepted 1, duplicate 0, rejected 0"]


def test_baton_collect_names_an_unknown_source(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sources.yaml").write_text("version: baton/v1\nsources:\n"
                                           "  push: {kind: cloudevents}\n")
    code = main(["--config", str(tmp_path), "--store", sqlite_url, "collect", "--source",
                 "hubspot", "--once"])
    assert code == 1
    assert "no source named 'hubspot'" in capsys.readouterr().err
