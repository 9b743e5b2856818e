"""The mapping of each Baton object to its OpenSLO v1 object, shared by export
(`slas.openslo_export` assembles the documents) and import (`slas.openslo_import`).

    team     -> Service          (SLO.spec.service names it)
    journey  -> DataSource       type Baton; connectionDetails hold its key and stages
    SLA      -> SLO              inline SLI: ratioMetric good/total of metric sources of type
                                 Baton; Occurrences (latency, completeness) or Timeslices of
                                 one minute (freshness); a rolling timeWindow; the objective
                                 (and `warn`, a second, stricter objective)
    alerting -> AlertPolicy, AlertCondition, AlertNotificationTarget (slas.openslo_export)

What OpenSLO has no field for is kept in `metadata.annotations` under `baton.dev/`: the kind,
journey, from, to, threshold, within, where, type, source, max_age, severity, the SLA's own
`alerts:` override, and a name or text OpenSLO's limits would change. Those annotations and
the native fields are what `slas.openslo_import` reads back; the SLI is derived from them
(and checked on import), so `export | import` gives back the same definitions.
The mapping table: docs/openslo.md. Pure: definitions in, plain data out.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from slas.openslo_v1 import API_VERSION, DNS_LABEL, MAX_DESCRIPTION, MAX_DISPLAY_NAME
from slas.spec import (
    UNITS,
    CompletenessSla,
    FreshnessSla,
    Journey,
    LatencySla,
    Sla,
    Team,
    format_duration,
)
from slas.spec_text import alerts_data, journey_data, objective_text

BATON = "Baton"
SLICE = "1m"  # freshness is judged on whole minutes (DESIGN.md)
PREFIX = "baton.dev/"  # Baton's annotations: what OpenSLO has no field for


def dns_label(name: str) -> str:
    """An OpenSLO object name for a Baton name: the name itself when it is a DNS label, else
    a slug of it with a hash of the whole name (so different names stay different)."""
    if DNS_LABEL.fullmatch(name):
        return name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:54].strip("-") or "baton"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def shorthand(seconds: int) -> str | None:
    """An OpenSLO duration shorthand (`5m`, `2h`, `7d`); None below whole minutes."""
    if seconds % UNITS["m"]:
        return None
    return format_duration(seconds)


def document(kind: str, name: str, spec: dict[str, Any], display: str | None = None,
             annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One OpenSLO v1 object; a Baton name that is not a DNS label, or a display name too
    long for OpenSLO, is kept whole in an annotation."""
    notes = dict(annotations or {})
    metadata: dict[str, Any] = {"name": dns_label(name)}
    if metadata["name"] != name:
        notes[PREFIX + "name"] = name
    if display is not None:
        metadata["displayName"] = fit(display, MAX_DISPLAY_NAME, "display-name", notes)
    if notes:
        metadata["annotations"] = notes
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def fit(text: str, limit: int, key: str, notes: dict[str, str]) -> str:
    if len(text) <= limit:
        return text
    notes[PREFIX + key] = text
    return text[:limit - 1] + "…"


def described(spec: dict[str, Any], description: str | None, notes: dict[str, str]
              ) -> dict[str, Any]:
    """`spec` with `description` (cut to OpenSLO's 1050 characters, whole in an annotation)."""
    if description is not None:
        spec = {"description": fit(description, MAX_DESCRIPTION, "description", notes),
                **spec}
    return spec


def service_document(key: str, team: Team) -> dict[str, Any]:
    notes: dict[str, str] = {}
    spec = described({}, team.description, notes)
    return document("Service", key, spec, display=team.name, annotations=notes)


def data_source_document(name: str, journey: Journey) -> dict[str, Any]:
    first, last = journey.stages[0].name, journey.stages[-1].name
    text = f"Baton journey {name}: {len(journey.stages)} stages, {first} to {last}"
    spec = {"description": text[:MAX_DESCRIPTION], "type": BATON,
            "connectionDetails": journey_data(journey)}
    return document("DataSource", name, spec)


