"""Property: a preview (slas.preview) of an edit equals a real evaluation of the edited
definitions on a copy of the store, at every point, on SQLite and PostgreSQL; and it leaves the
store as it was."""

from __future__ import annotations

import tempfile

from engine_helpers import CONFIG, MIN, T0, clear, definitions, ev, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_engine_property import event_strategy

from collectors.store import Store
from collectors.tables import cursors, sla_population
from slas import stages
from slas.engine import evaluate
from slas.measure import STATUS_SPANS
from slas.preview import preview

CURRENT = definitions()
EDITS = [
    ("threshold", lambda m: CONFIG.replace("threshold: 10m, objective: 90%, window: 1h}",
                                           f"threshold: {m}m, objective: 90%, window: 1h}}", 1)),
    ("where", lambda m: CONFIG.replace("where: {hot: true}", "where: {hot: false}")),
    ("where-list", lambda m: CONFIG.replace("where: {region: [emea, na]}",
                                            "where: {region: apac}")),
    ("to", lambda m: CONFIG.replace("from: submitted,\n     to: assigned, threshold: 10m, "
                                    "objective: 90%, window: 1h, where: {hot: true}",
                                    "from: submitted,\n     to: routed, threshold: 10m, "
                                    "objective: 90%, window: 1h, where: {hot: true}")),
    ("window", lambda m: CONFIG.replace("within: 10m, objective: 90%, window: 1h",
                                        f"within: 10m, objective: 90%, window: {m + 10}m")),
    ("objective", lambda m: CONFIG.replace("objective: 90%, window: 30m",
                                           "objective: 99%, window: 30m")),
    ("new", lambda m: CONFIG + f"""  - {{name: brand-new, team: sales, kind: latency,
     journey: lead, from: routed, to: assigned, threshold: {m}m, objective: 95%, window: 2h,
     where: {{hot: true}}}}
"""),
]
# dense histories: many whole journeys (the preview's reach back from its first point is what
# a wrong preview gets wrong), plus random events
journey_strategy = st.builds(
    lambda key, start, routed, assigned, hot, region: [
        ev(f"P{key}", "lead.submitted", start, 0, hot=hot, region=region),
        *([ev(f"P{key}", "lead.routed", start + routed, 0)] if routed is not None else []),
        *([ev(f"P{key}", "lead.assigned", start + assigned, 0)] if assigned is not None
          else [])],
    key=st.integers(0, 60), start=st.integers(0, 480).map(lambda m: m / 2),
    routed=st.none() | st.integers(0, 30), assigned=st.none() | st.integers(0, 40),
    hot=st.booleans(), region=st.sampled_from(["emea", "na", "apac"]))
history_strategy = st.tuples(st.lists(event_strategy, max_size=20),
                             st.lists(journey_strategy, min_size=10, max_size=40)).map(
    lambda parts: parts[0] + [e for journey in parts[1] for e in journey])
NAMES = ["fast", "fast-hot", "fast-region", "complete", "fresh", "brand-new"]


def stored(store: Store) -> tuple[list, list]:
    with store.engine.connect() as conn:
        return (conn.execute(select(sla_population).order_by(*sla_population.c)).all(),
                conn.execute(select(cursors.c.name, cursors.c.value)
                             .order_by(cursors.c.name)).all())


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=history_strategy, edit=st.sampled_from(EDITS), minutes=st.integers(1, 30),
       first=st.integers(20, 240), step=st.integers(1, 40), count=st.integers(1, 5))
def test_a_preview_equals_an_evaluation_of_the_edited_definitions_on_a_copy(
        store, batch, edit, minutes, first, step, count):
    clear(store)
    load(store, batch)
    stages.refresh(store, CURRENT)
    edited = definitions(edit[1](minutes))
    times = [T0 + (first + i * step) * MIN for i in range(count)]
    before = stored(store)
    points = preview(store, CURRENT, edited, NAMES, times)
    assert stored(store) == before  # nothing written, nothing left behind

    with tempfile.TemporaryDirectory() as folder:
        copies = {}
        for version, defs in (("current", CURRENT), ("edited", edited)):
            copy = Store.open(f"sqlite:///{folder}/{version}.db")
            load(copy, batch)
            copies[version] = (copy, defs)
        for version, (copy, defs) in copies.items():
            for at in times:
                evaluation = evaluate(copy, defs, at, persist=False, percentiles=False,
                                      spans=STATUS_SPANS)
                for result in evaluation.results:
                    if result.name not in NAMES:
                        continue
                    [point] = [p for p in points if (p.version, p.at_us, p.sla)
                               == (version, at, result.name)]
                    assert (point.sli, point.status, point.total, point.bad) == (
                        result.sli, result.status, result.total, result.bad), (
                        edit[0], version, result.name, at)
            copy.close()
    expected = {(v, s.name) for v, d in (("current", CURRENT), ("edited", edited))
                for s in d.slas}
    assert {(p.version, p.sla) for p in points} == expected
