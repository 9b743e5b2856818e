"""The dashboard's pure figure builders and display helpers, on small frames."""

from __future__ import annotations

import pandas as pd
import pytest

from app import figures as fx
from slas import words
from slas.definitions import load_folder

HOUR = 3600 * 1_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def test_the_sli_trend_draws_one_line_per_sla_and_its_objective_dashed_in_its_colour():
    series = pd.DataFrame({"sla": ["a", "a", "b"], "at_us": [T0, T0 + HOUR, T0],
                           "sli": [0.99, 0.98, 1.0]})
    fig = fx.sli_trend(series, {"a": 0.995, "b": 0.99}, "UTC")
    lines = {t.name: t for t in fig.data}
    assert list(lines) == ["a", "a objective (99.5%)", "b", "b objective (99%)"]
    for sla, target in (("a", 0.995), ("b", 0.99)):
        objective = lines[f"{sla} objective ({fx.fmt_percent(target)})"]
        assert set(objective.y) == {target} and objective.line.dash == "dash"
        assert objective.line.color == lines[sla].line.color
    assert lines["a"].line.color != lines["b"].line.color


def test_objective_labels_are_never_drawn_on_the_plot_where_close_ones_overlap():
    series = pd.DataFrame({"sla": list("abcd"), "at_us": [T0] * 4, "sli": [0.99] * 4})
    fig = fx.sli_trend(series, {"a": 0.99, "b": 0.995, "c": 0.999, "d": 0.99}, "UTC")
    assert fig.layout.annotations == () and fig.layout.shapes == ()
    assert all(t.showlegend is not False for t in fig.data)


def test_breaches_are_drawn_per_team_in_severity_colours_until_closed_or_now():
    frame = pd.DataFrame({"team": ["sales", "platform"], "severity": ["critical", "warning"],
                          "opened_at_us": [T0, T0 + HOUR], "closed_at_us": [T0 + HOUR, None]})
    fig = fx.breach_timeline(frame, T0 + 5 * HOUR, "UTC")
    by_name = {t.name: t for t in fig.data}
    assert by_name["critical"].line.color == fx.SEVERITY_COLOURS["critical"]
    open_bar = by_name["warning"]
    assert list(open_bar.y[:2]) == ["platform", "platform"]
    assert open_bar.x[1] == pd.Timestamp(T0 + 5 * HOUR, unit="us", tz="UTC")


def test_the_funnel_shows_how_many_did_not_reach_each_stage_and_where_they_stopped():
    fig = fx.funnel(pd.DataFrame({"stage": ["a", "b", "c", "d"], "leads": [100, 90, 90, 80]}))
    stopped = {t.name: list(t.x) for t in fig.data}
    assert stopped == {"stopped at a": [0, 10, 10, 10], "stopped at c": [0, 0, 0, 10]}
    assert list(fig.layout.yaxis.categoryarray) == [
        "a (100 reached)", "b (90 reached)", "c (90 reached)", "d (80 reached)"]
    assert [a.text for a in fig.layout.annotations] == [
        "0 (0%) missed", "10 (10%) missed", "10 (10%) missed", "20 (20%) missed"]
    assert fig.layout.barmode == "stack" and "100%" not in str(fig.to_json())


def test_a_funnel_where_every_lead_reached_every_stage_has_no_drop_off_bars():
    fig = fx.funnel(pd.DataFrame({"stage": ["a", "b"], "leads": [5, 5]}))
    assert fig.data == () and [a.text for a in fig.layout.annotations] == [
        "0 (0%) missed", "0 (0%) missed"]


def test_stalls_stack_by_owner_in_stage_order():
    stalls = pd.DataFrame({"owner": ["Sales", "Sales", "Platform"],
                           "last_stage": ["crm.upserted", "crm.upserted", "bus.published"]})
    fig = fx.stalls_by_stage(stalls, ["form", "bus.published", "crm.upserted", "done"])
    assert {t.name: list(t.x) for t in fig.data} == {"Platform": [1], "Sales": [2]}
    assert list(fig.layout.yaxis.categoryarray) == ["form", "bus.published", "crm.upserted",
                                                    "done"]


