"""Who is looking, and may they edit: OIDC via `st.login` when configured, else a users file.

Roles: `editor` (may save SLA definitions) and `viewer` (reads everything, edits nothing).

- OIDC: when `.streamlit/secrets.toml` has an `[auth]` section, people sign in with
  `st.login()`; their role is looked up by e-mail in the users file (default `viewer`).
- Local: otherwise the users file (`$BATON_USERS_FILE`, default `var/users.yaml`, outside the
  repository) holds bcrypt hashes; `baton users add NAME --role editor` creates entries.
- Neither configured: everyone is an anonymous viewer, and the editor says how to add users.

The users file is YAML: `users: {alice: {role: editor, password_hash: "$2b$12$..."}}`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import streamlit as st
import yaml

from collectors.yamlfile import YamlSyntaxError, load_yaml, read_text

ROLES = ("editor", "viewer")
DEFAULT_USERS_FILE = "var/users.yaml"
SESSION_KEY = "baton_user"
# checked against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=4))


class AuthError(Exception):
    """A users-file problem, said in one sentence."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    via: str  # "local", "oidc" or "anonymous"

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


ANONYMOUS = User("anonymous", "viewer", "anonymous")


def users_path() -> Path:
    return Path(os.environ.get("BATON_USERS_FILE", DEFAULT_USERS_FILE))


def load_users(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        data = load_yaml(read_text(path), str(path))[0] or {}
    except YamlSyntaxError as exc:  # the one reader of Baton's YAML files (aliases bounded)
        raise AuthError(str(exc)) from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise AuthError(f"{path}: expected a mapping 'users: {{NAME: {{role: ...}}}}'")
    return {str(name): dict(entry or {}) for name, entry in users.items()}


def add_user(path: Path, name: str, role: str, password: str | None, rounds: int = 12) -> None:
    """Create or replace a user; `password` None makes an OIDC-only entry (role by e-mail)."""
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not known; use one of {', '.join(ROLES)}")
    if not name.strip():
        raise AuthError("a user needs a name")
    users = load_users(path)
    entry: dict[str, Any] = {"role": role}
    if password is not None:
        if len(password) < 8:
            raise AuthError("the password is too short; use at least 8 characters")
        entry["password_hash"] = bcrypt.hashpw(password.encode(),
                                               bcrypt.gensalt(rounds=rounds)).decode()
    users[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"users": users}, sort_keys=True), encoding="utf-8")
    path.chmod(0o600)


def verify(path: Path, name: str, password: str) -> User | None:
    """The user when `password` matches the stored hash, else None."""
    entry = load_users(path).get(name, {})
    stored = str(entry.get("password_hash", "")).encode() or _DUMMY_HASH
    try:
        ok = bcrypt.checkpw(password.encode(), stored)
    except ValueError:
        ok = False
    if not ok or "password_hash" not in entry:
        return None
    return User(name, _role(entry), "local")


def _role(entry: dict[str, Any]) -> str:
    role = entry.get("role", "viewer")
    return role if role in ROLES else "viewer"


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def current_user() -> User | None:
    """The signed-in user, ANONYMOUS when no sign-in is configured, None when one is needed."""
    if oidc_configured():
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or st.user.get("name") or "oidc user")
        entry = load_users(users_path()).get(email, {})
        return User(email, _role(entry), "oidc")
    if not any("password_hash" in e for e in load_users(users_path()).values()):
        return ANONYMOUS
    user = st.session_state.get(SESSION_KEY)
    return user if isinstance(user, User) and user.via == "local" else None


def page_user() -> User:
    """The user the router signed in. A page reached without going through the router (the
    very first request of a fresh server can be a page's own URL) is sent through it."""
    user = st.session_state.get(SESSION_KEY)
    if not isinstance(user, User):
        st.switch_page("ui.py")
    return user


def login_page() -> None:
    """The sign-in screen: an OIDC button, or a name/password form for the users file."""
    st.title("Baton")
    if oidc_configured():
        st.write("Sign in with your company account to see the SLA dashboard.")
        if st.button("Sign in", type="primary"):
            st.login()
        return
    with st.form("login"):
        st.write("Sign in to see the SLA dashboard.")
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        user = verify(users_path(), name.strip(), password)
        if user is None:
            st.error("Wrong user name or password.")
        else:
            st.session_state[SESSION_KEY] = user
            st.rerun()


def sign_out(user: User) -> None:
    st.session_state.pop(SESSION_KEY, None)
    if user.via == "oidc":
        st.logout()
