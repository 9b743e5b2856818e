"""Judging is a pure function of counts and objective: SLI, budget, burn rates, status."""

from __future__ import annotations

import pytest
from engine_helpers import definitions
from hypothesis import given
from hypothesis import strategies as st

from slas.judge import judge, rollup
from slas.measure import Counts

DEFS = definitions("""
version: baton/v1
teams: {t: {name: T}, u: {name: U}}
journeys: {}
slas:
  - {name: f90, team: t, kind: freshness, type: x, max_age: 1m, objective: 90%, window: 1h}
  - {name: f99, team: t, kind: freshness, type: x, max_age: 1m, objective: 99%, window: 1h}
  - {name: w, team: u, kind: freshness, type: x, max_age: 1m, objective: 90%, warn: 99%,
     window: 1h}
""")


def result(sla, good, bad, hour=(0, 0)):
    return judge(DEFS.sla(sla), Counts(good, bad, {"1h": hour, "6h": (good, bad)}))


STATUS = [
    pytest.param("f90", 0, 0, (0, 0), "no_data", id="no-events-is-no-data"),
    pytest.param("f90", 8, 2, (0, 0), "breached", id="below-objective-breached"),
    pytest.param("f90", 9, 1, (0, 0), "at_risk", id="exactly-objective-met-but-budget-spent"),
    pytest.param("f90", 99, 1, (0, 0), "ok", id="comfortably-met"),
    pytest.param("f90", 185, 15, (0, 0), "ok", id="budget-exactly-a-quarter-left-ok"),
    pytest.param("f90", 92, 8, (0, 0), "at_risk", id="budget-under-a-quarter-at-risk"),
    pytest.param("f99", 999, 1, (0, 1), "at_risk", id="fast-burn-in-the-last-hour-at-risk"),
    pytest.param("f99", 9990, 10, (94, 6), "ok", id="burn-of-6-is-not-at-risk"),
    pytest.param("w", 95, 5, (0, 0), "warning", id="below-warn-above-objective-warning"),
    pytest.param("w", 995, 5, (0, 0), "ok", id="above-warn-ok"),
]


@pytest.mark.parametrize(("sla", "good", "bad", "hour", "expected"), STATUS)
def test_status_follows_the_contract(sla, good, bad, hour, expected):
    assert result(sla, good, bad, hour).status == expected


def test_budget_and_burn_rates_are_computed_as_documented():
    r = result("f90", 95, 5, hour=(8, 2))
    assert r.sli == pytest.approx(0.95) and r.total == 100
    assert r.budget_remaining == pytest.approx(1 - 5 / 10)
    assert r.burn_rate["1h"] == pytest.approx((2 / 10) / 0.1)
    assert r.burn_rate["6h"] == pytest.approx((5 / 100) / 0.1)


def test_a_span_without_events_has_no_burn_rate():
    assert result("f90", 10, 0, hour=(0, 0)).burn_rate["1h"] is None


def test_nothing_is_reported_for_an_sla_without_data():
    r = result("f90", 0, 0)
    assert (r.sli, r.budget_remaining, r.total) == (None, None, 0)


def test_teams_roll_up_to_their_worst_status_and_count_met_slas():
    results = [result("f90", 8, 2), result("f99", 100, 0), result("w", 95, 5)]
    teams = {t.team: t for t in rollup(["t", "u"], results)}
    assert (teams["t"].status, teams["t"].slas_ok, teams["t"].slas_total) == ("breached", 1, 2)
    assert (teams["u"].status, teams["u"].slas_ok) == ("warning", 1)


@given(good=st.integers(0, 10**6), bad=st.integers(0, 10**6))
def test_budget_is_exhausted_exactly_when_the_sli_meets_the_objective(good, bad):
    r = result("f90", good, bad)
    if good + bad == 0:
        assert r.status == "no_data"
    else:
        # bad <= allowed  <=>  SLI >= objective, without float error at the boundary
        assert (r.status == "breached") == (10 * good < 9 * (good + bad))
        assert r.sli == pytest.approx(good / (good + bad))


@given(good=st.integers(0, 10**4), bad=st.integers(1, 10**4))
def test_burn_rate_of_the_whole_window_scales_bad_share_by_the_budget(good, bad):
    r = judge(DEFS.sla("f99"), Counts(good, bad, {"1h": (good, bad), "6h": (good, bad)}))
    assert r.burn_rate["1h"] == pytest.approx(bad / (good + bad) / 0.01)
    assert r.budget_remaining == pytest.approx(1 - bad / (0.01 * (good + bad)))


@pytest.mark.parametrize(("value", "digits", "shown"), [
    (1.0, 0, "100%"), (0.9883, 2, "98.83%"), (0.99, 2, "99%"), (-0.17, 0, "-17%"),
    (None, 2, "-"), (0.999, 2, "99.9%"), (10.0, 0, "1000%"),
])
def test_percentages_are_shown_without_trailing_zeros(value, digits, shown):
    from slas.words import percent

    assert percent(value, digits) == shown