@pytest.mark.parametrize("build", [
    pytest.param(lambda: fx.stalls_by_stage(pd.DataFrame({
        "owner": ["Sales"], "last_stage": ["enrichment.completed"]}),
        ["form.submitted", "enrichment.completed", "crm.assigned"]), id="stalls"),
    pytest.param(lambda: fx.funnel(pd.DataFrame({
        "stage": ["form.submitted", "enrichment.completed"], "leads": [9, 7]})), id="funnel"),
])
def test_stage_names_are_axis_labels_with_room_to_show_them_whole(build):
    fig = build()
    # stage names on the category axis, which grows its margin to fit them; the legend sits
    # below the value axis's title, not over its labels
    assert all(t.orientation == "h" for t in fig.data)
    assert fig.layout.yaxis.automargin is True and fig.layout.yaxis.type != "linear"
    assert fig.layout.xaxis.automargin is True
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0
    assert fig.layout.margin.b >= 60 + 22 * len(fig.data)


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
    (2 * 86400 + 4 * 3600, "2d 4h"), (None, "—"), (float("nan"), "—"),
    (-5, "0s"), (-0.4, "0s"), (-3 * 3600, "0s")])
def test_durations_read_as_the_two_largest_units_and_never_negative(seconds, text):
    assert fx.fmt_duration(seconds) == text


@pytest.mark.parametrize(("start", "end", "text"), [
    (T0, T0 + 90 * 1_000_000, "1m 30s"), (T0 + 5_000_000, T0, "0s"), (None, T0, "—"),
    (T0, float("nan"), "—")])
def test_elapsed_time_between_two_stored_times_is_never_negative(start, end, text):
    assert fx.fmt_elapsed(start, end) == text


def test_a_short_time_for_narrow_columns_is_in_the_viewers_zone():
    assert fx.fmt_short_time(T0, "UTC") == "Jan 01 00:00"
    assert fx.fmt_short_time(T0, "America/New_York") == "Dec 31 19:00"
    assert fx.fmt_short_time(None, "UTC") == "—"


def test_times_are_shown_in_the_viewers_time_zone():
    assert fx.fmt_time(T0, "UTC") == "2026-01-01 00:00 UTC"
    assert fx.fmt_time(T0, "America/New_York") == "2025-12-31 19:00 EST"
    assert fx.fmt_time(None, "UTC") == "—"


def test_every_status_has_a_colour_a_label_and_a_badge():
    assert set(fx.STATUS_COLOURS) == set(fx.STATUS_LABELS) == set(fx.STATUS_BADGE) == {
        "ok", "warning", "at_risk", "breached", "no_data"}


@pytest.mark.parametrize("sli", [None, float("nan")], ids=["none", "nan"])
@pytest.mark.parametrize(("sla", "window", "what"), [
    ("lead-routing-5m", "7d", "No data this week yet on whether qualified leads went from "
     "form.submitted to crm.assigned within 5 minutes; target 99%"),
    ("activation-events-fresh", "1d", "No data in the last 24 hours yet on whether minutes "
     "had a com.acme.product.activated event no older than 2 minutes; target 99.9%"),
])
def test_an_sla_with_no_sli_yet_says_no_data_in_words(sli, sla, window, what):
    slas = {s.name: s for s in load_folder("config").slas}
    assert words.sentence(slas[sla], sli) == what


def test_an_sla_reads_as_one_plain_sentence():
    slas = {s.name: s for s in load_folder("config").slas}
    assert words.sentence(slas["lead-routing-5m"], 0.987) == (
        "98.7% of qualified leads went from form.submitted to crm.assigned within 5 minutes "
        "this week; target 99%")
    assert words.sentence(slas["activation-events-fresh"], 0.9995).startswith(
        "100% of minutes had a com.acme.product.activated event no older than 2 minutes in "
        "the last 24 hours")
