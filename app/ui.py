"""The Baton dashboard: `streamlit run app/ui.py` (or `baton ui`). The router, and nothing else.

Signs the viewer in (see `app.auth`), offers the time zone every page shows times in, and
routes to one module per page under `app/pages/`.
"""

from __future__ import annotations

from zoneinfo import available_timezones

import streamlit as st

from app import auth

COMMON_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York",
                "America/Chicago", "America/Los_Angeles", "Asia/Singapore", "Asia/Tokyo",
                "Australia/Sydney"]


def time_zones() -> list[str]:
    browser = st.context.timezone
    first = [z for z in [browser, *COMMON_ZONES] if z]
    rest = sorted(available_timezones() - set(first))
    return list(dict.fromkeys(first + rest))


def sidebar(user: auth.User) -> None:
    with st.sidebar:
        st.selectbox("Time zone", time_zones(), key="tz",
                     help="Every time on every page is shown in this zone.")
        if user.via == "anonymous":
            st.caption("Signed out: read-only. Editors sign in once users exist "
                       "(`baton users add NAME --role editor`).")
        else:
            st.caption(f"Signed in as **{user.name}** ({user.role})")
            if st.button("Sign out"):
                auth.sign_out(user)
                st.rerun()


def main() -> None:
    st.set_page_config(page_title="Baton", page_icon=":material/sports_score:", layout="wide")
    try:
        user = auth.current_user()
    except auth.AuthError as exc:
        st.error(f"Sign-in is misconfigured: {exc}. Fix or remove the users file "
                 "(`baton users list` shows what it holds).")
        st.stop()
    if user is None:  # every URL leads to the sign-in page
        st.navigation([st.Page(auth.login_page, title="Sign in", icon=":material/login:")],
                      position="hidden").run()
        return
    st.session_state[auth.SESSION_KEY] = user
    pages = {
        "Monitor": [
            st.Page("pages/scorecards.py", title="Scorecards", icon=":material/scoreboard:",
                    default=True),
            st.Page("pages/breaches.py", title="Breaches", icon=":material/warning:"),
            st.Page("pages/journeys.py", title="Journeys & stalls", icon=":material/route:"),
            st.Page("pages/sources.py", title="Sources", icon=":material/input:"),
        ],
        "Configure": [
            st.Page("pages/editor.py", title="SLA editor", icon=":material/edit:"),
            st.Page("pages/history.py", title="SLA history", icon=":material/history:"),
        ],
    }
    page = st.navigation(pages)
    sidebar(user)
    page.run()


main()
