"""Pure figure builders (plotly) and display helpers: status colours, times, durations, words.

Nothing here reads the store or knows Streamlit: each builder takes small pandas frames and
returns a `go.Figure`, so tests can call it directly. Times arrive as microseconds (UTC) and are
shown in the viewer's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from slas import words

STATUS_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "at_risk": "#ef6c00",
                  "breached": "#c62828", "no_data": "#9e9e9e"}
STATUS_LABELS = {"ok": "OK", "warning": "Warning", "at_risk": "At risk",
                 "breached": "Breached", "no_data": "No data"}
STATUS_BADGE = {"ok": "green", "warning": "yellow", "at_risk": "orange", "breached": "red",
                "no_data": "gray"}
SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
VERSION_COLOURS = {"current": "#607d8b", "edited": "#1565c0"}
SERIES_COLOURS = plotly.colors.qualitative.Plotly
US = 1_000_000


# --- times and durations ---

def local_time(us: int | float | None, tz: str) -> datetime | None:
    if us is None or pd.isna(us):
        return None
    return datetime.fromtimestamp(int(us) / US, UTC).astimezone(ZoneInfo(tz))


def fmt_time(us: int | float | None, tz: str, seconds: bool = False) -> str:
    moment = local_time(us, tz)
    shape = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return "—" if moment is None else moment.strftime(shape)


def fmt_short_time(us: int | float | None, tz: str) -> str:
    """`Dec 01 08:15`: a time for a narrow table column (whose header names the zone)."""
    moment = local_time(us, tz)
    return "—" if moment is None else moment.strftime("%b %d %H:%M")


def to_local(values: pd.Series, tz: str) -> pd.Series:
    """A column of microsecond times as tz-aware datetimes in `tz`."""
    return pd.to_datetime(values, unit="us", utc=True).dt.tz_convert(tz)


def fmt_duration(seconds: float | None) -> str:
    """`3h 12m`, `2d 4h`, `45s`: the two largest units; a dash when unknown."""
    if seconds is None or pd.isna(seconds):
        return "—"
    return words.duration_words(seconds)


def fmt_elapsed(start_us: int | float | None, end_us: int | float | None) -> str:
    """How long from `start_us` to `end_us`, never negative: a time stored by another host
    (the evaluator, a collector) can be a few seconds ahead of this one's clock."""
    if start_us is None or end_us is None or pd.isna(start_us) or pd.isna(end_us):
        return "—"
    return fmt_duration(max(float(end_us) - float(start_us), 0.0) / US)


def fmt_percent(value: float | None, digits: int = 2) -> str:
    """The phrase book's percentage, with the dashboard's dash when there is no value."""
    return words.percent(value, digits, missing="—")


# --- figures ---

def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def sli_trend(series: pd.DataFrame, objectives: dict[str, float], tz: str) -> go.Figure:
    """SLI over time per SLA (columns sla, at_us, sli), each objective as a dashed line in
    the SLA's colour, named in the legend (labels drawn on the plot overlap when objectives
    are close, as 99% and 99.5% are)."""
    fig = go.Figure()
    for number, (name, rows) in enumerate(series.groupby("sla", sort=True)):
        colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
        times = to_local(rows["at_us"], tz)
        fig.add_trace(go.Scatter(x=times, y=rows["sli"], name=str(name), mode="lines",
                                 line={"color": colour}, legendgroup=str(name)))
        if name in objectives:
            target = objectives[str(name)]
            fig.add_trace(go.Scatter(
                x=[times.min(), times.max()], y=[target, target], mode="lines",
                name=f"{name} objective ({fmt_percent(target)})", legendgroup=str(name),
                line={"color": colour, "dash": "dash", "width": 1},
                hovertemplate=f"{name} objective {fmt_percent(target)}<extra></extra>"))
    fig.update_yaxes(tickformat=".1%", title="SLI")
    return _layout(fig, "SLI over time")


def segments(frame: pd.DataFrame, start: str, end: str, tz: str) -> tuple[list, list]:
    """x/y lists drawing one horizontal segment per row (y = the `lane` column)."""
    xs: list = []
    ys: list = []
    starts, ends = to_local(frame[start], tz), to_local(frame[end], tz)
    for s, e, lane in zip(starts, ends, frame["lane"], strict=True):
        xs += [s, e, None]
        ys += [lane, lane, None]
    return xs, ys


