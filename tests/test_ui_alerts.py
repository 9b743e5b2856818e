"""The Breaches page's alerts and silences, driven by AppTest on a store whose alerts were
decided and delivered for real (to a recording sink): notifications with their states, the
silences, and an editor (only an editor) silencing and ending, audited by name."""

from __future__ import annotations

import pytest
from alert_helpers import Alerting, environ, healthy, lost, write_config
from test_ui_pages import open_page
from test_ui_support import app_test, make_users, sign_in, texts

from app import data
from slas.silences import list_silences


@pytest.fixture
def alerted(store, store_url, sink, tmp_path):
    folder = write_config(tmp_path / "config", sink.url, policy="  rules: [SLABreached]")
    alerting = Alerting(store, folder, environ(sink.url))
    alerting.load(healthy(0, 30) + lost(30, 60))
    alerting.at(60, deliver_for=1.5)
    data.clear()
    return store_url, folder, store


def test_the_breaches_page_shows_each_alert_and_where_its_notifications_went(
        alerted, monkeypatch, tmp_path):
    url, folder, _ = alerted
    at = open_page(app_test(monkeypatch, url, folder, tmp_path / "none.yaml"), "breaches")
    shown = texts(at)
    assert "Alerts" in shown and "Silences" in shown
    table = at.dataframe[1].value  # after the breaches table
    assert sorted(table["Subject"]) == ["fast", "routed"]
    assert set(table["State"]) == {"🔴 firing"}
    assert sorted(table["Sent"] + table["Pending"] + table["Failed"]) == [1, 1]
    notifications = [df.value for df in at.dataframe[2:4]]
    assert {n["State"].iloc[0] for n in notifications} == {"sent"}
    assert not [b for b in at.button if b.label in ("Silence", "End")]  # viewers cannot


def test_an_editor_silences_an_alert_and_ends_it_and_both_are_audited(
        alerted, monkeypatch, tmp_path):
    url, folder, store = alerted
    users = make_users(tmp_path / "users.yaml")
    at = sign_in(app_test(monkeypatch, url, folder, users), "erin")
    at.switch_page("pages/breaches.py").run()
    form_selects = [m for m in at.multiselect if m.label == "SLA"]
    form_selects[0].set_value(["fast"])
    [reason] = [t for t in at.text_input if t.label == "Why"]
    reason.input("CRM migration")
    [submit] = [b for b in at.button if b.label == "Silence"]
    submit.click().run()
    assert not at.exception, [e.value for e in at.exception]
    [silence] = list_silences(store)
    assert (silence.created_by, silence.reason, dict(silence.matchers)) == (
        "erin", "CRM migration", {"sla": ("fast",)})
    assert "CRM migration" in texts(at)
    [end] = [b for b in at.button if b.label == "End"]
    end.click().run()
    [ended] = list_silences(store)
    assert ended.ended_by == "erin" and not ended.active(ended.ended_us)


def test_a_viewer_sees_no_silence_controls(alerted, monkeypatch, tmp_path):
    url, folder, _ = alerted
    users = make_users(tmp_path / "users.yaml")
    at = sign_in(app_test(monkeypatch, url, folder, users), "victor")
    at.switch_page("pages/breaches.py").run()
    assert not [b for b in at.button if b.label in ("Silence", "End")]
