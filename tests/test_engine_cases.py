"""Hand-computed cases for each SLA kind and each edge case of DESIGN.md's semantics.

Config (tests/engine_helpers.py): `fast` = latency submitted -> assigned, threshold 10m,
window 1h; `complete` = completeness submitted -> routed (routed or rerouted), within 10m,
window 1h; `fresh` = freshness of lead.submitted, max_age 2m, window 30m. Minutes after T0.
"""

from __future__ import annotations

import pytest
from engine_helpers import MIN, T0, definitions, ev, load

from slas import stages
from slas.measure import measure

DEFS = definitions()


def counts(store, events, sla, at_minute):
    load(store, events)
    stages.refresh(store, DEFS)
    with store.engine.connect() as conn:
        return measure(conn, DEFS, DEFS.sla(sla), T0 + int(at_minute * MIN))


def journey(key, submitted=None, routed=None, assigned=None, **data):
    out = []
    for etype, minute in (("lead.submitted", submitted), ("lead.routed", routed),
                          ("lead.assigned", assigned)):
        if minute is not None:
            out.append(ev(key, etype, minute, 0, **(data if etype == "lead.submitted" else {})))
    return out


LATENCY = [
    pytest.param(journey("a", 10, assigned=20), (1, 0), id="reached-exactly-at-threshold-good"),
    pytest.param(journey("a", 10, assigned=20.5), (0, 1), id="reached-after-threshold-bad"),
    pytest.param(journey("a", 45), (0, 1), id="not-reached-past-threshold-bad"),
    pytest.param(journey("a", 50), (0, 0), id="not-reached-exactly-threshold-pending"),
    pytest.param(journey("a", 55), (0, 0), id="not-reached-within-threshold-pending"),
    pytest.param(journey("a", 58, assigned=65), (0, 0), id="reached-after-T-is-pending"),
    pytest.param(journey("a", 45, assigned=65), (0, 1), id="reached-after-T-and-late-bad"),
    pytest.param(journey("a", 0, assigned=1), (0, 0), id="from-at-window-start-excluded"),
    pytest.param(journey("a", 60, assigned=60), (1, 0), id="from-at-T-included"),
    pytest.param(journey("a", 61, assigned=62), (0, 0), id="from-after-T-ignored"),
    pytest.param(journey("a", 10, assigned=15) + [ev("a", "lead.submitted", 2, 1)], (0, 1),
                 id="earliest-from-event-counts-even-if-ingested-later"),
    pytest.param(journey("a", 10, assigned=25) + [ev("a", "lead.assigned", 30, 1)], (0, 1),
                 id="retry-of-to-stage-does-not-move-it"),
    pytest.param(journey("a", 10, assigned=15) * 2, (1, 0), id="duplicate-events-count-once"),
    pytest.param([ev(None, "lead.submitted", 10, 0)], (0, 0), id="event-without-key-ignored"),
]


@pytest.mark.parametrize(("events", "expected"), LATENCY)
def test_latency_counts_good_and_bad_journeys(store, events, expected):
    got = counts(store, events, "fast", 60)
    assert (got.good, got.bad) == expected


COMPLETENESS = [
    pytest.param(journey("a", 10, routed=20), (1, 0), id="reached-exactly-within-good"),
    pytest.param(journey("a", 10, routed=21), (0, 1), id="reached-late-bad"),
    pytest.param([ev("a", "lead.submitted", 10, 0), ev("a", "lead.rerouted", 15, 0)], (1, 0),
                 id="any-type-of-the-stage-marks-it"),
    pytest.param(journey("a", 50), (0, 1), id="from-at-T-minus-within-counted-bad"),
    pytest.param(journey("a", 51), (0, 0), id="from-still-inside-within-not-counted"),
    pytest.param(journey("a", 0, routed=1), (0, 0), id="from-at-window-start-excluded"),
    pytest.param(journey("a", 45, routed=61), (0, 1), id="to-after-T-is-not-seen"),
]


@pytest.mark.parametrize(("events", "expected"), COMPLETENESS)
def test_completeness_counts_journeys_that_had_their_full_time(store, events, expected):
    got = counts(store, events, "complete", 60)
    assert (got.good, got.bad) == expected


