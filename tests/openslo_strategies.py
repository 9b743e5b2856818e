"""Hypothesis strategies for valid `baton/v1` SLA files, for the OpenSLO round trip.

They reach what OpenSLO's limits would change: team keys and SLA names that are not DNS
labels (dots, underscores, capitals, accents, over 63 characters), display names over 63 and
descriptions over 1050 characters, typed `where` values (booleans, integers, floats, lists),
objectives with more digits than a float holds, several event types and sources, severities,
per-SLA `alerts:` overrides; windows are whole minutes (the only ones OpenSLO can hold).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from slas.spec import ENVELOPE_KEYS

WORD = st.text("abcxyz019-._", min_size=1, max_size=8).filter(lambda w: w[0].isalnum())
TEAM_KEY = st.one_of(st.sampled_from(["sales-ops", "platform", "Sales Ops", "ops.eu", "é"]),
                     st.text("abcXY-_. é0", min_size=1, max_size=70))
TEXT = st.one_of(st.text("abc xyz,.'-:é", max_size=80), st.just("word " * 220))
SLA_NAME = st.builds(lambda head, tail: head + tail, st.sampled_from("abc0"),
                     st.text("abc09._-", max_size=70))
SCALAR = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.text("ab1 ", max_size=5),
                   st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
WHERE = st.dictionaries(st.text("abcd_", min_size=1, max_size=6),
                        st.one_of(SCALAR, st.lists(SCALAR, min_size=1, max_size=3)), max_size=3)
# (limit, a window longer than it); every window is whole minutes
LIMITS = [("30s", "1h"), ("90s", "2m"), ("5m", "7d"), ("2h", "1d"), ("15m", "90m")]
BURN = st.fixed_dictionaries({"long": st.just("1h"), "short": st.just("5m"),
                              "factor": st.sampled_from([1, 1.5, "2"])})
ALERTS = st.one_of(
    st.none(), st.just("off"), st.just({}),
    st.fixed_dictionaries({}, optional={
        "rules": st.lists(st.sampled_from(["SLABreached", "ErrorBudgetBurn"]), unique=True),
        "min_events": st.integers(1, 1000),
        "burn": st.fixed_dictionaries({}, optional={"fast": st.lists(BURN, max_size=2),
                                                    "slow": st.lists(BURN, max_size=1)})}))


@st.composite
def objectives(draw: st.DrawFn) -> tuple[str, str | None]:
    """(objective, warn or None): percentages, ratios, and ratios with 20 digits."""
    digits = draw(st.integers(1, 20))
    scale = 10 ** digits
    low = draw(st.integers(scale // 2, scale - 2))
    objective = Decimal(low) / scale
    text = draw(st.sampled_from([f"{objective:f}", f"{objective * 100:f}%"]))
    if not draw(st.booleans()):
        return text, None
    warn = Decimal(draw(st.integers(low + 1, scale - 1))) / scale
    return text, f"{warn:f}"


@st.composite
def journeys(draw: st.DrawFn, teams: list[str]) -> dict[str, Any]:
    names = draw(st.lists(st.text("abc.-_X", min_size=1, max_size=66), min_size=0,
                          max_size=2, unique=True))
    out = {}
    for index, name in enumerate(names):
        stage_names = draw(st.lists(WORD, min_size=2, max_size=4, unique=True))
        stages = []
        for position, stage in enumerate(stage_names):
            item: dict[str, Any] = {"name": stage, "owner": draw(st.sampled_from(teams)),
                                    "on": [f"t{index}.{position}.{n}" for n in
                                           range(draw(st.integers(1, 2)))]}
            if draw(st.booleans()):
                item["stall_after"] = draw(st.sampled_from(["30s", "5m", "2h"]))
            if draw(st.booleans()):
                item["fails_on"] = [f"t{index}.{position}.failed"]
            stages.append(item)
        out[name] = {"key": draw(st.sampled_from(ENVELOPE_KEYS)), "stages": stages}
    return out


@st.composite
def sla(draw: st.DrawFn, name: str, teams: list[str], journeys: dict[str, Any]
        ) -> dict[str, Any]:
    kinds = ["freshness"] + (["latency", "completeness"] if journeys else [])
    kind = draw(st.sampled_from(kinds))
    limit, window = draw(st.sampled_from(LIMITS))
    objective, warn = draw(objectives())
    data: dict[str, Any] = {"name": name, "team": draw(st.sampled_from(teams)), "kind": kind}
    if draw(st.booleans()):
        data["description"] = draw(TEXT)
    if kind == "freshness":
        data["type"] = draw(st.one_of(st.just("com.acme.x"),
                                      st.lists(WORD, min_size=1, max_size=3, unique=True)))
        if draw(st.booleans()):
            data["source"] = draw(st.lists(WORD, min_size=1, max_size=2, unique=True))
        data["max_age"] = limit
    else:
        journey = draw(st.sampled_from(sorted(journeys)))
        stages = [s["name"] for s in journeys[journey]["stages"]]
        start = draw(st.integers(0, len(stages) - 2))
        end = draw(st.integers(start + 1, len(stages) - 1))
        data.update(journey=journey, **{"from": stages[start], "to": stages[end]})
        data["threshold" if kind == "latency" else "within"] = limit
        if where := draw(WHERE):
            data["where"] = where
    data.update(objective=objective, window=window)
    if warn is not None:
        data["warn"] = warn
    if draw(st.booleans()):
        data["severity"] = draw(st.sampled_from(["critical", "warning", "info"]))
    if (alerts := draw(ALERTS)) is not None:
        data["alerts"] = alerts
    return data


@st.composite
def definitions_data(draw: st.DrawFn) -> dict[str, Any]:
    """One valid baton/v1 file as data (teams, journeys, SLAs)."""
    keys = draw(st.lists(TEAM_KEY, min_size=1, max_size=3, unique=True))
    teams = {}
    for key in keys:
        team: dict[str, Any] = {"name": draw(st.one_of(TEXT, st.just("N" * 70)))}
        if draw(st.booleans()):
            team["description"] = draw(TEXT)
        teams[key] = team
    flows = draw(journeys(keys))
    names = draw(st.lists(SLA_NAME, min_size=0, max_size=4, unique=True))
    slas = [draw(sla(name, keys, flows)) for name in names]
    return {"version": "baton/v1", "teams": teams, "journeys": flows, "slas": slas}
