"""A seeded generator of realistic lead journeys as CloudEvents (quick start, tests, benchmarks).

Each lead walks the example journey of `config/slas/leads.yaml`: form submitted -> gateway
accepted -> published on the bus -> enriched -> upserted in the CRM -> assigned to a rep.
Submissions follow business hours (weekdays 8-19 UTC, light nights and weekends); hops have
heavy-tailed latencies (log-normal bodies with Pareto tails); some leads stall for good at a
stage; some events are retried (a second event later: the first one counts) or delivered twice
(the same id: a duplicate). Two incidents are built in: a routing outage on the CRM assignment
hop (an hour, eight times slower) and, in the last 50 minutes, an enrichment outage that
leaves most leads stuck. Product activation events
(for the freshness SLA) arrive about every 10 seconds, with one 25-minute gap.
Events later than `end` are not emitted: they have not happened yet.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.schema import format_time, to_us

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

# (stage type, event source, median hop latency in seconds, tail weight, stall probability)
HOPS: tuple[tuple[str, str, float, float, float], ...] = (
    ("com.acme.lead.submitted", "https://forms.acme.example/leads", 0.0, 0.0, 0.0),
    ("gateway.request.accepted", "kong://gateway/routes/lead-intake", 0.4, 0.002, 0.0002),
    ("com.acme.lead.created", "nats://bus/leads", 0.3, 0.002, 0.0002),
    ("com.acme.lead.enriched", "https://enrich.acme.example", 8.0, 0.004, 0.0008),
    ("crm.lead.upserted", "hubspot://portal/62515", 10.0, 0.004, 0.0003),
    ("crm.lead.assigned", "hubspot://portal/62515/owners", 30.0, 0.005, 0.002),
)
CHANNELS = ("webinar", "ebook", "demo-request", "pricing-page", "partner")
REGIONS = ("emea", "na", "apac", "latam")


@dataclass(frozen=True)
class Incident:
    """A span of time in which one hop is slow (`factor`) or broken (`stall` probability)."""

    hop: int
    start_us: int
    end_us: int
    factor: float = 1.0
    stall: float = 0.0


def default_incidents(start_us: int, end_us: int) -> list[Incident]:
    span = end_us - start_us
    return [
        Incident(hop=5, start_us=start_us + int(span * 0.62), end_us=start_us + int(span * 0.62)
                 + HOUR_US, factor=8.0),
        Incident(hop=3, start_us=end_us - 50 * MINUTE_US, end_us=end_us, stall=0.6),
    ]


def generate(leads: int, *, end: datetime | None = None, days: float = 7.0, seed: int = 7,
             activations: bool = True) -> Iterator[dict[str, Any]]:
    """Yield CloudEvents (JSON objects) for `leads` journeys submitted in (end-days, end]."""
    end_us = to_us(end or datetime.now(UTC).replace(second=0, microsecond=0))
    start_us = end_us - int(days * DAY_US)
    rng = random.Random(seed)
    incidents = default_incidents(start_us, end_us)
    submitted = _submission_times(rng, leads, start_us, end_us)
    for number, at_us in enumerate(submitted, start=1):
        yield from _journey(rng, number, at_us, end_us, incidents)
    if activations:
        yield from _activations(rng, start_us, end_us)


def _submission_times(rng: random.Random, count: int, start_us: int, end_us: int) -> list[int]:
    """Times weighted by business hours, sorted."""
    times: list[int] = []
    while len(times) < count:
        at = rng.randrange(start_us, end_us)
        moment = datetime.fromtimestamp(at / 1e6, UTC)
        weight = 1.0 if 8 <= moment.hour < 19 else 0.15
        if moment.weekday() >= 5:
            weight *= 0.3
        if rng.random() < weight:
            times.append(at)
    times.sort()
    return times


def _journey(rng: random.Random, number: int, at_us: int, end_us: int,
             incidents: list[Incident]) -> Iterator[dict[str, Any]]:
    key = f"L-{number:07d}"
    data = {"leadId": key, "qualified": rng.random() < 0.7, "channel": rng.choice(CHANNELS),
            "region": rng.choice(REGIONS)}
    t = at_us
    for hop, (etype, source, median, tail, stall) in enumerate(HOPS):
        if hop:
            slow, broken = _incident_effect(incidents, hop, t)
            if rng.random() < stall + broken:
                return
            t += int(_latency(rng, median, tail) * slow * 1e6)
        if t > end_us:
            return
        event = _event(f"{key}-{hop}", source, etype, t, key, data if hop == 0 else
                       _hop_data(hop, data))
        yield event
        roll = rng.random()
        if roll < 0.01:
            yield dict(event)  # delivered twice: the same id, a duplicate
        elif roll < 0.03:
            retry_at = t + int(rng.uniform(1, 90) * 1e6)
            if retry_at <= end_us:
                yield _event(f"{key}-{hop}-r", source, etype, retry_at, key, event.get("data"))


def _hop_data(hop: int, lead: dict[str, Any]) -> dict[str, Any] | None:
    if hop == 3:
        return {"leadId": lead["leadId"], "company_size": "51-200", "score": 42}
    if hop == 5:
        return {"leadId": lead["leadId"], "owner": f"rep-{int(lead['leadId'][2:]) % 40:02d}"}
    return None


def _incident_effect(incidents: list[Incident], hop: int, t: int) -> tuple[float, float]:
    slow, broken = 1.0, 0.0
    for incident in incidents:
        if incident.hop == hop and incident.start_us <= t < incident.end_us:
            slow, broken = slow * incident.factor, broken + incident.stall
    return slow, broken


def _latency(rng: random.Random, median: float, tail: float) -> float:
    """Seconds: log-normal around `median`, and with probability `tail` a Pareto outlier."""
    body = median * math.exp(rng.gauss(0.0, 0.6))
    if rng.random() < tail:
        body += median * rng.paretovariate(1.3) * 4
    return body


def _event(event_id: str, source: str, etype: str, t: int, key: str,
           data: dict[str, Any] | None) -> dict[str, Any]:
    event: dict[str, Any] = {"specversion": "1.0", "id": event_id, "source": source,
                             "type": etype, "time": format_time(t), "correlationid": key,
                             "datacontenttype": "application/json"}
    if data is not None:
        event["data"] = data
    return event


def _activations(rng: random.Random, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
    gap_start = start_us + (end_us - start_us) // 3
    gap_end = gap_start + 25 * MINUTE_US
    t, number = start_us, 0
    while True:
        t += int(rng.expovariate(1 / 10) * 1e6)
        if t > end_us:
            return
        if gap_start <= t < gap_end:
            continue
        number += 1
        yield {"specversion": "1.0", "id": f"act-{number:08d}",
               "source": "https://app.acme.example", "type": "com.acme.product.activated",
               "time": format_time(t), "data": {"account": f"A-{rng.randrange(10**6):06d}"}}
