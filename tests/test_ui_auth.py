"""Signing in to the dashboard: the users file keeps bcrypt hashes only, a sign-in form guards
every page once users exist, roles decide who may edit, and `baton users` manages the file."""

from __future__ import annotations

import os
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


class FolderWatch:
    """Looks at every file of a folder at each step the interpreter audits (opening, chmod,
    rename, ...) while `add_user` runs, and notes any that others could read with a hash in
    it. (An audit hook cannot be removed: it only looks while `active`.)"""

    def __init__(self, folder: Path) -> None:
        self.folder, self.active, self.busy = folder, False, False
        self.exposed: list[str] = []
        self.files_seen: set[str] = set()
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple) -> None:
        if not self.active or self.busy:
            return
        self.busy = True
        try:
            for path in self.folder.iterdir():
                self.files_seen.add(path.name)
                mode = path.stat().st_mode & 0o777
                if mode & 0o077 and b"$2b$" in path.read_bytes():
                    self.exposed.append(f"{path.name} {oct(mode)} at {event}")
        except OSError:
            pass  # a file renamed between listing and looking
        finally:
            self.busy = False


@pytest.mark.parametrize("existing", [None, 0o644], ids=["new-file", "world-readable-file"])
def test_the_users_file_is_never_readable_by_others_not_even_while_it_is_written(
        tmp_path, existing):
    folder = tmp_path / "var"
    folder.mkdir()
    path = folder / "users.yaml"
    if existing is not None:
        path.write_text("users: {}\n")
        path.chmod(existing)
    watch = FolderWatch(folder)
    old_umask = os.umask(0o022)  # the usual umask: files 0644 unless asked otherwise
    watch.active = True
    try:
        auth.add_user(path, "erin", "editor", PASSWORD, rounds=4)
        auth.add_user(path, "victor", "viewer", PASSWORD, rounds=4)
    finally:
        watch.active = False
        os.umask(old_umask)
    assert watch.exposed == []
    assert len(watch.files_seen - {"users.yaml"}) >= 1, "the temporary file was looked at"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in folder.iterdir()] == ["users.yaml"]  # no temporary file left
    assert set(auth.load_users(path)) == {"erin", "victor"}


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
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/editor.py")  # no page of the dashboard's is served


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


def test_an_operator_signs_in_sees_raw_payloads_and_cannot_edit(store_url, monkeypatch,
                                                                tmp_path):
    users = tmp_path / "users.yaml"
    auth.add_user(users, "olga", "operator", PASSWORD, rounds=4)
    user = auth.verify(users, "olga", PASSWORD)
    assert user is not None and user.sees_personal_data and not user.can_edit
    at = app_test(monkeypatch, store_url, copy_config(tmp_path), users)
    sign_in(at, "olga")
    at.switch_page("pages/editor.py")
    at.run()
    assert "Read-only: olga has the operator role" in texts(at) and at.text_area[0].disabled


def test_only_editors_and_operators_see_personal_data():
    seen = {role: auth.User("x", role, "local").sees_personal_data for role in auth.ROLES}
    assert seen == {"editor": True, "operator": True, "viewer": False}
    assert not auth.ANONYMOUS.sees_personal_data


def test_baton_users_add_offers_every_role_the_dashboard_knows(tmp_path):
    from app import ui_command

    assert ui_command.ROLES == auth.ROLES
    done = baton("users", "add", "olga", "--role", "operator", "--password-stdin",
                 input="a long secret\n", env_file=tmp_path / "u.yaml")
    assert done.returncode == 0, done.stderr
    assert baton("users", "list", env_file=tmp_path / "u.yaml").stdout.split() == [
        "olga", "operator", "password"]


OIDC_USERS = {"olga@acme.example": {"role": "editor"}, "sub:248289761001": {"role": "editor"},
              "erin": {"role": "editor", "password_hash": "$2b$04$x"}}


@pytest.mark.parametrize(("claims", "name", "role"), [
    pytest.param({"sub": "1", "email": "olga@acme.example", "email_verified": True},
                 "olga@acme.example", "editor", id="verified-email"),
    pytest.param({"sub": "1", "email": "olga@acme.example", "email_verified": "true"},
                 "olga@acme.example", "editor", id="verified-as-a-string"),
    pytest.param({"sub": "248289761001", "email": "x@y.example", "email_verified": True},
                 "x@y.example", "editor", id="verified-other-email-then-the-subject"),
    pytest.param({"sub": "248289761001"}, "sub:248289761001", "editor", id="subject"),
    pytest.param({"sub": "2", "email": "olga@acme.example"}, "sub:2", "viewer",
                 id="email-not-said-verified"),
    pytest.param({"sub": "2", "email": "olga@acme.example", "email_verified": False},
                 "sub:2", "viewer", id="unverified-email"),
    pytest.param({"sub": "2", "email": "olga@acme.example", "email_verified": "false"},
                 "sub:2", "viewer", id="unverified-as-a-string"),
    pytest.param({"sub": "2", "name": "olga@acme.example"}, "sub:2", "viewer",
                 id="display-name"),
    pytest.param({"name": "olga@acme.example", "preferred_username": "olga@acme.example"},
                 "oidc user", "viewer", id="no-subject"),
    pytest.param({"sub": "erin"}, "sub:erin", "viewer", id="subject-equal-to-a-local-user"),
])
def test_an_oidc_role_is_found_by_verified_email_or_subject_and_nothing_else(claims, name,
                                                                            role):
    assert auth.oidc_user(claims, OIDC_USERS) == auth.User(name, role, "oidc")
