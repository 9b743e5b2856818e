"""The sample generator is seeded and realistic: business hours, retries, duplicates, stalls,
heavy tails, incidents, and nothing from the future."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from collectors.sample import HOPS, generate
from collectors.schema import parse_event, parse_time, to_us

END = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def sample(leads: int = 3000, seed: int = 3) -> list[dict]:
    return list(generate(leads, end=END, seed=seed))


def test_the_same_seed_gives_the_same_events_and_another_seed_does_not():
    assert sample(200) == sample(200)
    assert sample(200) != sample(200, seed=4)


def test_every_event_is_a_valid_cloudevent_no_later_than_the_end():
    events = sample()
    parsed = [parse_event(e, 0) for e in events]
    assert max(e.time_us for e in parsed) <= to_us(END)
    assert min(e.time_us for e in parsed) > to_us(END) - 7 * 86400 * 10**6


def test_most_submissions_fall_in_business_hours():
    hours = [datetime.fromtimestamp(parse_time(e["time"]) / 1e6, UTC).hour
             for e in sample() if e["type"] == HOPS[0][0]]
    share = sum(8 <= h < 19 for h in hours) / len(hours)
    assert share > 0.7


def test_there_are_duplicates_retries_and_stalled_journeys():
    events = sample()
    ids = Counter((e["source"], e["id"]) for e in events)
    assert any(n > 1 for n in ids.values()), "some events are delivered twice"
    assert any(e["id"].endswith("-r") for e in events), "some stages are retried"
    reached = Counter(e["correlationid"] for e in events if e["type"] == HOPS[-1][0])
    submitted = {e["correlationid"] for e in events if e["type"] == HOPS[0][0]}
    assert len(submitted - set(reached)) > 0, "some journeys never reach the last stage"


def test_hop_latencies_are_heavy_tailed():
    times: dict[tuple[str, str], int] = {}
    for e in sample(5000):
        if "correlationid" in e:
            times.setdefault((e["correlationid"], e["type"]), parse_time(e["time"]))
    waits = sorted(times[(k, HOPS[5][0])] - times[(k, HOPS[4][0])]
                   for (k, t) in times if t == HOPS[5][0] and (k, HOPS[4][0]) in times)
    median, p999 = waits[len(waits) // 2], waits[int(len(waits) * 0.999)]
    assert p999 > 10 * median
