"""OIDC sign-in (`st.login`) end to end: a real OpenID provider on loopback
(oidc-provider-mock: discovery, authorization form, token endpoint, signed ID tokens), a real
`baton ui` configured for it through `.streamlit/secrets.toml`, and headless Chromium going
through the redirects. The role comes from the users file by verified e-mail address (or
subject); anyone else, and anyone whose address is not verified, is a viewer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import (  # noqa: F401  (browser: the shared Chromium fixture)
    ARTIFACTS,
    CHROMIUM,
    browser,
    free_port,
    open_page,
    serving_ui,
    settle,
)
from test_ui_support import copy_config, populate

from app.auth import add_user
from collectors.store import Store

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs the Debian packages chromium and chromium-driver")

EDITOR = "olga@acme.example"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=free_port()) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        provider_user(base, EDITOR, {"email": EDITOR, "email_verified": True})
        yield base


def provider_user(provider: str, subject: str, claims: dict[str, object]) -> None:
    """The claims the provider puts in the ID token of `subject` (its user API)."""
    import requests

    requests.put(f"{provider}/users/{subject}", json=claims, timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def dashboard(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`baton ui` with an `[auth]` section pointing at the provider; olga is an editor."""
    folder = tmp_path_factory.mktemp("oidc")
    config = copy_config(folder)
    url = f"sqlite:///{folder / 'baton.db'}"
    store = Store.open(url)
    populate(store, config, leads=20, days=1)
    store.close()
    users = folder / "users.yaml"
    add_user(users, EDITOR, "editor", None)  # an OIDC-only entry: no password
    port = free_port()
    (folder / ".streamlit").mkdir()
    (folder / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "baton"\n'
        'client_secret = "baton-test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    with serving_ui(folder, url, config, users, port) as base:
        yield base


def sign_in_at_provider(browser: object,  # noqa: F811
                         dashboard: str, subject: str, shown_as: str | None = None) -> object:
    """A fresh browser session (a new page has its own context: no cookies): Baton's sign-in
    button, the provider's form, and back, signed in as `shown_as` (default the subject)."""
    page = open_page(browser, dashboard)
    page.get_by_text("Sign in with your company account").wait_for()
    page.get_by_role("button", name="Sign in").click()
    page.locator('input[name="sub"]').fill(subject)  # the provider's own page
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text(f"Signed in as {shown_as or subject}").wait_for()
    settle(page)
    return page


def test_an_oidc_user_listed_as_editor_signs_in_through_the_provider_and_may_save(
        dashboard: str, browser: object) -> None:  # noqa: F811
    page = sign_in_at_provider(browser, dashboard, EDITOR)
    assert "(editor)" in page.get_by_text("Signed in as").first.inner_text()  # type: ignore[attr-defined]
    page.get_by_role("link", name="SLA editor").first.click()  # type: ignore[attr-defined]
    page.get_by_role("textbox", name="Definitions (YAML)").wait_for()  # type: ignore[attr-defined]
    settle(page)
    assert page.get_by_text("Read-only").count() == 0  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-11-oidc-editor.png"))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
    # Streamlit ends the provider's session too (RP-initiated logout) when the provider
    # advertises an end_session_endpoint: confirm on the provider's page, then back to Baton
    signed_out = page.get_by_text("Sign in with your company account")  # type: ignore[attr-defined]
    end_session = page.get_by_role("button", name="End session")  # type: ignore[attr-defined]
    signed_out.or_(end_session).wait_for()
    if end_session.is_visible():
        end_session.click()
    signed_out.wait_for()
    page.context.close()  # type: ignore[attr-defined]


def test_an_oidc_user_not_in_the_users_file_is_a_read_only_viewer(
        dashboard: str, provider: str, browser: object) -> None:  # noqa: F811
    provider_user(provider, "vera@acme.example", {"email": "vera@acme.example",
                                                  "email_verified": True})
    page = sign_in_at_provider(browser, dashboard, "vera@acme.example")
    assert "(viewer)" in page.get_by_text("Signed in as").first.inner_text()  # type: ignore[attr-defined]
    page.get_by_role("link", name="SLA editor").first.click()  # type: ignore[attr-defined]
    page.get_by_text("Read-only").first.wait_for()  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("subject", "claims"), [
    pytest.param("mallory-1", {"email": EDITOR, "email_verified": False}, id="unverified"),
    pytest.param("mallory-2", {"email": EDITOR}, id="not-said-verified"),
    pytest.param("mallory-3", {"name": EDITOR}, id="display-name"),
])
def test_an_editors_address_that_the_provider_does_not_verify_gives_no_editor_role(
        dashboard: str, provider: str, browser: object, subject: str,  # noqa: F811
        claims: dict[str, object]) -> None:
    provider_user(provider, subject, claims)
    page = sign_in_at_provider(browser, dashboard, subject, shown_as=f"sub:{subject}")
    assert "(viewer)" in page.get_by_text("Signed in as").first.inner_text()  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]
