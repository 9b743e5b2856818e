"""Hourly roll-ups (slas.rollups): an evaluation reading settled hours from them gives exactly
what the plain-Python reference gives, for random journeys over many hours, ingested in parts
with refreshes between (late events reopening settled hours), at random T and spans, on SQLite
and PostgreSQL; and most of a settled window is read from them."""

from __future__ import annotations

import reference
from engine_helpers import MIN, T0, clear, definitions, ev, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slas import rollups, stages
from slas.measure import SPANS, measure, population
from slas.population import population_key

DEFS = definitions("""
version: baton/v1
teams: {web: {name: Web}, ops: {name: Ops}, sales: {name: Sales}}
journeys:
  lead:
    stages:
      - {name: submitted, owner: web, on: [lead.submitted]}
      - {name: routed, owner: ops, on: [lead.routed]}
      - {name: assigned, owner: sales, on: [lead.assigned]}
slas:
  - {name: fast, team: sales, kind: latency, journey: lead, from: submitted, to: assigned,
     threshold: 20m, objective: 90%, window: 6h}
  - {name: hot, team: sales, kind: latency, journey: lead, from: submitted, to: assigned,
     threshold: 45m, objective: 90%, window: 8h, where: {hot: true}}
  - {name: complete, team: ops, kind: completeness, journey: lead, from: submitted,
     to: routed, within: 30m, objective: 90%, window: 4h}
""")
HOURS = 12

journey = st.builds(
    lambda key, start, routed, assigned, hot, late: [
        ev(f"R{key}", "lead.submitted", start, 0, hot=hot),
        *([ev(f"R{key}", "lead.routed", start + routed, 0)] if routed is not None else []),
        *([ev(f"R{key}", "lead.assigned", start + assigned, 0)] if assigned is not None
          else []),
        *([ev(f"R{key}", "lead.routed", start + late, 1, hot=not hot)] if late else [])],
    key=st.integers(0, 200), start=st.integers(0, HOURS * 12).map(lambda m: m * 5.0),
    routed=st.none() | st.integers(-5, 60), assigned=st.none() | st.integers(-5, 90),
    hot=st.booleans(), late=st.none() | st.integers(60, 400))


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(journeys=st.lists(journey, min_size=5, max_size=60),
       cuts=st.lists(st.integers(0, 400), min_size=2, max_size=2),
       at_minute=st.integers(0, (HOURS + 3) * 60), spans=st.dictionaries(
           st.sampled_from(["x", "y"]), st.integers(1, 60 * 10).map(lambda m: m * MIN),
           max_size=2))
def test_evaluations_with_roll_ups_equal_the_reference(store, journeys, cuts, at_minute,
                                                       spans):
    clear(store)
    events = [e for j in journeys for e in j]
    a, b = sorted(c % (len(events) + 1) for c in cuts)
    for part in (events[:a], events[a:b], events[b:]):  # later parts reopen settled hours
        load(store, part)
        stages.refresh(store, DEFS)
    at_us = T0 + at_minute * MIN
    with store.engine.connect() as conn:
        for sla in DEFS.slas:
            got = measure(conn, DEFS, sla, at_us, spans={**SPANS, **spans})
            want = reference.measure(events, DEFS, sla, at_us, {**SPANS, **spans})
            assert (got.good, got.bad, got.spans) == (want.good, want.bad, want.spans), sla.name
            assert got.percentiles == want.percentiles or all(
                abs(x - y) < 1e-6 for x, y in zip(got.percentiles, want.percentiles,
                                                  strict=True)), sla.name


def test_a_settled_window_is_read_from_the_roll_ups_but_its_last_hours(store):
    events = []
    for i in range(600):  # a lead a minute for ten hours, assigned after 5 minutes
        events += [ev(f"L{i}", "lead.submitted", i, 0, hot=True),
                   ev(f"L{i}", "lead.assigned", i + 5, 0)]
    load(store, events)
    stages.refresh(store, DEFS)
    sla = DEFS.sla("fast")
    at_us = T0 + 600 * MIN
    with store.engine.connect() as conn:
        assert rollups.is_current(conn, rollups.outcome_key(population_key(sla, DEFS), sla))
        p = population(conn, sla, population_key(sla, DEFS), at_us, {"1h": 60 * MIN})
    scanned = sum(hi - lo for lo, hi in p.settled.window_left)
    # of the 6h window, the first hour (its first minute is outside the window) and the
    # last one (not settled: its last leads are assigned after T)
    assert scanned <= 2 * 60 * MIN
    assert p.settled.good == 4 * 60  # the four hours between, each of 60 good leads
    with store.engine.connect() as conn:
        got = measure(conn, DEFS, sla, at_us)
    want = reference.measure(events, DEFS, sla, at_us)
    assert (got.good, got.bad, got.spans) == (want.good, want.bad, want.spans)
