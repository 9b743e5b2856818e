"""Who is looking, and may they edit: OIDC via `st.login` when configured, else a users file.

Roles: `editor` (may save SLA definitions, sees raw payloads), `operator` (sees raw payloads,
edits nothing) and `viewer` (reads everything with personal data masked, edits nothing).

- OIDC: when `.streamlit/secrets.toml` has an `[auth]` section, people sign in with
  `st.login()`; their role is looked up in the users file by their *verified* e-mail
  address, or else by their subject (`sub`) claim (default `viewer`).
- Local: otherwise the users file (`$BATON_USERS_FILE`, default `var/users.yaml`, outside the
  repository) holds bcrypt hashes; `baton users add NAME --role editor` creates entries.
- Neither configured: everyone is an anonymous viewer, and the editor says how to add users.

The users file is YAML: `users: {alice: {role: editor, password_hash: "$2b$12$..."}}`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import streamlit as st
import yaml

from collectors import privacy
from collectors.yamlfile import YamlSyntaxError, load_yaml, read_text

ROLES = ("editor", "operator", "viewer")
SEES_PERSONAL_DATA = frozenset({"editor", "operator"})
DEFAULT_USERS_FILE = "var/users.yaml"
SESSION_KEY = "baton_user"
RETURN_TO = "page"  # query parameter: the page asked for before signing in
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

    @property
    def sees_personal_data(self) -> bool:
        """Whether raw payloads are shown as stored (else masked: `collectors.privacy`)."""
        return self.role in SEES_PERSONAL_DATA

    def show(self, text: str | None) -> str | None:
        """Stored text (a raw payload, a reason, an error) as this user may see it."""
        return text if self.sees_personal_data else privacy.mask_text(text)


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
    _write_private(path, yaml.safe_dump({"users": users}, sort_keys=True))


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a file that is 0600 from the moment it exists (the
    hashes are never readable by others, not even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: os.open(O_CREAT | O_EXCL, 0o600) under a fresh name in the same folder
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


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


def oidc_identities(claims: Mapping[str, Any]) -> list[str]:
    """The names an OIDC user's role is looked up by, in order: their e-mail address when the
    provider says it is verified (`email_verified`), then `sub:` and their subject. Never
    `name` or an unverified address: at many providers users choose those themselves, and
    would choose an editor's."""
    names = []
    email = claims.get("email")
    if isinstance(email, str) and email and _verified(claims.get("email_verified")):
        names.append(email)
    subject = claims.get("sub")
    if isinstance(subject, str) and subject:
        names.append(f"sub:{subject}")
    return names


def _verified(flag: Any) -> bool:
    # some providers send the boolean as a string
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def oidc_user(claims: Mapping[str, Any], users: Mapping[str, dict[str, Any]]) -> User:
    """The user an OIDC sign-in with these ID token claims is: named by their first
    identity, with the role of the first identity the users file lists (else viewer)."""
    names = oidc_identities(claims)
    entry = next((users[n] for n in names if n in users), {})
    return User(names[0] if names else "oidc user", _role(entry), "oidc")


def current_user() -> User | None:
    """The signed-in user, ANONYMOUS when no sign-in is configured, None when one is needed."""
    if oidc_configured():
        if not st.user.is_logged_in:
            return None
        return oidc_user(st.user, load_users(users_path()))
    if not any("password_hash" in e for e in load_users(users_path()).values()):
        return ANONYMOUS
    user = st.session_state.get(SESSION_KEY)
    return user if isinstance(user, User) and user.via == "local" else None


def page_user(page_file: str) -> User:
    """The user the router signed in. A page reached without going through the router (the
    very first request of a fresh server can be a page's own URL) is sent through it, which
    returns to the page (`RETURN_TO`) once someone is signed in."""
    user = st.session_state.get(SESSION_KEY)
    if not isinstance(user, User):
        st.switch_page("ui.py", query_params={RETURN_TO: Path(page_file).stem})
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
