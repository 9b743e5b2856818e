"""Journeys & stalls: how far leads get, where they are stuck now, who owns it, and one
lead's timeline (the same data as `baton lead KEY`)."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from app import auth, data
from app import figures as fx
from slas.errors import DefinitionError, EvaluationError
from slas.spec import CompletenessSla, LatencySla

PERIODS = {"24h": 1, "7d": 7, "30d": 30}

user = auth.page_user(__file__)
tz = st.session_state.get("tz", "UTC")
st.title("Journeys & stalls")
st.caption("Which leads are stuck right now, at which stage, and which team owns the next step.")

try:
    definitions = data.definitions()
except DefinitionError as exc:
    st.error(f"The SLA definitions have errors; fix them in the SLA editor:\n\n{exc}")
    st.stop()
if not definitions.journeys:
    st.info("No journeys are defined; add one to config/slas/*.yaml (see the SLA editor).")
    st.stop()
team_names = {k: t.name for k, t in definitions.teams.items()}

now = data.now_minute()
left, right = st.columns(2)
journey = left.selectbox("Journey", list(definitions.journeys))
period = right.selectbox("Period", list(PERIODS), index=1,
                         help="Funnel and latencies count the journeys of this period.")
since = now - PERIODS[period] * 86400 * data.US
stages = [s.name for s in definitions.journeys[journey].stages]

counts = data.funnel(journey, stages, since, now)
if counts["leads"].sum() == 0:
    st.info(f"No {journey} journeys started in the last {period}. {data.NO_DATA}")
    st.stop()

report = data.stalls(journey, now)
stuck = data.stalls_frame(report)
a, b, c = st.columns(3)
a.metric(f"Started ({period})", f"{int(counts['leads'].iloc[0]):,}")
b.metric(f"Completed ({period})", f"{int(counts['leads'].iloc[-1]):,}")
c.metric("Stalled now (7d)", f"{len(stuck):,}",
         help="Journeys started in the last 7 days that wait longer than the next stage's "
              "stall_after (default 15m).")
funnel_col, stall_col = st.columns(2)
funnel_col.plotly_chart(fx.funnel(counts), width="stretch")
funnel_col.caption("Leads counted per stage over the period: a lead still on its way counts as "
                   "stopped where it is now.")
if stuck.empty:
    stall_col.success("No stalled leads right now.")
else:
    named = stuck.assign(owner=stuck["owner"].map(lambda t: team_names.get(t, t)))
    stall_col.plotly_chart(fx.stalls_by_stage(named, stages), width="stretch")

st.subheader("Stage-to-stage latency")
hops: dict[str, tuple[str, str, float | None, str | None]] = {}
for sla in definitions.slas:
    if isinstance(sla, LatencySla | CompletenessSla) and sla.journey == journey:
        limit = sla.threshold if isinstance(sla, LatencySla) else sla.within
        hops[f"{sla.name}: {sla.from_} → {sla.to}"] = (sla.from_, sla.to, float(limit),
                                                        sla.name)
for first, second in zip(stages, stages[1:], strict=False):
    hops[f"{first} → {second}"] = (first, second, None, None)
hop = st.selectbox("Hop", list(hops), help="An SLA's hop counts the journeys its `where` "
                   "selects and draws its threshold in red.")
start, end, threshold, sla_name = hops[hop]
seconds = data.latencies(journey, start, end, since, now, sla=sla_name)
if seconds.empty:
    st.info(f"No journeys reached {end} from {start} in the last {period}.")
else:
    over = (seconds > threshold).mean() if threshold else None
    st.plotly_chart(fx.latency_histogram(seconds, threshold, hop), width="stretch")
    st.caption(f"{len(seconds):,} newest journeys; median {fx.fmt_duration(seconds.median())}, p95 "
               f"{fx.fmt_duration(seconds.quantile(0.95))}"
               + (f"; {fx.fmt_percent(over)} over the threshold" if over is not None else ""))

st.subheader("Stuck leads")
search, stage_pick, owner_pick = st.columns(3)
query = search.text_input("Search lead key", placeholder="e.g. L-0000123")
at_stage = stage_pick.multiselect("Stalled after", stages[:-1], placeholder="Any stage")
owners = owner_pick.multiselect("Accountable team", sorted(stuck["owner"].unique()),
                                placeholder="Any team", format_func=lambda t: team_names.get(t, t))
shown = stuck
if query:
    shown = shown[shown["key"].str.contains(query.strip(), case=False, regex=False)]
if at_stage:
    shown = shown[shown["last_stage"].isin(at_stage)]
if owners:
    shown = shown[shown["owner"].isin(owners)]
table = pd.DataFrame({
    "Lead": shown["key"].map(user.show), "Stalled after": shown["last_stage"],
    "Since": shown["last_at_us"].map(lambda v: fx.fmt_time(v, tz)),
    "Waiting for": shown["next_stage"],
    "Accountable": shown["owner"].map(lambda t: team_names.get(t, t)),
    "Stalled for": shown["stalled_for_s"].map(fx.fmt_duration),
})
picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                      selection_mode="single-row", key="stuck")
st.caption(f"{len(shown):,} of {len(stuck):,} stalled leads. Select a row to open its timeline.")
rows = picked.selection.rows if picked is not None else []
chosen = str(shown["key"].iloc[rows[0]]) if rows else ""
chosen_shown = user.show(chosen) or ""

st.subheader("Lead timeline")
# the widget key names the lead without showing it (Streamlit puts keys in the page)
typed = st.text_input("Lead key", value=chosen_shown,
                      key=f"lead-{hashlib.sha256(chosen.encode()).hexdigest()[:16]}",
                      help="Any lead, stalled or not.").strip()
key = chosen if chosen and typed == chosen_shown else typed
if not key:
    st.caption("Select a stuck lead above or type a lead key to see its timeline.")
    st.stop()
try:
    timeline = data.timeline(key, journey, now)
except EvaluationError as exc:
    st.warning(user.show(str(exc)))
    st.stop()
if timeline.stall is not None:
    s = timeline.stall
    st.error(f"**{user.show(key)}** stalled after **{s.last_stage}** for "
             f"{fx.fmt_duration(s.stalled_for_s)}; waiting for **{s.next_stage}**, owned by "
             f"**{team_names.get(s.owner, s.owner)}**.")
elif timeline.stages[-1].first_us is not None:
    st.success(f"**{user.show(key)}** completed the {journey} journey.")
else:
    st.info(f"**{user.show(key)}** is on its way (not stalled yet).")
stage_frame = pd.DataFrame([{"name": s.name, "owner": team_names.get(s.owner, s.owner),
                             "first_us": s.first_us, "attempts": s.attempts}
                            for s in timeline.stages])
span_frame = pd.DataFrame(timeline.spans, columns=["name", "start_us", "end_us", "service"])
span_frame["name"] = span_frame["name"].map(user.show)
stall = None if timeline.stall is None else {"next_stage": timeline.stall.next_stage,
                                             "last_at_us": timeline.stall.last_at_us}
st.plotly_chart(fx.lead_gantt(stage_frame, span_frame, stall, now, tz), width="stretch")
st.dataframe(pd.DataFrame({
    "Stage": stage_frame["name"], "Owner": stage_frame["owner"],
    "Reached": stage_frame["first_us"].map(lambda v: fx.fmt_time(v, tz, seconds=True)),
    "Records": stage_frame["attempts"]}), hide_index=True, width="stretch")
with st.expander(f"Records ({len(timeline.events)}) and spans ({len(timeline.spans)})"):
    st.dataframe(pd.DataFrame([{
        "Time": fx.fmt_time(e["time_us"], tz, seconds=True), "Type": e["type"],
        "Source": user.show(e["source"]), "Id": user.show(e["event_id"]),
        "Subject": user.show(e["subject"]), "Data": user.show(e["data"])}
        for e in timeline.events]),
        hide_index=True, width="stretch")
    if timeline.spans:
        st.dataframe(pd.DataFrame([{
            "Span": user.show(sp["name"]), "Service": user.show(sp["service"]),
            "Start": fx.fmt_time(sp["start_us"], tz, seconds=True), "Duration": fx.fmt_duration(
                (sp["end_us"] - sp["start_us"]) / 1e6), "Status": sp["status_code"]}
            for sp in timeline.spans]), hide_index=True, width="stretch")
