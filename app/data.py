"""The dashboard's only door to the store: cached, read-only queries and engine calls.

Pages call the public functions; each passes the store URL and config folder (from
$BATON_STORE_URL / $BATON_CONFIG, which `baton ui` sets) to a cached function, so one process
can serve several stores (tests do). Every query reads stored results or uses an index; none
scans all events. Reads are cached for `TTL` seconds; `clear()` drops them after a write.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import and_, case, func, select

from collectors.store import DEFAULT_URL, Store, now_us
from collectors.tables import (
    breaches,
    events,
    ingest_runs,
    journey_stages,
    rejects,
    sla_population,
    sla_results,
    sla_versions,
    source_status,
    team_results,
)
from slas.alerts import latest_episodes
from slas.definitions import Definitions, load_folder, load_texts
from slas.population import population_key
from slas.preview import preview
from slas.silences import Silence, list_silences
from slas.spec import JourneySla
from slas.stalls import StallReport, find_stalls
from slas.timeline import Timeline, lead_timeline

TTL = 30
NO_DATA = ("No data yet — load records with `baton ingest FILE` (or `baton demo`), then run "
           "`baton evaluate` (or `baton serve`, which evaluates every minute).")
STALE_AFTER_US = 5 * 60 * 1_000_000  # evaluation runs every minute under `baton serve`
US = 1_000_000
HOUR_US = 3600 * US


def store_url() -> str:
    return os.environ.get("BATON_STORE_URL", DEFAULT_URL)


def config_dir() -> str:
    return os.environ.get("BATON_CONFIG", "config")


def now_minute() -> int:
    """Now, rounded down to the minute: the clock the cached reads are keyed on."""
    return now_us() // (60 * US) * (60 * US)


def clear() -> None:
    st.cache_data.clear()
    _definitions.clear()


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    return Store.open(url)


def store() -> Store:
    return _store(store_url())


def _frame(url: str, query: Any) -> pd.DataFrame:
    with _store(url).engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


# --- definitions ---

@st.cache_resource(ttl=TTL, show_spinner=False)
def _definitions(config: str) -> Definitions:
    return load_folder(config)


def definitions() -> Definitions:
    """The SLA definitions on disk (DefinitionError when the folder is invalid)."""
    return _definitions(config_dir())


# --- scorecards ---

@st.cache_data(ttl=TTL, show_spinner=False)
def _latest(url: str) -> pd.DataFrame:
    r = sla_results
    newest = (select(r.c.sla, func.max(r.c.evaluated_at_us).label("at"))
              .group_by(r.c.sla).subquery())
    return _frame(url, select(r).join(newest, and_(r.c.sla == newest.c.sla,
                                                   r.c.evaluated_at_us == newest.c.at))
                  .order_by(r.c.team, r.c.sla))


def latest_results() -> pd.DataFrame:
    """The newest stored result of every SLA (one row per SLA)."""
    return _latest(store_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def _latest_teams(url: str) -> pd.DataFrame:
    t = team_results
    newest = (select(t.c.team, func.max(t.c.evaluated_at_us).label("at"))
              .group_by(t.c.team).subquery())
    return _frame(url, select(t).join(newest, and_(t.c.team == newest.c.team,
                                                   t.c.evaluated_at_us == newest.c.at))
                  .order_by(t.c.team))


def latest_teams() -> pd.DataFrame:
    """The newest stored roll-up of every team (status, SLAs met, worst SLA, least budget)."""
    return _latest_teams(store_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def _trend(url: str, since_us: int, until_us: int, points: int) -> pd.DataFrame:
    r = sla_results
    bucket = max((until_us - since_us) // points, 1)
    slot = r.c.evaluated_at_us // bucket
    query = (select(r.c.sla, func.max(r.c.evaluated_at_us).label("at_us"),
                    func.min(r.c.sli).label("sli"), func.count().label("evaluations"),
                    func.sum(case((r.c.status == "breached", 1), else_=0)).label("breached"))
             .where(r.c.evaluated_at_us > since_us, r.c.evaluated_at_us <= until_us)
             .group_by(r.c.sla, slot).order_by(r.c.sla, func.max(r.c.evaluated_at_us)))
    return _frame(url, query)


def trend(since_us: int, until_us: int, points: int = 120) -> pd.DataFrame:
    """Stored SLIs per SLA in (since, until], at most `points` buckets each (the worst SLI of
    a bucket), with how many evaluations there were and how many were breached."""
    return _trend(store_url(), since_us, until_us, points)


@st.cache_data(ttl=10, show_spinner=False)
def _last_evaluated(url: str) -> int | None:
    with _store(url).engine.connect() as conn:
        return conn.execute(select(func.max(sla_results.c.evaluated_at_us))).scalar()


def last_evaluated() -> int | None:
    return _last_evaluated(store_url())


# --- breaches ---

@st.cache_data(ttl=TTL, show_spinner=False)
def _breaches(url: str, since_us: int) -> pd.DataFrame:
    b = breaches
    query = select(b).where(b.c.closed_at_us.is_(None) | (b.c.opened_at_us > since_us)
                            | (b.c.closed_at_us > since_us)).order_by(b.c.opened_at_us.desc())
    return _frame(url, query)


def breach_rows(since_us: int) -> pd.DataFrame:
    """Open breaches and those open at any time after `since_us`, newest first."""
    return _breaches(store_url(), since_us)


# --- alerts and silences ---

@st.cache_data(ttl=10, show_spinner=False)
def _alerts(url: str) -> list[dict[str, Any]]:
    return latest_episodes(_store(url))


def alerts() -> list[dict[str, Any]]:
    """The newest episode of every alert with its notifications (slas.alerts)."""
    return _alerts(store_url())


@st.cache_data(ttl=10, show_spinner=False)
def _silences(url: str) -> list[Silence]:
    return list_silences(_store(url))


def silences() -> list[Silence]:
    """Every silence, newest first (ended ones too: they are the audit trail)."""
    return _silences(store_url())


# --- journeys ---

@st.cache_data(ttl=TTL, show_spinner=False)
def _funnel(url: str, journey: str, stages: tuple[str, ...], since_us: int,
            until_us: int) -> pd.DataFrame:
    s = journey_stages
    counts = []
    with _store(url).engine.connect() as conn:
        for stage in stages:  # one range count on (journey, stage, first_us) per stage
            counts.append(conn.execute(select(func.count()).select_from(s).where(
                s.c.journey == journey, s.c.stage == stage, s.c.first_us > since_us,
                s.c.first_us <= until_us)).scalar() or 0)
    return pd.DataFrame({"stage": list(stages), "leads": counts})


def funnel(journey: str, stages: Sequence[str], since_us: int, until_us: int) -> pd.DataFrame:
    """How many journeys reached each stage in (since, until]. (Per-stage counts, not a
    cohort: a cohort join costs seconds at a million leads, and journeys last minutes.)"""
    return _funnel(store_url(), journey, tuple(stages), since_us, until_us)


@st.cache_data(ttl=TTL, show_spinner=False)
def _latencies(url: str, journey: str, start: str, end: str, since_us: int, until_us: int,
               limit: int, sla: str | None) -> pd.Series:
    if sla is not None:  # the engine's population rows: one range scan, waits precomputed
        p = sla_population
        query = (select((p.c.d_us / 1e6).label("seconds"))
                 .where(p.c.pkey == sla, p.c.f_us > since_us, p.c.f_us <= until_us,
                        p.c.t_us <= until_us, p.c.matched.is_(True))
                 .order_by(p.c.f_us.desc()).limit(limit))
        return _frame(url, query)["seconds"].astype(float)
    f, t = journey_stages.alias("f"), journey_stages.alias("t")
    query = (select(((t.c.first_us - f.c.first_us) / 1e6).label("seconds"))
             .select_from(f.join(t, and_(t.c.journey == f.c.journey, t.c.jkey == f.c.jkey,
                                         t.c.stage == end)))
             .where(f.c.journey == journey, f.c.stage == start, f.c.first_us > since_us,
                    f.c.first_us <= until_us, t.c.first_us <= until_us)
             .order_by(f.c.first_us.desc()).limit(limit))
    return _frame(url, query)["seconds"].astype(float)


def latencies(journey: str, start: str, end: str, since_us: int, until_us: int,
              sla: str | None = None, limit: int = 20_000) -> pd.Series:
    """Seconds from `start` to `end` of the newest `limit` journeys that started in the span
    and got there; for an SLA's hop, only the journeys its `where` selects."""
    key = None
    if sla is not None:
        found = definitions().sla(sla)
        assert isinstance(found, JourneySla)
        key = population_key(found, definitions())
    return _latencies(store_url(), journey, start, end, since_us, until_us, limit, key)


