"""The Baton dashboard: `streamlit run app/ui.py` (or `baton ui`). The router, and nothing else.

Signs the viewer in (see `app.auth`), offers the time zone every page shows times in, and
routes to one module per page under `app/pages/`.
"""

from __future__ import annotations

from pathlib import Path
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


# (section, script, title, icon); the first page is the home page
PAGES = [
    ("Monitor", "pages/scorecards.py", "Scorecards", ":material/scoreboard:"),
    ("Monitor", "pages/breaches.py", "Breaches", ":material/warning:"),
    ("Monitor", "pages/journeys.py", "Journeys & stalls", ":material/route:"),
    ("Monitor", "pages/sources.py", "Sources", ":material/input:"),
    ("Configure", "pages/editor.py", "SLA editor", ":material/edit:"),
    ("Configure", "pages/history.py", "SLA history", ":material/history:"),
]


def signed_in_pages() -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    for number, (section, script, title, icon) in enumerate(PAGES):
        sections.setdefault(section, []).append(
            st.Page(script, title=title, icon=icon, default=number == 0))
    return sections


def signed_out_pages() -> list[st.Page]:
    """The sign-in form, also at every page's own URL: a link to a page opened while signed
    out shows the form (not "Page not found") and, once signed in, the page asked for (a
    page's identity is its URL path, which the rerun after signing in keeps)."""
    form = st.Page(auth.login_page, title="Sign in", icon=":material/login:", default=True)
    return [form, *(st.Page(auth.login_page, title="Sign in", url_path=Path(script).stem,
                            visibility="hidden") for _, script, _, _ in PAGES[1:])]


def main() -> None:
    st.set_page_config(page_title="Baton", page_icon=":material/sports_score:", layout="wide")
    try:
        user = auth.current_user()
    except auth.AuthError as exc:
        st.error(f"Sign-in is misconfigured: {exc}. Fix or remove the users file "
                 "(`baton users list` shows what it holds).")
        st.stop()
    if user is None:  # every URL leads to the sign-in form
        st.navigation(signed_out_pages(), position="hidden").run()
        return
    st.session_state[auth.SESSION_KEY] = user
    sections = signed_in_pages()
    page = st.navigation(sections)
    asked = st.query_params.pop(auth.RETURN_TO, None)
    for wanted in (p for pages in sections.values() for p in pages):
        if asked and wanted.url_path == asked and wanted.url_path != page.url_path:
            st.switch_page(wanted)
    sidebar(user)
    page.run()


main()
