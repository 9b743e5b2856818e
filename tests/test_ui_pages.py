"""Every dashboard page, driven by AppTest: on an empty store, on a populated one, and with
filters that change the numbers shown. Real SQLite and PostgreSQL stores, real engine results."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from streamlit.testing.v1 import AppTest
from test_ui_support import app_test, populated, texts  # noqa: F401 (fixture)

from app import data
from collectors.store import Store, now_us
from collectors.tables import rejects, sla_results

PAGES = ["scorecards", "breaches", "journeys", "sources", "editor", "history"]


def open_page(at: AppTest, page: str) -> AppTest:
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def populated_app(populated, monkeypatch, tmp_path):  # noqa: F811
    url, config = populated
    return app_test(monkeypatch, url, config, tmp_path / "users.yaml")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_store_and_says_what_to_do(page, store_url, monkeypatch,
                                                                  tmp_path):
    from test_ui_support import copy_config

    at = open_page(app_test(monkeypatch, store_url, copy_config(tmp_path),
                            tmp_path / "users.yaml"), page)
    shown = texts(at)
    if page in ("scorecards", "breaches", "sources"):
        assert "No data yet" in shown and "baton ingest" in shown
    if page == "journeys":
        assert "No lead journeys started" in shown
    if page == "history":
        assert "No versions saved yet" in shown


EXPECTED = {
    "scorecards": ["Scorecards", "Marketing Ops", "SLAs met", "Budget left",
                   "went from form.submitted to crm.assigned within 5 minutes this week"],
    "breaches": ["Breaches", "Open now", "breached since"],
    "journeys": ["Journeys & stalls", "Started (7d)", "Stalled now (7d)", "Stuck leads"],
    "sources": ["Sources", "Freshness by event type", "1 rejected record(s)", "Rejected records"],
    "editor": ["SLA editor", "Valid", "Read-only"],
    "history": ["SLA history", "No versions saved yet"],
}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_answers_its_question_on_a_populated_store(page, populated_app):
    at = open_page(populated_app, page)
    shown = texts(at)
    for expected in EXPECTED[page]:
        assert expected in shown, expected


def test_scorecards_show_one_card_per_team_and_every_sla(populated_app):
    at = open_page(populated_app, "scorecards")
    assert len([m for m in at.metric if m.label == "SLAs met"]) == 4
    assert len(at.dataframe[0].value) == 4


def test_the_team_filter_narrows_cards_and_table_to_that_team(populated_app):
    at = open_page(populated_app, "scorecards")
    at.multiselect[0].set_value(["sales-ops"]).run()
    table = at.dataframe[0].value
    assert table["SLA"].tolist() == ["lead-routing-5m"]
    met = int(table["Status"].isin(["OK", "Warning", "At risk"]).sum())
    assert [m.value for m in at.metric if m.label == "SLAs met"] == [f"{met} / 1"]


def test_the_trend_window_changes_how_much_history_is_summarised(populated_app):
    at = open_page(populated_app, "scorecards")
    week = at.dataframe[0].value
    at.selectbox[0].set_value("24h").run()
    day = at.dataframe[0].value
    assert "In objective (7d)" in week.columns and "In objective (24h)" in day.columns
    assert [len(t) for t in week["Trend"]] != [len(t) for t in day["Trend"]]


def test_last_evaluated_turns_red_when_evaluation_has_stopped(store_url, monkeypatch, tmp_path):
    from test_ui_support import copy_config, populate

    config = copy_config(tmp_path)
    store = Store.open(store_url)
    populate(store, config, leads=20, days=1)
    at = open_page(app_test(monkeypatch, store_url, config, tmp_path / "u.yaml"), "scorecards")
    assert not at.error and "Last evaluated" in texts(at)
    with store.engine.begin() as conn:  # as if the evaluator stopped 30 minutes ago
        conn.execute(delete(sla_results).where(
            sla_results.c.evaluated_at_us > now_us() - 30 * 60 * 10**6))
    store.close()
    data.clear()
    stale = open_page(app_test(monkeypatch, store_url, config, tmp_path / "u.yaml"),
                      "scorecards")
    assert "evaluation has stopped" in stale.error[0].value


def test_the_open_only_switch_and_team_filter_change_the_breach_counts(populated_app):
    at = open_page(populated_app, "breaches")
    before = {m.label: int(m.value) for m in at.metric}
    assert before["Breaches in 7d"] >= before["Open now"] > 0 and before["Teams affected"] > 1
    at.toggle[0].set_value(True).run()
    assert {m.label: int(m.value) for m in at.metric}["Breaches in 7d"] == before["Open now"]
    at.toggle[0].set_value(False).run()
    at.multiselect[0].set_value([at.multiselect[0].options[0]]).run()
    after = {m.label: int(m.value) for m in at.metric}
    assert after["Teams affected"] == 1
    assert 0 < after["Breaches in 7d"] < before["Breaches in 7d"]


def test_searching_the_stuck_leads_narrows_the_table(populated_app):
    at = open_page(populated_app, "journeys")
    stuck = at.dataframe[0].value
    assert len(stuck) > 0
    key = stuck["Lead"].iloc[0]
    at.text_input[0].input(key).run()
    assert at.dataframe[0].value["Lead"].tolist() == [key]


def test_a_stuck_lead_opens_its_timeline_with_the_stage_it_stalled_at(populated_app):
    at = open_page(populated_app, "journeys")
    row = at.dataframe[0].value.iloc[0]
    at.text_input[1].input(row["Lead"]).run()
    shown = texts(at)
    assert f"stalled after **{row['Stalled after']}**" in shown
    assert f"waiting for **{row['Waiting for']}**" in shown


def test_an_unknown_lead_key_says_so(populated_app):
    at = open_page(populated_app, "journeys")
    at.text_input[1].input("L-nope").run()
    assert "no events for 'L-nope'" in texts(at)


def test_the_period_changes_how_many_journeys_the_funnel_counts(populated_app):
    at = open_page(populated_app, "journeys")
    week = {m.label: m.value for m in at.metric}["Started (7d)"]
    at.selectbox[1].set_value("24h").run()
    day = {m.label: m.value for m in at.metric}["Started (24h)"]
    assert int(day.replace(",", "")) < int(week.replace(",", ""))


def test_a_rejected_record_shows_its_reason_and_raw_payload(populated_app):
    at = open_page(populated_app, "sources")
    assert any('"id": "broken"' in c.value for c in at.code)
    assert "sample" in at.dataframe[0].value["Source"].tolist()


def test_the_populated_store_has_results_and_a_reject(populated):  # noqa: F811
    store = Store.open(populated[0])
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sla_results)).scalar() > 100
        assert conn.execute(select(func.count()).select_from(rejects)).scalar() == 1
    store.close()


@pytest.mark.parametrize("page", ["scorecards", "breaches", "journeys", "sources", "editor"])
def test_pages_explain_invalid_definitions_instead_of_failing(
        page, populated, monkeypatch, tmp_path):  # noqa: F811
    from test_ui_support import copy_config

    url, _ = populated
    config = copy_config(tmp_path)
    leads = config / "slas" / "leads.yaml"
    leads.write_text(leads.read_text().replace("owner: sales-ops", "owner: nobody"))
    at = open_page(app_test(monkeypatch, url, config, tmp_path / "u.yaml"), page)
    if page in ("journeys", "editor"):
        assert "unknown team 'nobody'" in texts(at)


def test_a_broken_users_file_is_reported_not_raised(store_url, monkeypatch, tmp_path):
    from test_ui_support import copy_config

    users = tmp_path / "users.yaml"
    users.write_text("users: [not: a mapping")
    at = app_test(monkeypatch, store_url, copy_config(tmp_path), users)
    at.run()
    assert not at.exception and "Sign-in is misconfigured" in at.error[0].value
