"""Property: the SQL engine equals the Python reference of DESIGN.md, on SQLite and
PostgreSQL, for random journeys, duplicates, retries, out-of-order ingestion and random T."""

from __future__ import annotations

import reference
from engine_helpers import MIN, T0, clear, definitions, ev, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slas import stages
from slas.measure import measure
from slas.stalls import find_stalls

DEFS = definitions()
TYPES = ["lead.submitted", "lead.routed", "lead.rerouted", "lead.assigned"]
REGIONS = ["emea", "na", "apac"]

event_strategy = st.builds(
    lambda key, etype, minute, n, data: ev(f"L{key}", etype, minute, n, **data),
    key=st.integers(0, 7),
    etype=st.sampled_from(TYPES + ["other.type"]),
    # whole and half minutes make exact boundary hits (t - f == threshold) common
    minute=st.integers(0, 240).map(lambda m: m / 2),
    n=st.integers(0, 2),
    data=st.fixed_dictionaries({}, optional={"hot": st.booleans(),
                                             "region": st.sampled_from(REGIONS)}),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(event_strategy, max_size=40), at_minute=st.integers(0, 260),
       split=st.integers(0, 40), data=st.data())
def test_the_sql_engine_equals_the_reference_for_random_histories(
        store, batch, at_minute, split, data):
    clear(store)
    shuffled = data.draw(st.permutations(batch))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(batch), max_size=5)) \
        if batch else shuffled
    at_us = T0 + at_minute * MIN // 2 * 2
    load(store, duplicated[:split])
    stages.refresh(store, DEFS)  # the second refresh catches up incrementally
    load(store, duplicated[split:])
    stages.refresh(store, DEFS)
    with store.engine.connect() as conn:
        for sla in DEFS.slas:
            got = measure(conn, sla, at_us)
            want = reference.measure(duplicated, DEFS, sla, at_us)
            assert (got.good, got.bad, got.spans) == (want.good, want.bad, want.spans), sla.name
            assert _close(got.percentiles, want.percentiles), sla.name
    report = find_stalls(store, DEFS, "lead", at_us, window_s=3600, refresh=False)
    got_stalls = sorted((s.key, s.last_stage, s.last_at_us) for s in report.stalled)
    assert got_stalls == reference.stalls(duplicated, DEFS, "lead", at_us, 3600 * 10**6)


def _close(a: tuple, b: tuple) -> bool:
    pairs = zip(a, b, strict=True)
    return all((x is None and y is None) or (x is not None and y is not None
                                             and abs(x - y) < 1e-6) for x, y in pairs)
