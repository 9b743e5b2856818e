"""Sources: is every collector delivering, how fresh is its data, and what was rejected."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import auth, data
from app import figures as fx
from collectors.store import now_us
from slas.errors import DefinitionError
from slas.spec import FreshnessSla

PERIODS = {"24h": 1, "7d": 7, "30d": 30}
PAGE_SIZE = 50

user = auth.page_user(__file__)
tz = st.session_state.get("tz", "UTC")
st.title("Sources")
st.caption("Per collector: last success, freshness, lag, ingest rate, errors, and every "
           "rejected record with its reason.")

now = data.now_minute()
sources = data.sources()
if sources.empty:
    st.info(data.NO_DATA)
    st.stop()


def age(us: float | None) -> str:
    return fx.fmt_elapsed(us, now_us())


def total(row: pd.Series, name: str) -> int:
    values = [row.get(name), row.get(f"run_{name}")]
    return int(max((v for v in values if v is not None and not pd.isna(v)), default=0))


last_ok = sources["last_success_us"].combine_first(sources["last_run_us"])
st.dataframe(pd.DataFrame({
    "Source": sources["source"].map(user.show),
    "Kind": sources["kind"].fillna(sources["format"]),
    "Last success": last_ok.map(lambda v: fx.fmt_time(v, tz)),
    "Since": last_ok.map(age),
    "Freshness": sources["newest_event_us"].map(age),
    "Lag": sources["lag_s"].map(fx.fmt_duration),
    "Accepted": [total(r, "accepted") for _, r in sources.iterrows()],
    "Duplicates": [total(r, "duplicate") for _, r in sources.iterrows()],
    "Rejected": [total(r, "rejected") for _, r in sources.iterrows()],
    "Last error": sources["last_error"].fillna("").map(user.show),
}), hide_index=True, width="stretch", column_config={
    "Freshness": st.column_config.TextColumn(help="Age of the newest record collected."),
    "Lag": st.column_config.TextColumn(help="How far behind the collector was when it last "
                                       "ran (now minus its newest record)."),
})
errors = sources.dropna(subset=["last_error"]) if "last_error" in sources else sources[:0]
for _, row in errors.iterrows():
    st.error(f"**{user.show(row['source'])}** failed {fx.fmt_time(row['last_error_us'], tz)}: "
             f"{user.show(row['last_error'])}")

st.subheader("Freshness by event type")
try:
    definitions = data.definitions()
    types = [t for j in definitions.journeys.values() for s in j.stages for t in s.on]
    types += [t for s in definitions.slas if isinstance(s, FreshnessSla) for t in s.type]
except DefinitionError:
    types = []
newest = data.newest_by_type(list(dict.fromkeys(types)))
st.dataframe(pd.DataFrame({
    "Event type": newest["type"],
    "Newest record": newest["newest_us"].map(lambda v: fx.fmt_time(v, tz)),
    "Age": newest["newest_us"].map(age)}), hide_index=True, width="stretch")

st.subheader("Ingest rate")
period = st.selectbox("Period", list(PERIODS), index=1)
rate = data.ingest_rate(now - PERIODS[period] * 86400 * data.US)
if rate.empty:
    st.caption(f"No ingest runs in the last {period}.")
else:
    st.plotly_chart(fx.ingest_rate(rate.assign(source=rate["source"].map(user.show)), tz),
                    width="stretch")

st.subheader("Rejected records")
reasons = data.reject_reasons()
if reasons.empty:
    st.success("No rejected records.", icon=":material/check_circle:")
    st.stop()
st.dataframe(pd.DataFrame({"Source": reasons["source"].map(user.show),
                           "Reason": reasons["reason"].map(user.show),
                           "Records": reasons["records"]}), hide_index=True, width="stretch")
left, right = st.columns(2)
source = left.selectbox("Source", ["All sources", *sorted(reasons["source"].unique())],
                        format_func=user.show)
page_rows, count = data.rejects_page(None if source == "All sources" else source, 0, 1)
pages = max((count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
page = right.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1)
page_rows, count = data.rejects_page(None if source == "All sources" else source, page - 1,
                                     PAGE_SIZE)
st.dataframe(pd.DataFrame({
    "Id": page_rows["id"], "Source": page_rows["source"].map(user.show),
    "Format": page_rows["format"],
    "Where": page_rows["location"].map(user.show), "Reason": page_rows["reason"].map(user.show),
    "Received": page_rows["received_us"].map(lambda v: fx.fmt_time(v, tz)),
}), hide_index=True, width="stretch")
st.caption(f"{count:,} rejected record(s); page {page} of {pages}, newest first.")
pick = st.selectbox("Show the raw payload of", page_rows["id"].tolist(),
                    format_func=lambda i: f"#{i}")
if pick is not None:
    st.code(user.show(data.reject_raw(int(pick))) or "", language="json", wrap_lines=True)
if not user.sees_personal_data:
    st.caption(f"Personal fields (e-mail, phone, names, ...) are masked for the {user.role} "
               "role; operators and editors see payloads as stored.")
