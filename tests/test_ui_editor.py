"""The SLA editor and history pages: validation as you type, refusals (invalid file, viewer,
someone else's save), an editor's save recorded as a version, rollback, and the dry run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest
from test_ui_support import (  # noqa: F401 (fixture)
    app_test,
    copy_config,
    make_users,
    populated,
    sign_in,
    texts,
)

from app import editor
from app.auth import User
from collectors.store import Store
from collectors.tables import sla_versions
from slas.definitions import check_texts

EDITOR = User("erin", "editor", "local")
VIEWER = User("victor", "viewer", "local")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


@pytest.fixture
def leads_file(config: Path) -> Path:
    return config / "slas" / "leads.yaml"


def stored_versions(url: str) -> list[dict]:
    store = Store.open(url)
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            select(sla_versions).order_by(sla_versions.c.id)).mappings()]
    store.close()
    return rows


def editor_page(monkeypatch, url: str, config: Path, tmp_path: Path, who: str) -> AppTest:
    at = app_test(monkeypatch, url, config, make_users(tmp_path / "users.yaml"))
    sign_in(at, who)
    at.switch_page("pages/editor.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def save_button(at: AppTest):
    return next(b for b in at.button if b.label == "Save")


def test_an_invalid_edit_shows_the_validate_messages_and_cannot_be_saved(
        store_url, config, leads_file, monkeypatch, tmp_path):
    at = editor_page(monkeypatch, store_url, config, tmp_path, "erin")
    before = leads_file.read_text()
    edited = before.replace("threshold: 5m", "threshold: 5 minutes")
    at.text_area[0].input(edited).run()
    shown = "\n".join(c.value for c in at.code)
    expected = check_texts({str(leads_file): edited})  # what `baton validate` prints
    assert expected and all(line in shown for line in expected)
    line = before.splitlines().index(next(x for x in before.splitlines()
                                          if "threshold: 5m" in x)) + 1
    assert f"{leads_file}:{line}: " in expected[0] and "threshold" in expected[0]
    assert save_button(at).disabled
    with pytest.raises(editor.Invalid) as refused:
        editor.save(Store.open(store_url), editor.sla_files(config), str(leads_file), edited,
                    EDITOR, "", expected=before)
    assert refused.value.errors == expected
    assert leads_file.read_text() == before and stored_versions(store_url) == []


def test_a_viewer_sees_the_definitions_read_only_and_cannot_save(
        store_url, config, leads_file, monkeypatch, tmp_path):
    at = editor_page(monkeypatch, store_url, config, tmp_path, "victor")
    before = leads_file.read_text()
    assert at.text_area[0].disabled and save_button(at).disabled
    assert "Read-only: victor has the viewer role" in texts(at)
    with pytest.raises(editor.NotAllowed, match="only editors may save"):
        editor.save(Store.open(store_url), editor.sla_files(config), str(leads_file),
                    before.replace("5m", "10m"), VIEWER, "", expected=before)
    assert leads_file.read_text() == before and stored_versions(store_url) == []


def test_an_editors_valid_save_writes_the_file_and_records_who_when_and_the_diff(
        store_url, config, leads_file, monkeypatch, tmp_path):
    at = editor_page(monkeypatch, store_url, config, tmp_path, "erin")
    before = leads_file.read_text()
    edited = before.replace("threshold: 5m", "threshold: 10m")
    at.text_area[0].input(edited).run()
    assert "+    threshold: 10m" in "\n".join(c.value for c in at.code)
    at.text_input[0].input("relax routing during the CRM migration").run()
    save_button(at).click().run()
    assert "Saved" in texts(at)
    assert leads_file.read_text() == edited
    baseline, version = stored_versions(store_url)
    assert baseline["content"] == before and baseline["author"] == "file on disk"
    assert (version["author"], version["content"]) == ("erin", edited)
    assert version["message"] == "relax routing during the CRM migration"
    assert "-    threshold: 5m\n+    threshold: 10m" in version["diff"]


def test_a_save_is_refused_when_someone_else_saved_the_file_meanwhile(store_url, config,
                                                                       leads_file):
    files = editor.sla_files(config)
    started = files[str(leads_file)]
    leads_file.write_text(started.replace("objective: 99%", "objective: 98%", 1))
    with pytest.raises(editor.Conflict, match="changed on disk"):
        editor.save(Store.open(store_url), editor.sla_files(config), str(leads_file),
                    started.replace("5m", "10m"), EDITOR, "", expected=started)


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o640, 0o600], ids=oct)
def test_a_save_and_a_rollback_keep_the_files_mode(store_url, config, leads_file, mode):
    leads_file.chmod(mode)
    before = leads_file.read_text()
    store = Store.open(store_url)
    editor.save(store, editor.sla_files(config), str(leads_file),
                before.replace("threshold: 5m", "threshold: 10m"), EDITOR, "", expected=before)
    assert leads_file.stat().st_mode & 0o7777 == mode
    first = stored_versions(store_url)[0]
    editor.rollback(store, editor.sla_files(config), str(leads_file), first, EDITOR)
    store.close()
    assert leads_file.read_text() == before and leads_file.stat().st_mode & 0o7777 == mode
    assert sorted(p.name for p in leads_file.parent.iterdir() if p.name.startswith(".")) == []


def test_history_lists_versions_and_rollback_restores_an_earlier_one(
        store_url, config, leads_file, monkeypatch, tmp_path):
    before = leads_file.read_text()
    store = Store.open(store_url)
    editor.save(store, editor.sla_files(config), str(leads_file),
                before.replace("threshold: 5m", "threshold: 10m"), EDITOR, "relax",
                expected=before)
    store.close()
    at = app_test(monkeypatch, store_url, config, make_users(tmp_path / "users.yaml"))
    sign_in(at, "erin")
    at.switch_page("pages/history.py")
    at.run()
    assert at.dataframe[0].value["Message"].tolist() == ["relax", "before the first edit in "
                                                         "Baton"]
    at.selectbox[-1].set_value(at.dataframe[0].value["Version"].iloc[-1]).run()
    next(b for b in at.button if b.label.startswith("Roll back")).click().run()
    assert "Rolled back" in texts(at)
    assert leads_file.read_text() == before
    assert stored_versions(store_url)[-1]["message"].startswith("rollback to version")


def test_a_viewer_cannot_roll_back(store_url, config, leads_file, monkeypatch, tmp_path):
    before = leads_file.read_text()
    store = Store.open(store_url)
    editor.save(store, editor.sla_files(config), str(leads_file),
                before.replace("threshold: 5m", "threshold: 10m"), EDITOR, "relax",
                expected=before)
    store.close()
    at = app_test(monkeypatch, store_url, config, make_users(tmp_path / "users.yaml"))
    sign_in(at, "victor")
    at.switch_page("pages/history.py")
    at.run()
    at.selectbox[-1].set_value(at.dataframe[0].value["Version"].iloc[-1]).run()
    rollback = next(b for b in at.button if b.label.startswith("Roll back"))
    assert rollback.disabled
    assert len(stored_versions(store_url)) == 2 and "threshold: 10m" in leads_file.read_text()


def test_the_dry_run_shows_the_edited_sla_next_to_the_current_version(
        populated, monkeypatch, tmp_path):  # noqa: F811
    url, config = populated
    at = editor_page(monkeypatch, url, config, tmp_path, "erin")
    text = at.text_area[0].value
    at.text_area[0].input(text.replace("threshold: 5m", "threshold: 30s")).run()
    assert at.multiselect[0].value == ["lead-routing-5m"]
    next(b for b in at.button if b.label == "Run dry run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    summary = at.dataframe[0].value.set_index("Version")
    assert list(summary.index) == ["current", "edited"]
    assert summary.loc["edited", "Breached evaluations"] > summary.loc[
        "current", "Breached evaluations"]
    assert summary.loc["edited", "Status at the end"] == "Breached"
    assert (config / "slas" / "leads.yaml").read_text() == text


@pytest.mark.parametrize(("statuses", "periods"), [
    pytest.param(["ok", "ok"], [], id="never-breached"),
    pytest.param(["ok", "breached", "breached", "ok"], [(2, 3)], id="one-period"),
    pytest.param(["breached", "ok", "breached"], [(1, 1), (3, 3)], id="open-at-both-ends"),
])
def test_breach_periods_are_runs_of_breached_evaluations(statuses, periods):
    import pandas as pd

    points = pd.DataFrame({"at_us": range(1, len(statuses) + 1), "status": statuses})
    assert editor.breach_periods(points) == periods


def population_rows(url: str) -> list[tuple]:
    from collectors.tables import cursors, sla_population

    store = Store.open(url)
    with store.engine.connect() as conn:
        rows = conn.execute(select(sla_population).order_by(
            sla_population.c.pkey, sla_population.c.f_us, sla_population.c.jkey)).all()
        marks = conn.execute(select(cursors.c.name, cursors.c.value)).all()
    store.close()
    return [tuple(r) for r in rows] + [tuple(m) for m in marks]


def test_a_dry_run_of_a_changed_population_measures_it_and_leaves_the_store_as_it_was(
        populated, monkeypatch):  # noqa: F811
    from app import data

    url, config = populated
    monkeypatch.setenv("BATON_STORE_URL", url)
    monkeypatch.setenv("BATON_CONFIG", str(config))
    files = editor.sla_files(config)
    name, text = next(iter(files.items()))
    before = population_rows(url)
    edited = text.replace("where: {qualified: true}", "where: {qualified: false}")
    until = data.last_evaluated() // data.HOUR_US * data.HOUR_US
    points = data.dry_run({**files, name: edited}, ["lead-routing-5m"], until, 7)
    totals = points.groupby("version")["total"].last()
    assert totals["current"] > 0 and totals["edited"] > 0
    assert totals["current"] != totals["edited"]  # qualified and unqualified leads differ
    assert population_rows(url) == before


def test_a_dry_run_warns_when_the_edit_filters_on_an_attribute_not_indexed_yet(config):
    files = editor.sla_files(config)
    name, text = next(iter(files.items()))
    edited = text.replace("where: {qualified: true}", "where: {qualified: true, region: emea}")
    assert editor.unindexed_attributes(files, name, edited) == ["region"]
    assert editor.unindexed_attributes(files, name, text) == []
