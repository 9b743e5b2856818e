"""Scorecards (home): are we keeping our promises, and is it getting better?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import auth, data
from app import figures as fx
from collectors.store import now_us
from slas import words
from slas.errors import DefinitionError

PERIODS = {"24h": 1, "7d": 7, "30d": 30}

auth.page_user(__file__)
tz = st.session_state.get("tz", "UTC")
st.title("Scorecards")
st.caption("One card per team: are we keeping our promises? Every SLA, its error budget and "
           "its trend below.")

latest = data.latest_results()
if latest.empty:
    st.info(data.NO_DATA)
    st.stop()

try:
    definitions = data.definitions()
    specs = {s.name: s for s in definitions.slas}
    team_names = {key: team.name for key, team in definitions.teams.items()}
except DefinitionError as exc:
    st.warning(f"The SLA definitions have errors, so plain-words summaries are off:\n\n{exc}")
    specs, team_names = {}, {}

now = data.now_minute()
last = data.last_evaluated() or 0
ago = f"{fx.fmt_elapsed(last, now_us())} ago" if now_us() - last >= data.US else "just now"
if now - last > data.STALE_AFTER_US:
    st.error(f"Last evaluated {fx.fmt_time(last, tz)} ({ago}): evaluation has stopped. "
             "Start `baton serve`, or run `baton evaluate`.", icon=":material/timer_off:")
else:
    st.caption(f":green[Last evaluated {fx.fmt_time(last, tz)} ({ago})]")

left, right = st.columns(2)
teams = left.multiselect("Team", sorted(latest["team"].unique()), placeholder="All teams",
                         format_func=lambda t: team_names.get(t, t))
period = right.selectbox("Trend window", list(PERIODS), index=1,
                         help="How far back the trend and 'time in objective' look.")
shown = latest[latest["team"].isin(teams)] if teams else latest
trend = data.trend(now - PERIODS[period] * 86400 * data.US, now)
trend = trend[trend["sla"].isin(shown["sla"])]


def sentence(row: pd.Series) -> str:
    name = row["sla"] if "sla" in row else row.name
    spec = specs.get(name)
    if spec is None:
        return f"{name}: SLI {fx.fmt_percent(row['sli'])}; target " \
               f"{fx.fmt_percent(row['objective'])}"
    return words.sentence(spec, row["sli"])


st.subheader("Teams")
cards = data.latest_teams()  # the engine's roll-up, stored with each evaluation
cards = cards[cards["team"].isin(shown["team"]) & (cards["slas_total"] > 0)]
by_sla = shown.set_index("sla")
team_rows = list(cards.itertuples())
for start in range(0, len(team_rows), 4):
    for column, card in zip(st.columns(4), team_rows[start:start + 4], strict=False):
        with column.container(border=True):
            st.markdown(f"**{team_names.get(card.team, card.team)}** "
                        f":{fx.STATUS_BADGE[card.status]}-badge[{fx.STATUS_LABELS[card.status]}]")
            a, b = st.columns(2)
            a.metric("SLAs met", f"{card.slas_ok} / {card.slas_total}")
            budget = card.budget_remaining
            b.metric("Budget left", "Spent" if budget is not None and budget < 0
                     else fx.fmt_percent(budget, 1),
                     help="The lowest remaining error budget among the team's SLAs "
                     f"({fx.fmt_percent(budget, 0)}).")
            if card.worst_sla in by_sla.index:
                worst = by_sla.loc[card.worst_sla]
                st.caption(f"Worst: **{card.worst_sla}** — "
                           f"{sentence(worst.rename(card.worst_sla))}")

st.subheader("Every SLA")
sparks = trend.groupby("sla")["sli"].apply(lambda s: [float(v) for v in s.dropna()])
in_objective = 1 - trend.groupby("sla")["breached"].sum() / trend.groupby("sla")[
    "evaluations"].sum()
table = pd.DataFrame({
    "SLA": shown["sla"], "Team": shown["team"].map(lambda t: team_names.get(t, t)),
    "Status": shown["status"].map(fx.STATUS_LABELS), "SLI": shown["sli"] * 100,
    "Objective": shown["objective"] * 100,
    "Budget left": shown["budget_remaining"].clip(lower=0, upper=1) * 100,
    "Burn 1h": shown["burn_1h"], "Burn 6h": shown["burn_6h"],
    "Bad": shown["bad"], "Total": shown["total"],
    f"In objective ({period})": shown["sla"].map(in_objective) * 100,
    "Trend": shown["sla"].map(lambda n: sparks.get(n, [])),
    "p95": shown["p95_s"].map(fx.fmt_duration),
})
# widths that fit every column in a 1440-pixel-wide window beside the sidebar (no sideways
# scroll); long names wrap to "…" with the full text on hover
percent = {"format": "%.2f%%", "width": 62}
burn = {"format": "%.1f×", "width": 56}
st.dataframe(table, hide_index=True, width="stretch", column_config={
    "SLA": st.column_config.TextColumn(width=150),
    "Team": st.column_config.TextColumn(width=132),
    "Status": st.column_config.TextColumn(width=66),
    "SLI": st.column_config.NumberColumn(**percent),
    "Objective": st.column_config.NumberColumn("Target", format="%.2f%%", width=58),
    "Budget left": st.column_config.ProgressColumn(  # green when plenty is left, red when spent
        format="%.0f%%", min_value=0, max_value=100, color="auto", width=88),
    "Burn 1h": st.column_config.NumberColumn(**burn),
    "Burn 6h": st.column_config.NumberColumn(**burn),
    "Bad": st.column_config.NumberColumn(width=44, help="Bad journeys (or minutes) in the "
                                         "window"),
    "Total": st.column_config.NumberColumn(width=54, help="Journeys (or minutes) counted"),
    f"In objective ({period})": st.column_config.NumberColumn(
        f"Met ({period})", **percent,
        help="Share of stored evaluations in the window that met the objective."),
    "Trend": st.column_config.LineChartColumn(f"Trend ({period})", width=76),
    "p95": st.column_config.TextColumn("p95", width=58, help="p95 latency"),
})

if trend.empty:
    st.info(f"No evaluations in the last {period}; widen the trend window.")
else:
    objectives = dict(zip(shown["sla"], shown["objective"], strict=True))
    st.plotly_chart(fx.sli_trend(trend, objectives, tz), width="stretch")