@st.cache_data(ttl=TTL, show_spinner=False)
def _stalls(url: str, config: str, journey: str, at_us: int) -> StallReport:
    return find_stalls(_store(url), _definitions(config), journey, at_us, refresh=False)


def stalls(journey: str, at_us: int) -> StallReport:
    """Journeys stalled at `at_us` (from the stage table the evaluator keeps current)."""
    return _stalls(store_url(), config_dir(), journey, at_us)


def stalls_frame(report: StallReport) -> pd.DataFrame:
    columns = ["key", "last_stage", "last_at_us", "next_stage", "owner", "stalled_for_s",
               "started_us"]
    return pd.DataFrame([dataclasses.astuple(s) for s in report.stalled], columns=columns)


@st.cache_data(ttl=TTL, show_spinner=False)
def _timeline(url: str, config: str, key: str, journey: str | None, at_us: int) -> Timeline:
    return lead_timeline(_store(url), _definitions(config), key, journey, at_us, refresh=False)


def timeline(key: str, journey: str | None, at_us: int) -> Timeline:
    """One lead's stages, records, spans and stall (EvaluationError when unknown)."""
    return _timeline(store_url(), config_dir(), key, journey, at_us)


# --- sources ---

@st.cache_data(ttl=TTL, show_spinner=False)
def _sources(url: str) -> pd.DataFrame:
    runs = (select(ingest_runs.c.source, func.max(ingest_runs.c.format).label("format"),
                   func.max(ingest_runs.c.finished_us).label("last_run_us"),
                   func.sum(ingest_runs.c.accepted).label("run_accepted"),
                   func.sum(ingest_runs.c.duplicate).label("run_duplicate"),
                   func.sum(ingest_runs.c.rejected).label("run_rejected"))
            .group_by(ingest_runs.c.source))
    status = _frame(url, select(source_status))
    return status.merge(_frame(url, runs), on="source", how="outer").sort_values("source")