def breach_timeline(breaches: pd.DataFrame, now_us: int, tz: str) -> go.Figure:
    """One lane per team; each breach is a bar from opened to closed (or now), by severity."""
    fig = go.Figure()
    frame = breaches.assign(lane=breaches["team"],
                            end_us=breaches["closed_at_us"].fillna(now_us).astype("int64"))
    for severity, rows in frame.groupby("severity", sort=True):
        xs, ys = segments(rows, "opened_at_us", "end_us", tz)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=str(severity),
                                 line={"width": 14, "color": SEVERITY_COLOURS.get(
                                     str(severity), "#616161")}))
    fig.update_yaxes(type="category", title=None)
    return _layout(fig, "Breaches per team", height=120 + 40 * frame["lane"].nunique())


def funnel(counts: pd.DataFrame) -> go.Figure:
    """The drop-off of a journey (columns stage, leads: how many reached each stage, in
    journey order): per stage, how many leads did *not* reach it, stacked by the stage
    where they stopped (those that reached one stage but not the next stopped there)."""
    stages, reached = list(counts["stage"]), [int(v) for v in counts["leads"]]
    stopped = [max(a - b, 0) for a, b in zip(reached, reached[1:], strict=False)]
    missed = [sum(stopped[:j]) for j in range(len(stages))]
    labels = [f"{stage} ({n:,} reached)" for stage, n in zip(stages, reached, strict=True)]
    fig = go.Figure()
    for i, count in enumerate(stopped):
        if count:
            fig.add_trace(go.Bar(y=labels, x=[count if j > i else 0 for j in range(len(labels))],
                                 orientation="h", name=f"stopped at {stages[i]}",
                                 hovertemplate=f"%{{x:,}} stopped at {stages[i]}<extra></extra>"))
    for label, count in zip(labels, missed, strict=True):
        share = fmt_percent(count / reached[0], 1) if reached[0] else "—"
        fig.add_annotation(y=label, x=count, text=f"{count:,} ({share}) missed",
                           showarrow=False, xanchor="left", xshift=4)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed",
                     automargin=True)
    fig.update_xaxes(title="leads that did not reach the stage",
                     range=[0, max(max(missed) * 2.0, 1)])
    return _bars_layout(fig, f"Where the {reached[0]:,} leads that started dropped off",
                        len(stages), max(missed))


def stalls_by_stage(stalls: pd.DataFrame, stages: Sequence[str]) -> go.Figure:
    """Stalled leads per stage (one horizontal bar per stage, in journey order, top down, so
    long stage names read in full), stacked by the accountable owner."""
    fig = go.Figure()
    grouped = stalls.groupby(["owner", "last_stage"]).size().rename("leads").reset_index()
    for owner, rows in grouped.groupby("owner", sort=True):
        fig.add_trace(go.Bar(y=rows["last_stage"], x=rows["leads"], name=str(owner),
                             orientation="h"))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=list(stages), autorange="reversed",
                     title="stalled after", automargin=True)
    fig.update_xaxes(title="leads")
    most = int(grouped.groupby("last_stage")["leads"].sum().max()) if len(grouped) else 0
    return _bars_layout(fig, "Stalled leads by stage and accountable team", len(stages), most)


def _bars_layout(fig: go.Figure, title: str, rows: int, most: int) -> go.Figure:
    """Horizontal bars, one per stage: every label in full (automargin), the legend at the
    bottom of the figure under the axis title (where `_layout` puts it, it covered the axis
    labels), whole-number ticks for small counts."""
    legend_rows = len(fig.data)  # one entry a row: half the page is narrow
    _layout(fig, title, height=160 + 36 * rows + 22 * legend_rows)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 60 + 22 * legend_rows},
                      legend={"orientation": "h", "xref": "container", "x": 0,
                              "yref": "container", "y": 0, "yanchor": "bottom"})
    fig.update_xaxes(automargin=True, rangemode="tozero", dtick=1 if most <= 8 else None)
    return fig


