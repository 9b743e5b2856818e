"""Property: the SQL engine equals the Python reference of DESIGN.md, on SQLite and
PostgreSQL, for random journeys, duplicates, retries, out-of-order ingestion, random T and
random burn-rate spans (outcomes counted by the time they became known)."""

from __future__ import annotations

import reference
from engine_helpers import MIN, T0, clear, definitions, ev, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slas import stages
from slas.measure import SPANS, measure
from slas.stalls import find_stalls

DEFS = definitions()
TYPES = ["lead.submitted", "lead.routed", "lead.rerouted", "lead.assigned"]
REGIONS = ["emea", "na", "apac"]

event_strategy = st.builds(
    lambda key, etype, minute, n, data: ev(f"L{key}", etype, minute, n, **data),
    key=st.integers(0, 7),
    etype=st.sampled_from(TYPES + ["other.type"]),
    # whole and half minutes make exact boundary hits (t - f == threshold) common; a coarse
    # 5-minute grid makes deadlines fall exactly on span edges (f + limit == T - S) too
    minute=st.one_of(st.integers(0, 48).map(lambda m: m * 5.0),
                     st.integers(0, 240).map(lambda m: m / 2)),
    n=st.integers(0, 2),
    data=st.fixed_dictionaries({}, optional={"hot": st.booleans(),
                                             "region": st.sampled_from(REGIONS)}),
)

# whole journeys too, so that reaching `to` exactly at a span's edge or at the threshold is
# common: submitted at a grid minute, the next stages 0-15 minutes later in 5-minute steps
journey_strategy = st.builds(
    lambda key, start, steps, hot: [
        ev(f"J{key}", etype, start + 5 * step, 0, **({"hot": hot} if i == 0 else {}))
        for i, (etype, step) in enumerate(zip(["lead.submitted", "lead.routed",
                                               "lead.assigned"], steps, strict=False))],
    key=st.integers(0, 5), start=st.integers(0, 48).map(lambda m: m * 5.0),
    steps=st.lists(st.integers(0, 3), min_size=2, max_size=3).map(
        lambda d: [sum(d[:i + 1]) for i in range(len(d))]),
    hot=st.booleans())
history_strategy = st.tuples(st.lists(event_strategy, max_size=40),
                             st.lists(journey_strategy, max_size=6)).map(
    lambda parts: parts[0] + [e for journey in parts[1] for e in journey])

# burn-rate spans: the defaults, plus spans of any length in whole and half minutes (boundary
# hits: an outcome known exactly at T - S is outside the span)
span_strategy = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.integers(1, 24).map(lambda m: m * 5 * MIN),
              st.integers(1, 600).map(lambda m: m * MIN // 2)), max_size=3)


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=history_strategy,
       at_minute=st.one_of(st.integers(0, 52).map(lambda m: m * 5), st.integers(0, 260)),
       split=st.integers(0, 40), extra_spans=span_strategy, data=st.data())
def test_the_sql_engine_equals_the_reference_for_random_histories(
        store, batch, at_minute, split, extra_spans, data):
    clear(store)
    shuffled = data.draw(st.permutations(batch))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(batch), max_size=5)) \
        if batch else shuffled
    if batch and data.draw(st.booleans()):  # T at an event plus a span or a limit: edges
        at_minute = (data.draw(st.sampled_from(batch))["time_us"] - T0) // MIN + data.draw(
            st.sampled_from([0, 5, 10, 15, 30, 35, 40, 60, 65, 70]))
    at_us = T0 + at_minute * MIN
    load(store, duplicated[:split])
    stages.refresh(store, DEFS)  # the second refresh catches up incrementally
    load(store, duplicated[split:])
    stages.refresh(store, DEFS)
    with store.engine.connect() as conn:
        spans = {**SPANS, **extra_spans}
        for sla in DEFS.slas:
            got = measure(conn, DEFS, sla, at_us, spans=spans)
            want = reference.measure(duplicated, DEFS, sla, at_us, spans)
            assert (got.good, got.bad, got.spans) == (want.good, want.bad, want.spans), sla.name
            assert _close(got.percentiles, want.percentiles), sla.name
    report = find_stalls(store, DEFS, "lead", at_us, window_s=3600, refresh=False)
    got_stalls = sorted((s.key, s.last_stage, s.last_at_us) for s in report.stalled)
    assert got_stalls == reference.stalls(duplicated, DEFS, "lead", at_us, 3600 * 10**6)


def _close(a: tuple, b: tuple) -> bool:
    pairs = zip(a, b, strict=True)
    return all((x is None and y is None) or (x is not None and y is not None
                                             and abs(x - y) < 1e-6) for x, y in pairs)