def sources() -> pd.DataFrame:
    """Per source: collector status (if a collector runs it) merged with its ingest runs."""
    return _sources(store_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def _newest_by_type(url: str, types: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    with _store(url).engine.connect() as conn:
        for etype in types:
            newest = conn.execute(select(func.max(events.c.time_us))
                                  .where(events.c.type == etype)).scalar()
            rows.append({"type": etype, "newest_us": newest})
    return pd.DataFrame(rows, columns=["type", "newest_us"])


def newest_by_type(types: Sequence[str]) -> pd.DataFrame:
    """The newest record time of each event type (one index lookup per type)."""
    return _newest_by_type(store_url(), tuple(types))


@st.cache_data(ttl=TTL, show_spinner=False)
def _ingest_rate(url: str, since_us: int) -> pd.DataFrame:
    r = ingest_runs
    hour = (r.c.started_us // HOUR_US) * HOUR_US
    query = (select(hour.label("hour_us"), r.c.source, func.sum(r.c.accepted).label("accepted"),
                    func.sum(r.c.rejected).label("rejected"))
             .where(r.c.started_us > since_us).group_by(hour, r.c.source).order_by(hour))
    return _frame(url, query)


def ingest_rate(since_us: int) -> pd.DataFrame:
    return _ingest_rate(store_url(), since_us)


@st.cache_data(ttl=TTL, show_spinner=False)
def _reject_reasons(url: str, sample: int) -> pd.DataFrame:
    newest = select(rejects.c.source, rejects.c.reason).order_by(
        rejects.c.id.desc()).limit(sample).subquery()
    return _frame(url, select(newest.c.source, newest.c.reason, func.count().label("records"))
                  .group_by(newest.c.source, newest.c.reason).order_by(func.count().desc()))


def reject_reasons(sample: int = 10_000) -> pd.DataFrame:
    """Rejected records by source and reason, over the newest `sample` rejects."""
    return _reject_reasons(store_url(), sample)


@st.cache_data(ttl=TTL, show_spinner=False)
def _rejects_page(url: str, source: str | None, page: int, size: int) -> tuple[pd.DataFrame, int]:
    r = rejects
    where = [r.c.source == source] if source else []
    query = (select(r.c.id, r.c.source, r.c.format, r.c.location, r.c.reason, r.c.received_us)
             .where(*where).order_by(r.c.id.desc()).offset(page * size).limit(size))
    with _store(url).engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(r).where(*where)).scalar() or 0
    return _frame(url, query), int(total)


def rejects_page(source: str | None, page: int, size: int = 50) -> tuple[pd.DataFrame, int]:
    """One page of rejected records (newest first) and how many there are in all."""
    return _rejects_page(store_url(), source, page, size)


def reject_raw(reject_id: int) -> str | None:
    with store().engine.connect() as conn:
        return conn.execute(select(rejects.c.raw).where(rejects.c.id == reject_id)).scalar()


# --- editor ---

def versions(file: str) -> pd.DataFrame:
    """Saved versions of one SLA file, newest first (never cached: it changes on save)."""
    v = sla_versions
    return _frame(store_url(), select(v.c.id, v.c.file, v.c.author, v.c.created_us,
                                      v.c.message, v.c.diff, v.c.content)
                  .where(v.c.file == file).order_by(v.c.created_us.desc(), v.c.id.desc()))


def dry_run(texts: dict[str, str], names: Sequence[str], until_us: int, days: int,
            step_h: int = 6) -> pd.DataFrame:
    """The named SLAs as currently defined and as edited (all files in `texts`), every
    `step_h` hours over `days` up to `until_us` (slas.preview: nothing is stored). Called on
    request, never from a cached read: a preview may build rows of its own for a while."""
    times = range(until_us - (days * 24 // step_h - 1) * step_h * HOUR_US, until_us + 1,
                  step_h * HOUR_US)
    points = preview(store(), definitions(), load_texts(texts), list(names), list(times))
    return pd.DataFrame([dataclasses.asdict(p) for p in points],
                        columns=["version", "at_us", "sla", "sli", "status", "total", "bad",
                                 "objective"]).sort_values(["version", "at_us"])