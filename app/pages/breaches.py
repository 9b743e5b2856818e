"""Breaches: what is breaching, since when, who owns it, and where the bad journeys stalled."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import alert_views, auth, data
from app import figures as fx
from collectors.store import now_us
from slas.errors import DefinitionError

PERIODS = {"24h": 1, "7d": 7, "30d": 30}

user = auth.page_user(__file__)
tz = st.session_state.get("tz", "UTC")
st.title("Breaches")
st.caption("Open and recent SLA breaches: owner, duration, worst SLI and the stage where the "
           "bad journeys stalled (with the team accountable for the next stage); the alerts "
           "they raised and where each notification went; silences.")

now = data.now_minute()
left, middle, right = st.columns(3)
period = left.selectbox("Period", list(PERIODS), index=1,
                        help="Breaches open at any time in this period are listed.")
rows = data.breach_rows(now - PERIODS[period] * 86400 * data.US)
if data.last_evaluated() is None:
    st.info(data.NO_DATA)
    st.stop()
try:
    team_names = {k: t.name for k, t in data.definitions().teams.items()}
    sla_names = [sla.name for sla in data.definitions().slas]
except DefinitionError:
    team_names, sla_names = {}, []
teams = middle.multiselect("Team", sorted(rows["team"].unique()), placeholder="All teams",
                           format_func=lambda t: team_names.get(t, t))
open_only = right.toggle("Open breaches only")
if teams:
    rows = rows[rows["team"].isin(teams)]
if open_only:
    rows = rows[rows["closed_at_us"].isna()]

open_rows = rows[rows["closed_at_us"].isna()]
a, b, c = st.columns(3)
a.metric("Open now", len(open_rows))
b.metric(f"Breaches in {period}", len(rows))
c.metric("Teams affected", rows["team"].nunique())
if rows.empty:
    st.success(f"No breaches in the last {period}.", icon=":material/check_circle:")
    alert_views.alerts_section(user, tz, team_names, teams)
    alert_views.silences_section(user, tz, sla_names, sorted(team_names), team_names)
    st.stop()

clock = now_us()  # durations by the clock, not by the minute the cached reads are keyed on
end = rows["closed_at_us"].fillna(clock)
table = pd.DataFrame({
    "SLA": rows["sla"], "Owner": rows["team"].map(lambda t: team_names.get(t, t)),
    "Severity": rows["severity"],
    "Opened": rows["opened_at_us"].map(lambda v: fx.fmt_short_time(v, tz)),
    "Closed": rows["closed_at_us"].map(lambda v: "open" if pd.isna(v) else fx.fmt_short_time(
        v, tz)),
    "Duration": [fx.fmt_elapsed(a, b) for a, b in zip(rows["opened_at_us"], end, strict=True)],
    "Worst SLI": rows["worst_sli"] * 100,
    "Stalled at": rows["stalled_stage"].fillna("—"),
    "Accountable": rows["stalled_owner"].map(
        lambda t: team_names.get(t, t) if isinstance(t, str) else "—"),
    "Stalled leads": rows["stalled_count"],
})
# widths that fit every column in a 1440-pixel-wide window beside the sidebar (no sideways
# scroll); times are short, their zone is in the header's help
st.dataframe(table, hide_index=True, width="stretch", column_config={
    "SLA": st.column_config.TextColumn(width=150),
    "Owner": st.column_config.TextColumn(width=132),
    "Severity": st.column_config.TextColumn(width=64),
    "Opened": st.column_config.TextColumn(width=96, help=f"Time in {tz}."),
    "Closed": st.column_config.TextColumn(width=96, help=f"Time in {tz}; open: still "
                                          "breaching."),
    "Duration": st.column_config.TextColumn(width=70),
    "Worst SLI": st.column_config.NumberColumn(format="%.2f%%", width=72),
    "Stalled at": st.column_config.TextColumn(
        width=124, help="The stage the SLA's bad journeys most often stopped at when it opened."),
    "Accountable": st.column_config.TextColumn(
        width=112, help="Owner of the stage after 'Stalled at'."),
    "Stalled leads": st.column_config.NumberColumn("Leads", width=50,
                                                   help="Bad journeys stalled there."),
})
for _, row in open_rows.iterrows():
    owner = team_names.get(row["team"], row["team"])
    where = (f"; bad journeys stalled at **{row['stalled_stage']}** (next stage owned by "
             f"{team_names.get(row['stalled_owner'], row['stalled_owner'])})"
             if isinstance(row["stalled_stage"], str) else "")
    st.error(f"**{row['sla']}** ({owner}, {row['severity']}) breached since "
             f"{fx.fmt_time(row['opened_at_us'], tz)} — "
             f"{fx.fmt_elapsed(row['opened_at_us'], clock)}; worst SLI "
             f"{fx.fmt_percent(row['worst_sli'])}{where}.")
st.plotly_chart(fx.breach_timeline(rows.assign(team=rows["team"].map(
    lambda t: team_names.get(t, t))), max(clock, int(rows["opened_at_us"].max())), tz),
    width="stretch")
alert_views.alerts_section(user, tz, team_names, teams)
alert_views.silences_section(user, tz, sla_names, sorted(team_names), team_names)
