"""The metrics store's tables (SQLAlchemy Core), one `MetaData` for every layer.

Times are BIGINT microseconds since the Unix epoch (UTC): one unit on SQLite and PostgreSQL,
cheap to index and to subtract. JSON payloads are stored as text.
The Alembic migrations in `collectors/migrations` create exactly these tables; a test keeps
them in step.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
Id = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("time_us", BigInteger, nullable=False),
    Column("time_inferred", Boolean, nullable=False, default=False),
    Column("subject", String),
    Column("correlationid", String),
    Column("consentscope", String),
    Column("traceparent", String),
    Column("datacontenttype", String),
    Column("dataschema", String),
    Column("data", Text, doc="JSON text of `data`"),
    Column("data_base64", Text),
    Column("extensions", Text, doc="JSON object of other extension attributes"),
    Column("received_us", BigInteger, nullable=False),
    Column("run_id", BigInteger),
    UniqueConstraint("source", "event_id", name="uq_events_source_id"),
    Index("ix_events_correlation_time", "correlationid", "time_us"),
    Index("ix_events_type_time", "type", "time_us"),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("format", String, nullable=False),
    Column("location", String, doc="where the record was: file:line, queue, endpoint"),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("run_id", BigInteger),
    Index("ix_rejects_source_received", "source", "received_us"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("format", String, nullable=False),
    Column("input", String),
    Column("started_us", BigInteger, nullable=False),
    Column("finished_us", BigInteger),
    Column("accepted", BigInteger, nullable=False, default=0),
    Column("duplicate", BigInteger, nullable=False, default=0),
    Column("rejected", BigInteger, nullable=False, default=0),
    Index("ix_ingest_runs_source_started", "source", "started_us"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

source_status = Table(
    "source_status",
    metadata,
    Column("source", String, primary_key=True),
    Column("kind", String),
    Column("last_attempt_us", BigInteger),
    Column("last_success_us", BigInteger),
    Column("last_error", Text),
    Column("last_error_us", BigInteger),
    Column("newest_event_us", BigInteger),
    Column("lag_s", Float),
    Column("consecutive_errors", BigInteger, nullable=False, default=0, server_default="0",
           doc="errors since the last successful poll (DeliveryFailing)"),
    Column("accepted", BigInteger, nullable=False, default=0),
    Column("duplicate", BigInteger, nullable=False, default=0),
    Column("rejected", BigInteger, nullable=False, default=0),
)

spans = Table(
    "spans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("trace_id", String, nullable=False),
    Column("span_id", String, nullable=False),
    Column("parent_span_id", String),
    Column("name", String, nullable=False),
    Column("service", String),
    Column("kind", Integer),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("status_code", Integer),
    Column("status_message", Text),
    Column("attributes", Text),
    Column("correlationid", String),
    Column("source", String),
    Column("received_us", BigInteger, nullable=False),
    UniqueConstraint("trace_id", "span_id", name="uq_spans_trace_span"),
    Index("ix_spans_correlation", "correlationid", "start_us"),
)

# --- derived by the SLA engine (rebuildable from `events`) ---

journey_stages = Table(
    "journey_stages",
    metadata,
    Column("journey", String, primary_key=True),
    Column("jkey", String, primary_key=True),
    Column("stage", String, primary_key=True),
    Column("first_us", BigInteger, nullable=False, doc="time of the stage's first event"),
    Index("ix_journey_stages_stage_time", "journey", "stage", "first_us", "jkey"),
    sqlite_with_rowid=False,  # clustered on the key: one seek per journey lookup
)

journey_open = Table(
    "journey_open",
    metadata,
    Column("journey", String, primary_key=True),
    Column("jkey", String, primary_key=True),
    sqlite_with_rowid=False,
    comment="journeys that have not reached their final stage (stall candidates)",
)

journey_attrs = Table(
    "journey_attrs",
    metadata,
    Column("journey", String, primary_key=True),
    Column("jkey", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("time_us", BigInteger, primary_key=True),
    Column("source", String, primary_key=True),
    Column("event_id", String, primary_key=True),
    Column("value", Text, nullable=False, doc="the attribute's value as JSON text"),
    sqlite_with_rowid=False,
)

sla_population = Table(
    "sla_population",
    metadata,
    Column("pkey", String, primary_key=True, doc="the population's key: a fingerprint of "
           "what selects its journeys (journey, from, to, where), shared by the SLAs using it"),
    Column("f_us", BigInteger, primary_key=True, doc="time the journey reached `from`"),
    Column("jkey", String, primary_key=True),
    Column("t_us", BigInteger, doc="time it reached `to` (NULL: not yet)"),
    Column("d_us", BigInteger, doc="t_us - f_us"),
    Column("matched", Boolean, nullable=False, doc="`where` holds for its final attributes"),
    Column("settled_us", BigInteger, doc="time of its newest attribute event: `matched` is "
           "the answer for any T at or after it"),
    Index("ix_sla_population_key", "pkey", "jkey"),
    Index("ix_sla_population_wait", "pkey", "d_us", "f_us", "t_us", "matched", "settled_us"),
    sqlite_with_rowid=False,
    comment="one row per journey of each journey SLA population, clustered by `from` time",
)

sla_rollups = Table(
    "sla_rollups",
    metadata,
    Column("okey", String, primary_key=True, doc="outcome key: population, kind and limit"),
    Column("basis", String, primary_key=True, doc="f: by the hour of `from`; k: by the hour "
           "the outcome became known"),
    Column("hour_us", BigInteger, primary_key=True),
    Column("good", BigInteger, nullable=False),
    Column("bad", BigInteger, nullable=False),
    Column("reached", BigInteger, nullable=False),
    Column("final_us", BigInteger, nullable=False, doc="from this time on the counts are "
           "final: every journey of the hour decided, settled and (if at all) reached"),
    sqlite_with_rowid=False,
    comment="hourly roll-ups of journey SLA outcomes (slas.rollups), rebuildable",
)

sla_results = Table(
    "sla_results",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sla", String, nullable=False),
    Column("evaluated_at_us", BigInteger, nullable=False),
    Column("team", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("window_s", BigInteger, nullable=False),
    Column("objective", Float, nullable=False),
    Column("good", BigInteger, nullable=False),
    Column("bad", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("sli", Float),
    Column("budget_remaining", Float),
    Column("burn_1h", Float),
    Column("burn_6h", Float),
    Column("status", String, nullable=False),
    Column("p50_s", Float),
    Column("p95_s", Float),
    Column("p99_s", Float),
    Column("computed_us", BigInteger, nullable=False),
    Column("spans", Text, doc="JSON {span: [good, bad]}: the outcomes that became known within "
           "each burn-rate span (what the alert rules read)"),
    UniqueConstraint("sla", "evaluated_at_us", name="uq_sla_results_sla_at"),
    Index("ix_sla_results_at", "evaluated_at_us"),
)

team_results = Table(
    "team_results",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("team", String, nullable=False),
    Column("evaluated_at_us", BigInteger, nullable=False),
    Column("status", String, nullable=False, doc="the team's worst SLA's status"),
    Column("slas_ok", BigInteger, nullable=False, doc="SLAs meeting their objective"),
    Column("slas_total", BigInteger, nullable=False),
    Column("worst_sla", String),
    Column("budget_remaining", Float, doc="the least budget left among its SLAs"),
    UniqueConstraint("team", "evaluated_at_us", name="uq_team_results_team_at"),
    Index("ix_team_results_at", "evaluated_at_us"),
    comment="the engine's team roll-up of each evaluation (what the scorecards show)",
)

breaches = Table(
    "breaches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sla", String, nullable=False),
    Column("team", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("opened_at_us", BigInteger, nullable=False),
    Column("closed_at_us", BigInteger),
    Column("last_seen_us", BigInteger, nullable=False),
    Column("worst_sli", Float),
    Column("stalled_stage", String),
    Column("stalled_owner", String),
    Column("stalled_count", BigInteger),
    Index("ix_breaches_sla_open", "sla", "closed_at_us"),
    Index("ix_breaches_opened", "opened_at_us"),
)

sla_versions = Table(
    "sla_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("file", String, nullable=False),
    Column("content", Text, nullable=False),
    Column("author", String, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("diff", Text),
    Column("message", Text),
    Index("ix_sla_versions_file", "file", "created_us"),
)

# --- alerting ---

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String, nullable=False, doc="dedup key: baton/<alertname>/<subject>[/<window>]"),
    Column("alertname", String, nullable=False),
    Column("labels", Text, nullable=False, doc="JSON object of the alert's labels"),
    Column("team", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("sla", String),
    Column("state", String, nullable=False, doc="firing | silenced | resolved"),
    Column("since_us", BigInteger, nullable=False, doc="evaluation time it started firing"),
    Column("ended_us", BigInteger, doc="evaluation time it resolved (NULL while active)"),
    Column("evaluated_us", BigInteger, nullable=False, doc="evaluation time last decided"),
    Column("summary", Text, nullable=False),
    Column("details", Text, doc="JSON: SLI, objective, budget, burn rates, stalled stage ..."),
    Column("silence_id", BigInteger, doc="the silence muting it, while silenced"),
    Column("escalated", Boolean, nullable=False, default=False),
    UniqueConstraint("key", "since_us", name="uq_alerts_key_since"),
    Index("ix_alerts_active", "ended_us", "key"),
    Index("ix_alerts_sla", "sla", "since_us"),
    comment="one row per alert episode (from firing to resolved)",
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, nullable=False),
    Column("key", String, nullable=False, doc="the alert's dedup key"),
    Column("target", String, nullable=False),
    Column("team", String, nullable=False, doc="the group: one message per team per cycle"),
    Column("action", String, nullable=False, doc="trigger | resolve"),
    Column("reason", String, nullable=False, doc="firing | repeat | escalation | resolved"),
    Column("state", String, nullable=False, doc="pending | sent | failed"),
    Column("at_us", BigInteger, nullable=False, doc="evaluation time it was decided at"),
    Column("created_us", BigInteger, nullable=False, doc="wall-clock time it was written"),
    Column("due_us", BigInteger, nullable=False, doc="not sent before (group_wait, backoff)"),
    Column("give_up_us", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("sent_us", BigInteger),
    Index("ix_notifications_due", "state", "due_us"),
    Index("ix_notifications_alert", "alert_id", "target"),
    comment="the outbox: written before it is sent; `sent` commits after the target's 2xx",
)

silences = Table(
    "silences",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matchers", Text, nullable=False, doc='JSON {"sla": [...], "team": [...], '
           '"alertname": [...]}: every given kind must match, any of its values'),
    Column("starts_us", BigInteger, nullable=False),
    Column("ends_us", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("ended_by", String),
    Column("ended_us", BigInteger, doc="when it was ended early (NULL: runs to ends_us)"),
    Index("ix_silences_ends", "ends_us"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String, primary_key=True),
    Column("holder", String, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    comment="one process at a time does the work named (e.g. dispatching notifications)",
)

# --- the service (`baton serve`) ---

evaluation_runs = Table(
    "evaluation_runs",
    metadata,
    Column("evaluated_at_us", BigInteger, primary_key=True, doc="the evaluation's T"),
    Column("started_us", BigInteger, nullable=False, doc="wall-clock time it started"),
    Column("duration_s", Float, nullable=False, doc="refresh + every SLA + stalls, seconds"),
    Column("slas", Integer, nullable=False),
    Column("process", String, nullable=False, doc="host:pid of the evaluating process"),
    comment="one row per scheduled evaluation of `baton serve` (what /metrics reports)",
)

stall_counts = Table(
    "stall_counts",
    metadata,
    Column("evaluated_at_us", BigInteger, primary_key=True),
    Column("journey", String, primary_key=True),
    Column("stage", String, primary_key=True, doc="the last stage the journeys reached"),
    Column("owner", String, nullable=False, doc="the team owing the next stage"),
    Column("stalled", BigInteger, nullable=False),
    comment="journeys stalled per stage at each scheduled evaluation (the evaluator's count)",
)