def latency_histogram(seconds: pd.Series, threshold_s: float | None, title: str) -> go.Figure:
    """Distribution of stage-to-stage latencies with the SLA threshold as a red line."""
    fig = go.Figure(go.Histogram(x=seconds, nbinsx=60, name="leads", marker_color="#1565c0"))
    if threshold_s is not None:
        fig.add_vline(x=threshold_s, line_color=STATUS_COLOURS["breached"], line_dash="dash",
                      annotation_text=f"threshold {fmt_duration(threshold_s)}")
    fig.update_xaxes(title="seconds", type="log" if _wide(seconds) else "linear")
    fig.update_yaxes(title="leads")
    return _layout(fig, title)


def _wide(seconds: pd.Series) -> bool:
    positive = seconds[seconds > 0]
    return bool(len(positive)) and positive.max() > 100 * max(positive.median(), 1e-3)


def lead_gantt(stages: pd.DataFrame, spans: pd.DataFrame, stall: dict | None, at_us: int,
               tz: str) -> go.Figure:
    """A lead's stages (columns name, owner, first_us) as bars from each stage to the next,
    spans as thin bars, and the stall as a red bar up to `at_us`."""
    fig = go.Figure()
    reached = stages.dropna(subset=["first_us"]).reset_index(drop=True)
    if len(reached):
        ends = list(reached["first_us"].iloc[1:]) + [reached["first_us"].iloc[-1]]
        frame = reached.assign(lane=reached["name"], end_us=ends)
        xs, ys = segments(frame, "first_us", "end_us", tz)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="time to next stage",
                                 line={"width": 14, "color": "#1565c0"}))
        fig.add_trace(go.Scatter(x=to_local(frame["first_us"], tz), y=frame["name"],
                                 mode="markers", name="stage reached",
                                 text=frame["owner"], marker={"size": 10, "color": "#0d47a1"}))
    if len(spans):
        frame = spans.assign(lane="span: " + spans["name"].astype(str))
        xs, ys = segments(frame, "start_us", "end_us", tz)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="spans",
                                 line={"width": 6, "color": "#8e24aa"}))
    if stall is not None:
        frame = pd.DataFrame([{"lane": f"waiting for {stall['next_stage']}",
                               "start": stall["last_at_us"], "end": at_us}])
        xs, ys = segments(frame, "start", "end", tz)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="stalled",
                                 line={"width": 14, "color": STATUS_COLOURS["breached"]}))
    fig.update_yaxes(type="category", autorange="reversed", title=None)
    return _layout(fig, "Lead timeline", height=200 + 32 * len(stages))


def ingest_rate(runs: pd.DataFrame, tz: str) -> go.Figure:
    """Records accepted per hour by source (columns hour_us, source, accepted, rejected)."""
    fig = go.Figure()
    for source, rows in runs.groupby("source", sort=True):
        fig.add_trace(go.Bar(x=to_local(rows["hour_us"], tz), y=rows["accepted"],
                             name=str(source), width=3_600_000, offset=0))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="records accepted per hour")
    return _layout(fig, "Ingest rate")


def dry_run_chart(points: pd.DataFrame, objective: dict[str, float], tz: str) -> go.Figure:
    """Current vs edited SLI of one SLA over time (columns at_us, version, sli)."""
    fig = go.Figure()
    for version, rows in points.groupby("version", sort=True):
        fig.add_trace(go.Scatter(x=to_local(rows["at_us"], tz), y=rows["sli"], name=str(version),
                                 mode="lines+markers", line={"color": VERSION_COLOURS.get(
                                     str(version), "#616161")}))
    if len(set(objective.values())) == 1:  # one line when the edit kept the objective
        objective = {"same": next(iter(objective.values()))}
    for version, value in objective.items():
        fig.add_hline(y=value, line_dash="dash", line_color=VERSION_COLOURS.get(version, "#616161"),
                      annotation_text="objective" if version == "same" else f"{version} objective")
    fig.update_yaxes(tickformat=".1%", title="SLI")
    return _layout(fig, "Dry run: SLI over the stored history")
