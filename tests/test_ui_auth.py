"""Signing in to the dashboard: the users file keeps bcrypt hashes only, a sign-in form guards
every page once users exist, roles decide who may edit, and `baton users` manages the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_ui_support import PASSWORD, app_test, copy_config, make_users, sign_in, texts

from app import auth


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return make_users(tmp_path / "var" / "users.yaml")


def test_the_users_file_holds_a_bcrypt_hash_and_never_the_password(users):
    content = users.read_text()
    assert PASSWORD not in content and "$2b$" in content
    assert users.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("name", "password", "role"), [
    pytest.param("erin", PASSWORD, "editor", id="editor"),
    pytest.param("victor", PASSWORD, "viewer", id="viewer"),
    pytest.param("erin", "wrong password", None, id="wrong-password"),
    pytest.param("mallory", PASSWORD, None, id="unknown-user"),
])
def test_a_password_is_checked_against_the_stored_hash(users, name, password, role):
    user = auth.verify(users, name, password)
    assert (user.role if user else None) == role


def test_an_unknown_role_or_a_short_password_is_refused(tmp_path):
    with pytest.raises(auth.AuthError, match="role 'admin' is not known"):
        auth.add_user(tmp_path / "u.yaml", "a", "admin", PASSWORD)
    with pytest.raises(auth.AuthError, match="too short"):
        auth.add_user(tmp_path / "u.yaml", "a", "editor", "short")


def test_with_users_every_page_asks_to_sign_in_first(store_url, users, monkeypatch, tmp_path):
    at = app_test(monkeypatch, store_url, copy_config(tmp_path), users)
    at.run()
    assert "Sign in to see the SLA dashboard." in texts(at) and not at.metric
    with pytest.raises(ValueError, match=r"Known pages: \['Sign in'\]"):
        at.switch_page("pages/editor.py")


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(store_url, users, monkeypatch,
                                                                tmp_path):
    at = app_test(monkeypatch, store_url, copy_config(tmp_path), users)
    sign_in(at, "erin", "not it at all")
    assert "Wrong user name or password." in texts(at)
    at = app_test(monkeypatch, store_url, copy_config(tmp_path / "again"), users)
    sign_in(at, "erin")
    assert "Signed in as **erin** (editor)" in texts(at) and "Scorecards" in texts(at)


def test_without_users_everyone_reads_as_an_anonymous_viewer(store_url, monkeypatch, tmp_path):
    at = app_test(monkeypatch, store_url, copy_config(tmp_path), tmp_path / "none.yaml")
    at.run()
    at.switch_page("pages/editor.py")
    at.run()
    assert "Read-only: anonymous has the viewer role" in texts(at)
    assert at.text_area[0].disabled


def baton(*args: str, input: str = "", env_file: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, BATON_USERS_FILE=str(env_file))
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=input, text=True,
                          capture_output=True, env=env, timeout=60)


def test_baton_users_add_creates_a_user_who_can_sign_in(tmp_path):
    path = tmp_path / "users.yaml"
    done = baton("users", "add", "olga", "--role", "editor", "--password-stdin",
                 input="a long secret\n", env_file=path)
    assert done.returncode == 0, done.stderr
    assert auth.verify(path, "olga", "a long secret") == auth.User("olga", "editor", "local")
    listed = baton("users", "list", env_file=path)
    assert listed.stdout.strip() == "olga\teditor\tpassword" and "$2b$" not in listed.stdout


def test_baton_users_add_refuses_a_short_password_in_one_sentence(tmp_path):
    done = baton("users", "add", "olga", "--password-stdin", input="short\n",
                 env_file=tmp_path / "u.yaml")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("baton: the password is too short")