# minute 0 is long before the window (30m up to T): an event there only says that matching
# events exist, so every slice of the window counts
FRESHNESS = [
    pytest.param([0, 40], 60, (3, 27), id="an-event-covers-its-minute-and-two-more"),
    pytest.param([0, 39.5], 60, (2, 28), id="a-half-minute-event-covers-two-slices"),
    pytest.param([0, 40, 41, 42], 60, (5, 25), id="overlapping-events-do-not-double-count"),
    pytest.param([0], 60, (0, 30), id="silence-after-an-old-event-is-every-slice-bad"),
    pytest.param([29.5], 60, (1, 29), id="an-event-before-the-window-covers-its-first-slice"),
    pytest.param([28.5], 60, (0, 30), id="an-event-too-old-for-the-first-slice"),
    pytest.param([0, 60], 60.5, (1, 29), id="slices-end-on-whole-minutes-up-to-T"),
    pytest.param([], 60, (0, 0), id="no-matching-event-ever-is-no-data"),
    pytest.param([61], 60, (0, 0), id="events-after-T-are-not-seen-so-no-data"),
    pytest.param([45], 60, (3, 13), id="slices-before-the-first-event-ever-are-not-counted"),
    pytest.param([44.5], 60, (2, 14), id="the-first-event-counts-from-the-slice-it-falls-in"),
]


@pytest.mark.parametrize(("minutes", "at", "expected"), FRESHNESS)
def test_freshness_counts_one_minute_slices(store, minutes, at, expected):
    events = [ev("x", "lead.submitted", m, i) for i, m in enumerate(minutes)]
    got = counts(store, events, "fresh", at)
    assert (got.good, got.bad) == expected


def test_latency_percentiles_interpolate_between_closest_ranks(store):
    events = [e for i, wait in enumerate([1, 2, 3, 4])
              for e in journey(f"k{i}", 30, assigned=30 + wait)]
    got = counts(store, events, "fast", 60)
    assert got.percentiles == pytest.approx((150.0, 231.0, 238.2))


def test_without_percentiles_the_counts_are_the_same_and_the_percentiles_are_left_out(store):
    events = [e for i, wait in enumerate([1, 2, 3, 4, 12])
              for e in journey(f"k{i}", 30, assigned=30 + wait)] + journey("late", 40)
    full = counts(store, events, "fast", 60)
    with store.engine.connect() as conn:
        lean = measure(conn, DEFS, DEFS.sla("fast"), T0 + 60 * MIN, percentiles=False)
    assert (lean.good, lean.bad, lean.spans) == (full.good, full.bad, full.spans)
    assert (lean.good, lean.bad) == (4, 2) and lean.spans["1h"] == (4, 2)
    assert lean.percentiles == (None, None, None) != full.percentiles


# Burn-rate spans count outcomes when they became known (DESIGN.md, December 2026): a latency
# journey is good at the time it reached `to` within 10m, bad at submitted + 10m. At T = 60:
SPAN_CASES = [
    pytest.param(journey("a", 50, assigned=58), {"5m": (1, 0), "1h": (1, 0)},
                 id="good-counts-when-to-was-reached"),
    pytest.param(journey("a", 48, assigned=54), {"5m": (0, 0), "30m": (1, 0)},
                 id="good-reached-before-the-short-span-is-outside-it"),
    pytest.param(journey("a", 48), {"5m": (0, 1), "30m": (0, 1)},
                 id="bad-counts-when-the-deadline-passed-though-submitted-before-the-span"),
    pytest.param(journey("a", 44), {"5m": (0, 0), "30m": (0, 1)},
                 id="deadline-before-the-short-span-counts-only-in-the-longer"),
    pytest.param(journey("a", 45), {"5m": (0, 0), "30m": (0, 1)},
                 id="deadline-exactly-at-T-minus-span-is-outside-it"),
    pytest.param(journey("a", 50), {"5m": (0, 0), "1h": (0, 0)},
                 id="deadline-exactly-at-T-is-still-pending"),
    pytest.param(journey("a", 46, assigned=59), {"5m": (0, 1), "30m": (0, 1)},
                 id="reached-late-is-bad-at-its-deadline-not-when-it-arrived"),
    pytest.param(journey("a", -30, assigned=-25), {"1h": (0, 0), "6h": (1, 0), "3d": (1, 0)},
                 id="spans-longer-than-the-window-reach-before-it"),
]


