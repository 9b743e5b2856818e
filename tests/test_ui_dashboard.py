"""What the dashboard's pages show at the edges: durations stored by another host's clock,
sources fed by files, a store with no data yet, the funnel's drop-off, the budget bars."""

from __future__ import annotations

import io
import json
import re

import orjson
import pytest
from streamlit.testing.v1 import AppTest
from test_ui_pages import open_page
from test_ui_support import app_test, copy_config, populated, texts  # noqa: F401 (fixture)

from app.commands import ingest_file
from collectors.schema import format_time
from collectors.store import Store, now_us
from slas.definitions import load_folder
from slas.engine import evaluate

MINUTE_US = 60 * 1_000_000
NEGATIVE = re.compile(r"(?<![\w-])-\d+(\.\d+)?\s?[smhd]\b")  # "-5s", "-2m 10s"


def unassigned_leads(last_us: int, count: int = 20) -> bytes:
    """Qualified leads submitted a second apart up to `last_us`, never assigned: an hour
    later every one is a bad journey of lead-routing-5m, which breaches."""
    lines = [orjson.dumps({
        "specversion": "1.0", "id": f"s-{n}", "source": "web", "type": "com.acme.lead.submitted",
        "time": format_time(last_us - n * 1_000_000), "correlationid": f"L-{n:04d}",
        "data": {"qualified": True}}) for n in range(count)]
    return b"\n".join(lines) + b"\n"


def ingest(store: Store, payload: bytes, source: str = "leads.jsonl") -> None:
    ingest_file(store, io.BytesIO(payload), source, len(payload), "cloudevents", source)


@pytest.fixture
def config(tmp_path):
    return copy_config(tmp_path)


def shown_cells(at: AppTest) -> list[str]:
    return [str(v) for frame in at.dataframe for v in frame.value.to_numpy().ravel()]


@pytest.mark.parametrize("ahead_s", [0, 5, 50], ids=lambda s: f"{s}s-ahead")
def test_a_breach_opened_by_a_clock_ahead_of_the_pages_never_shows_a_negative_duration(
        store_url, config, monkeypatch, tmp_path, ahead_s):
    store = Store.open(store_url)
    opened = now_us() + ahead_s * 1_000_000  # the evaluator's host, `ahead_s` ahead of ours
    ingest(store, unassigned_leads(opened - 60 * MINUTE_US))
    evaluate(store, load_folder(config), opened)
    store.close()
    at = open_page(app_test(monkeypatch, store_url, config, tmp_path / "u.yaml"), "breaches")
    durations = at.dataframe[0].value["Duration"].tolist()
    assert durations and not [d for d in durations if d.startswith("-")]
    sentences = [e.value for e in at.error if "breached since" in e.value]
    assert sentences and not [s for s in sentences if NEGATIVE.search(s)]


def test_a_record_stamped_ahead_of_the_pages_clock_shows_no_negative_age(
        store_url, config, monkeypatch, tmp_path):
    store = Store.open(store_url)
    ingest(store, unassigned_leads(now_us() + 5 * MINUTE_US))  # newest 5 minutes ahead
    store.close()
    at = open_page(app_test(monkeypatch, store_url, config, tmp_path / "u.yaml"), "sources")
    cells = shown_cells(at)
    assert cells and not [c for c in cells if NEGATIVE.match(c)]


def test_a_source_fed_by_baton_ingest_shows_freshness_and_lag_from_its_events(
        store_url, config, monkeypatch, tmp_path):
    store = Store.open(store_url)
    newest = now_us() - 3 * 3600 * 1_000_000 - 10 * MINUTE_US
    ingest(store, unassigned_leads(newest, count=60), "old-leads.jsonl")
    ingest(store, unassigned_leads(newest, count=60), "old-leads.jsonl")  # all duplicates
    store.close()
    at = open_page(app_test(monkeypatch, store_url, config, tmp_path / "u.yaml"), "sources")
    row = at.dataframe[0].value.set_index("Source").loc["old-leads.jsonl"]
    assert row["Freshness"].startswith("3h 1") and row["Lag"].startswith("3h 1")
    assert (row["Accepted"], row["Duplicates"]) == (60, 60)


def test_an_sla_with_nothing_to_count_yet_reads_as_no_data_not_dashes(
        store_url, config, monkeypatch, tmp_path):
    store = Store.open(store_url)
    evaluate(store, load_folder(config), now_us())  # an empty store: every SLA has no data
    store.close()
    at = open_page(app_test(monkeypatch, store_url, config, tmp_path / "u.yaml"),
                   "scorecards")
    shown = texts(at)
    worst = [c.value for c in at.caption if c.value.startswith("Worst:")]
    assert len(worst) == 4 and any("No data" in w for w in worst)
    assert all(re.match(r"Worst: \*\*[\w-]+\*\* — (No data|\d+(\.\d+)?% of) ", w) for w in worst)
    assert "— —" not in shown and "—  —" not in shown
    assert not re.search(r"— of |—% of ", shown)


@pytest.fixture
def populated_app(populated, monkeypatch, tmp_path):  # noqa: F811
    url, config = populated
    return app_test(monkeypatch, url, config, tmp_path / "users.yaml")


def chart(at: AppTest, title_start: str) -> dict:
    for element in at.get("plotly_chart"):
        figure = json.loads(element.proto.spec)
        if figure["layout"]["title"]["text"].startswith(title_start):
            return figure
    raise AssertionError(f"no chart titled {title_start!r}")


def test_the_funnel_shows_how_many_leads_did_not_reach_the_last_stage_and_where_they_stopped(
        populated_app):
    at = open_page(populated_app, "journeys")
    metrics = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    figure = chart(at, "Where the")
    stops = {t["name"]: t["x"] for t in figure["data"]}
    assert stops and all(name.startswith("stopped at ") for name in stops)
    missed_at_the_end = sum(x[-1] for x in stops.values())
    assert missed_at_the_end == metrics["Started (7d)"] - metrics["Completed (7d)"] > 0
    notes = [a["text"] for a in figure["layout"]["annotations"]]
    assert notes[-1].startswith(f"{missed_at_the_end:,} (") and "missed" in notes[-1]


def test_budget_bars_are_coloured_by_how_much_budget_is_left(populated_app):
    at = open_page(populated_app, "scorecards")
    columns = json.loads(at.dataframe[0].proto.columns)
    # Streamlit's "auto": green above half the range, red below it (0% left is red, 100% green)
    assert columns["Budget left"]["type_config"]["color"] == "auto"
