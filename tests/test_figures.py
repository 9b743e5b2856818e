"""The dashboard's pure figure builders and display helpers, on small frames."""

from __future__ import annotations

import pandas as pd
import pytest

from app import figures as fx
from slas.definitions import load_folder

HOUR = 3600 * 1_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def test_the_sli_trend_draws_one_line_per_sla_and_the_objectives():
    series = pd.DataFrame({"sla": ["a", "a", "b"], "at_us": [T0, T0 + HOUR, T0],
                           "sli": [0.99, 0.98, 1.0]})
    fig = fx.sli_trend(series, {"a": 0.995, "b": 0.9}, "UTC")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.9, 0.995]


def test_breaches_are_drawn_per_team_in_severity_colours_until_closed_or_now():
    frame = pd.DataFrame({"team": ["sales", "platform"], "severity": ["critical", "warning"],
                          "opened_at_us": [T0, T0 + HOUR], "closed_at_us": [T0 + HOUR, None]})
    fig = fx.breach_timeline(frame, T0 + 5 * HOUR, "UTC")
    by_name = {t.name: t for t in fig.data}
    assert by_name["critical"].line.color == fx.SEVERITY_COLOURS["critical"]
    open_bar = by_name["warning"]
    assert list(open_bar.y[:2]) == ["platform", "platform"]
    assert open_bar.x[1] == pd.Timestamp(T0 + 5 * HOUR, unit="us", tz="UTC")


def test_the_funnel_keeps_journey_order():
    fig = fx.funnel(pd.DataFrame({"stage": ["a", "b", "c"], "leads": [10, 8, 7]}))
    assert list(fig.data[0].y) == ["a", "b", "c"] and list(fig.data[0].x) == [10, 8, 7]


def test_stalls_stack_by_owner_in_stage_order():
    stalls = pd.DataFrame({"owner": ["Sales", "Sales", "Platform"],
                           "last_stage": ["crm.upserted", "crm.upserted", "bus.published"]})
    fig = fx.stalls_by_stage(stalls, ["form", "bus.published", "crm.upserted", "done"])
    assert {t.name: list(t.y) for t in fig.data} == {"Platform": [1], "Sales": [2]}
    assert list(fig.layout.xaxis.categoryarray) == ["form", "bus.published", "crm.upserted",
                                                    "done"]


def test_the_latency_histogram_draws_the_threshold_in_red():
    fig = fx.latency_histogram(pd.Series([1.0, 2.0, 400.0]), 300.0, "hop")
    [line] = fig.layout.shapes
    assert line.x0 == 300.0 and line.line.color == fx.STATUS_COLOURS["breached"]
    assert fx.latency_histogram(pd.Series([1.0]), None, "hop").layout.shapes == ()


def test_the_lead_gantt_shows_stages_spans_and_the_stall():
    stages = pd.DataFrame({"name": ["a", "b", "c"], "owner": ["x", "y", "z"],
                           "first_us": [T0, T0 + HOUR, None]})
    spans = pd.DataFrame({"name": ["POST /leads"], "start_us": [T0], "end_us": [T0 + 1000]})
    fig = fx.lead_gantt(stages, spans, {"next_stage": "c", "last_at_us": T0 + HOUR},
                        T0 + 3 * HOUR, "Europe/Berlin")
    names = [t.name for t in fig.data]
    assert names == ["time to next stage", "stage reached", "spans", "stalled"]
    stalled = fig.data[-1]
    assert stalled.line.color == fx.STATUS_COLOURS["breached"]
    assert stalled.y[0] == "waiting for c" and str(stalled.x[0].tz) == "Europe/Berlin"


def test_the_dry_run_chart_colours_current_and_edited_apart():
    points = pd.DataFrame({"version": ["current", "edited"], "at_us": [T0, T0],
                           "sli": [0.9, 0.95]})
    fig = fx.dry_run_chart(points, {"current": 0.99, "edited": 0.9}, "UTC")
    assert {t.name: t.line.color for t in fig.data} == fx.VERSION_COLOURS
    assert len(fig.layout.shapes) == 2
    same = fx.dry_run_chart(points, {"current": 0.99, "edited": 0.99}, "UTC")
    assert [a.text for a in same.layout.annotations] == ["objective"]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (125, "2m 5s"), (3 * 3600 + 12 * 60 + 9, "3h 12m"),
    (2 * 86400 + 4 * 3600, "2d 4h"), (None, "—")])
def test_durations_read_as_the_two_largest_units(seconds, text):
    assert fx.fmt_duration(seconds) == text


def test_times_are_shown_in_the_viewers_time_zone():
    assert fx.fmt_time(T0, "UTC") == "2026-01-01 00:00 UTC"
    assert fx.fmt_time(T0, "America/New_York") == "2025-12-31 19:00 EST"
    assert fx.fmt_time(None, "UTC") == "—"


def test_every_status_has_a_colour_a_label_and_a_badge():
    assert set(fx.STATUS_COLOURS) == set(fx.STATUS_LABELS) == set(fx.STATUS_BADGE) == {
        "ok", "warning", "at_risk", "breached", "no_data"}


def test_an_sla_reads_as_one_plain_sentence():
    slas = {s.name: s for s in load_folder("config").slas}
    assert fx.plain_words(slas["lead-routing-5m"], 0.987, "7d") == (
        "98.7% of qualified leads went from form.submitted to crm.assigned within 5 minutes "
        "this week; target 99%")
    assert fx.plain_words(slas["activation-events-fresh"], 0.9995, "1d").startswith(
        "100% of minutes had a com.acme.product.activated event no older than 2 minutes in "
        "the last 24 hours")