@pytest.mark.parametrize(("events", "expected"), SPAN_CASES)
def test_burn_rate_spans_count_outcomes_by_the_time_they_became_known(store, events, expected):
    got = counts(store, events, "fast", 60)
    assert {name: got.spans[name] for name in expected} == expected


def test_a_short_span_sees_an_outage_within_minutes_of_its_start(store):
    """Nine leads submitted every 5 minutes from 5 to 45 reach a rep in 2 minutes; from minute
    45 a lead arrives every minute and none is routed. At 60m the window is still mostly good,
    but the deadlines passing in the last 5 minutes (leads 46-49) are all bad."""
    events = [e for m in range(5, 50, 5) for e in journey(f"ok{m}", m, assigned=m + 2)]
    events += [e for m in range(45, 60) for e in journey(f"lost{m}", m)]
    got = counts(store, events, "fast", 60)
    assert got.spans["5m"] == (0, 4)
    assert (got.good, got.bad) == (9, 5)


def test_completeness_spans_count_a_journey_bad_once_its_within_has_passed(store):
    events = (journey("a", 46) + journey("b", 47, routed=50) + journey("c", 52)
              + journey("d", 40, routed=55))
    got = counts(store, events, "complete", 60)
    # a: bad at its deadline 56 (in 5m); b: good at 50 (not in 5m); c: deadline 62, pending;
    # d: routed after its deadline 50, so bad at 50
    assert got.spans["5m"] == (0, 1) and got.spans["30m"] == (1, 2)


def test_freshness_spans_count_the_slices_ending_within_them(store):
    # (minute -100: long before, so that every slice of the spans counts; see FRESHNESS)
    events = [ev("x", "lead.submitted", m, m) for m in (-100, 0, 1, 2, 3)]
    got = counts(store, events, "fresh", 20)
    # good while the newest event is <= 2m old: the slices ending at 0..5; the 5m span holds
    # the slices ending at 16..20, the 1h span those ending at -39..20 (the window: -9..20)
    assert got.spans["5m"] == (0, 5) and got.spans["1h"] == (6, 54)
    assert (got.good, got.bad) == (6, 24)


WHERE = [
    pytest.param([ev("a", "lead.submitted", 30, 0, hot=True)], (0, 1), id="matching-attribute"),
    pytest.param([ev("a", "lead.submitted", 30, 0, hot=False)], (0, 0), id="other-value"),
    pytest.param([ev("a", "lead.submitted", 30, 0)], (0, 0), id="attribute-absent"),
    pytest.param([ev("a", "lead.submitted", 30, 0, hot=True),
                  ev("a", "lead.routed", 35, 0, hot=False)], (0, 0),
                 id="a-later-event-overrides"),
    pytest.param([ev("a", "lead.submitted", 30, 0, hot=False),
                  ev("a", "lead.routed", 35, 0, hot=True)], (0, 1),
                 id="a-later-event-can-qualify-the-journey"),
    pytest.param([ev("a", "lead.submitted", 30, 0, hot=True),
                  ev("a", "lead.routed", 65, 0, hot=False)], (0, 1),
                 id="changes-after-T-are-not-seen"),
    pytest.param([ev("a", "lead.submitted", 30, 0, hot=1)], (0, 0),
                 id="one-is-not-true"),
]


@pytest.mark.parametrize(("events", "expected"), WHERE)
def test_where_matches_journey_attributes_as_of_T(store, events, expected):
    got = counts(store, events, "fast-hot", 60)
    assert (got.good, got.bad) == expected


def test_where_with_a_list_matches_any_of_its_values(store):
    events = [ev(k, "lead.routed", 30, 0, region=r) for k, r in
              (("a", "emea"), ("b", "na"), ("c", "apac"))]
    got = counts(store, events, "fast-region", 60)
    assert (got.good, got.bad) == (0, 2)