def sla_annotations(sla: Sla) -> dict[str, str]:
    """The SLA's fields OpenSLO has no place for, as `baton.dev/` annotations (strings:
    lists and mappings as JSON)."""
    notes: dict[str, str] = {PREFIX + "kind": sla.kind}
    if isinstance(sla, FreshnessSla):
        notes[PREFIX + "type"] = json.dumps(list(sla.type))
        if sla.source is not None:
            notes[PREFIX + "source"] = json.dumps(list(sla.source))
        notes[PREFIX + "max-age"] = format_duration(sla.max_age)
    else:
        notes.update({PREFIX + "journey": sla.journey, PREFIX + "from": sla.from_,
                      PREFIX + "to": sla.to})
        if isinstance(sla, LatencySla):
            notes[PREFIX + "threshold"] = format_duration(sla.threshold)
        elif isinstance(sla, CompletenessSla):
            notes[PREFIX + "within"] = format_duration(sla.within)
        if sla.where:
            notes[PREFIX + "where"] = json.dumps(sla.where)
    notes[PREFIX + "severity"] = sla.severity
    if sla.alerts is not None:
        notes[PREFIX + "alerts"] = json.dumps(alerts_data(sla.alerts))
    for key, value in (("objective", sla.objective), ("warn", sla.warn)):
        if value is not None and Decimal(repr(target_number(value))) != value:
            notes[PREFIX + key] = objective_text(value)  # a float would round it
    return notes


def target_number(value: Decimal) -> float:
    """An objective as OpenSLO's `target`: the nearest float below 1 (a float may round
    0.99999999999999999 up to 1, which `target` may not be)."""
    return min(float(value), math.nextafter(1.0, 0.0))


def indicator_spec(sla: Sla, source_ref: str | None) -> dict[str, Any]:
    """The SLI Baton measures for an SLA: good and total counts from metric sources of type
    Baton (`source_ref`: the journey's DataSource)."""
    if isinstance(sla, FreshnessSla):
        good: dict[str, Any] = {"count": "fresh-minutes", "type": list(sla.type)}
        if sla.source is not None:
            good["source"] = list(sla.source)
        good["max_age"] = format_duration(sla.max_age)
        total: dict[str, Any] = {"count": "minutes"}
    else:
        total = {"count": "journeys", "journey": sla.journey, "from": sla.from_}
        if isinstance(sla, CompletenessSla):
            total["within"] = format_duration(sla.within)
        good = {**total, "to": sla.to}
        if isinstance(sla, LatencySla):
            good["threshold"] = format_duration(sla.threshold)
        if sla.where:
            good["where"] = total["where"] = dict(sla.where)
    return {"ratioMetric": {"counter": True, "good": _source(good, source_ref),
                            "total": _source(total, source_ref)}}


def _source(spec: dict[str, Any], ref: str | None) -> dict[str, Any]:
    source: dict[str, Any] = {"metricSourceRef": ref} if ref is not None else {}
    return {"metricSource": {**source, "type": BATON, "spec": spec}}


def budgeting_method(sla: Sla) -> str:
    return "Timeslices" if isinstance(sla, FreshnessSla) else "Occurrences"


def objectives(sla: Sla) -> list[dict[str, Any]]:
    """The objective, and `warn` as a second, stricter one."""
    out = []
    for name, value in (("objective", sla.objective), ("warn", sla.warn)):
        if value is None:
            continue
        item: dict[str, Any] = {"displayName": name, "target": target_number(value)}
        if isinstance(sla, FreshnessSla):
            item.update(timeSliceTarget=1, timeSliceWindow=SLICE)
        out.append(item)
    return out


def slo_document(sla: Sla, policies: Sequence[str] = ()) -> dict[str, Any]:
    notes = sla_annotations(sla)
    window = shorthand(sla.window)
    ref = None if isinstance(sla, FreshnessSla) else dns_label(sla.journey)
    spec = described({"service": dns_label(sla.team)}, sla.description, notes)
    spec.update(indicator={"metadata": {"name": dns_label(sla.name)},
                           "spec": indicator_spec(sla, ref)},
                timeWindow=[{"duration": window, "isRolling": True}],
                budgetingMethod=budgeting_method(sla), objectives=objectives(sla))
    if policies:
        spec["alertPolicies"] = [{"alertPolicyRef": name} for name in policies]
    return document("SLO", sla.name, spec, annotations=notes)
