"""Planner statistics for a long-running service on PostgreSQL.

Baton's queries depend on PostgreSQL knowing how big its tables are: without statistics the
planner takes a growing `journey_stages` for a handful of rows and chooses nested loops that
made one refresh of 3,000 new events take 80 s instead of 0.4 s (benchmarks/soak.py, on a
server with autovacuum off). Autovacuum's analyze normally keeps them current; where it is
off, or lags behind a store growing by hundreds of events a second, `refresh_statistics`
does the same thing itself: it ANALYZEs each of the store's tables modified by more than
`fraction` of its rows (plus `floor`) since it was last analyzed, as autovacuum would.
"""

from __future__ import annotations

from sqlalchemy import text

from collectors.store import Store
from collectors.tables import metadata

FRACTION = 0.1  # autovacuum_analyze_scale_factor's default
FLOOR = 1000  # rows changed before a small table is worth analyzing again


def refresh_statistics(store: Store, fraction: float = FRACTION, floor: int = FLOOR
                       ) -> list[str]:
    """ANALYZE the tables whose statistics are stale; their names (none on SQLite)."""
    if store.dialect != "postgresql":
        return []
    with store.engine.connect() as conn:
        stale = [row[0] for row in conn.execute(text(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND relname = ANY(:names) AND n_mod_since_analyze > :floor + :fraction * "
            "n_live_tup ORDER BY relname"),
            {"names": sorted(metadata.tables), "floor": floor, "fraction": fraction})]
    if stale:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in stale:
                conn.exec_driver_sql(f'ANALYZE "{table}"')
    return stale
