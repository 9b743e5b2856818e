"""The Breaches page's alert sections: each alert with its notifications (sent / pending /
failed, attempts, last error), the silences, and an editor's form to silence or end one.

Reads come from `app.data`; the two writes (adding and ending a silence) go through
`slas.silences`, audited with the signed-in user's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from app import auth, data
from app import figures as fx
from collectors.store import now_us
from slas.errors import SlaError
from slas.silences import Silence, add_silence, end_silence
from slas.spec import RULES

STATE_ICONS = {"firing": "🔴", "silenced": "🔕", "resolved": "✅"}
SILENCE_FOR = {"1 hour": 1, "2 hours": 2, "4 hours": 4, "8 hours": 8, "1 day": 24,
               "3 days": 72}


def alerts_section(user: auth.User, tz: str, team_names: dict[str, str],
                   teams: Sequence[str]) -> None:
    st.subheader("Alerts")
    episodes = [e for e in data.alerts() if not teams or e["team"] in teams]
    if not episodes:
        st.caption("No alerts yet: `baton serve` decides them after every evaluation "
                   "(or `baton alerts run`), and routes them by config/alerts.yaml.")
        return
    st.dataframe(_alerts_table(episodes, tz, team_names), hide_index=True, width="stretch",
                 column_config={"Subject": st.column_config.TextColumn(width=170),
                                "Summary": st.column_config.TextColumn(width=360)})
    for episode in episodes:
        if not episode["notifications"]:
            continue
        label = (f"{STATE_ICONS.get(episode['state'], '')} {episode['alertname']} · "
                 f"{_subject(episode)} — notifications")
        with st.expander(label):
            st.dataframe(_notifications(episode, tz, user), hide_index=True, width="stretch")


def _alerts_table(episodes: list[dict[str, Any]], tz: str, team_names: dict[str, str]
                  ) -> pd.DataFrame:
    clock = now_us()
    return pd.DataFrame([{
        "State": f"{STATE_ICONS.get(e['state'], '')} {e['state']}",
        "Alert": e["alertname"] + (f" ({e['labels']['window']})" if e["labels"].get("window")
                                   else ""),
        "Subject": _subject(e), "Team": team_names.get(e["team"], e["team"] or "—"),
        "Severity": e["severity"], "Since": fx.fmt_short_time(e["since_us"], tz),
        "For": fx.fmt_elapsed(e["since_us"], e["ended_us"] or clock),
        "Summary": e["summary"],
        "Sent": sum(n["state"] == "sent" for n in e["notifications"]),
        "Pending": sum(n["state"] == "pending" for n in e["notifications"]),
        "Failed": sum(n["state"] == "failed" for n in e["notifications"]),
    } for e in episodes])


def _subject(episode: dict[str, Any]) -> str:
    labels = episode["labels"]
    if labels.get("sla"):
        return str(labels["sla"])
    if labels.get("journey"):
        return f"{labels['journey']} at {labels.get('stage')}"
    return str(labels.get("source") or episode["key"])


def _notifications(episode: dict[str, Any], tz: str, user: auth.User) -> pd.DataFrame:
    return pd.DataFrame([{
        "Target": n["target"], "Action": n["action"], "Why": n["reason"], "State": n["state"],
        "Attempts": n["attempts"], "Sent": fx.fmt_time(n["sent_us"], tz, seconds=True),
        "Last error": user.show(n["last_error"]) or "",
    } for n in episode["notifications"]])


def silences_section(user: auth.User, tz: str, slas: list[str], teams: list[str],
                     team_names: dict[str, str]) -> None:
    st.subheader("Silences")
    clock = now_us()
    active = [s for s in data.silences() if s.active(clock)]
    if active:
        for silence in active:
            _silence_row(silence, user, tz, clock)
    else:
        st.caption("No active silence. A silenced alert is recorded but not sent.")
    if user.can_edit:
        _silence_form(user, slas, teams, team_names)
    ended = [s for s in data.silences() if not s.active(clock)]
    if ended:
        with st.expander(f"Ended silences ({len(ended)})"):
            st.dataframe(pd.DataFrame([{
                "What": _matchers(s), "From": fx.fmt_time(s.starts_us, tz),
                "To": fx.fmt_time(min(s.ends_us, s.ended_us or s.ends_us), tz),
                "By": s.created_by, "Ended by": s.ended_by or "—", "Why": s.reason,
            } for s in ended]), hide_index=True, width="stretch")


def _silence_row(silence: Silence, user: auth.User, tz: str, clock: int) -> None:
    left, right = st.columns([5, 1])
    left.info(f"🔕 **{_matchers(silence)}** until {fx.fmt_time(silence.ends_us, tz)} "
              f"({fx.fmt_elapsed(clock, silence.ends_us)} left) — by {silence.created_by}: "
              f"{silence.reason}")
    if user.can_edit and right.button("End", key=f"end-silence-{silence.id}"):
        try:
            end_silence(data.store(), silence.id, user.name)
        except SlaError as exc:
            st.error(str(exc))
        else:
            data.clear()
            st.rerun()


def _silence_form(user: auth.User, slas: list[str], teams: list[str],
                  team_names: dict[str, str]) -> None:
    with st.form("silence", clear_on_submit=True):
        st.markdown("**Silence alerts** (every filter you fill must match)")
        a, b, c = st.columns(3)
        picked_slas = a.multiselect("SLA", slas)
        picked_teams = b.multiselect("Team", teams, format_func=lambda t: team_names.get(t, t))
        picked_rules = c.multiselect("Alert", list(RULES))
        hours = SILENCE_FOR[st.selectbox("For", list(SILENCE_FOR), index=1)]
        reason = st.text_input("Why", placeholder="e.g. CRM migration tonight")
        if st.form_submit_button("Silence", type="primary"):
            try:
                add_silence(data.store(), {"sla": picked_slas, "team": picked_teams,
                                           "alertname": picked_rules},
                            now_us() + hours * 3600 * 1_000_000, reason, user.name)
            except SlaError as exc:
                st.error(str(exc))
            else:
                data.clear()
                st.rerun()


def _matchers(silence: Silence) -> str:
    return "; ".join(f"{kind} {', '.join(values)}" for kind, values in silence.matchers.items())
