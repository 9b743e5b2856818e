"""CRM collectors over `requests`: HubSpot CRM v3 contact search and Salesforce SOQL on Lead
(FORMATS.md sections 4 and 5).

Both poll incrementally from a watermark (HubSpot `lastmodifieddate`, Salesforce
`SystemModstamp`) persisted in the store's cursors with each page, re-reading an `overlap`
window behind it so records sharing a timestamp or written late are not missed (re-read
records are duplicates and stored once). Rate limits (HubSpot 429, Salesforce 403
`REQUEST_LIMIT_EXCEEDED`) and 5xx are retried, honouring `Retry-After`. The
`requests.Session`, the clock and the sleep function are passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from collectors.counts import RecordBatch, WriteCounts
from collectors.errors import CollectorError, InvalidEvent
from collectors.mapping import MISSING, SourceMap, coerce_time, lookup, map_record
from collectors.privacy import mask_text
from collectors.runner import Poll, commit, newest
from collectors.schema import Event, format_time
from collectors.sources import HubSpotSource, SalesforceSource, secret, source_map
from collectors.store import Reject, Store, now_us

Sleep = Callable[[float], None]
Clock = Callable[[], float]
MAX_RETRIES = 6
# the watermark; every other property is asked for only when the mapping or `properties`
# names it (a personal field that nothing reads is not collected)
HUBSPOT_PROPERTIES = ("lastmodifieddate",)
SALESFORCE_FIELDS = ("Id", "OwnerId", "Status", "IsConverted", "ConvertedDate", "CreatedDate",
                     "LastModifiedDate", "SystemModstamp")


class CrmError(CollectorError):
    """A CRM API call failed for a reason the user has to fix or wait out."""


class CrmAuthError(CrmError):
    """The API refused the token (401)."""


def hubspot_page(obj: Any) -> list[Any] | None:
    """The contacts of a search response page; None when `obj` is not a page."""
    if isinstance(obj, dict) and isinstance(obj.get("results"), list):
        return list(obj["results"])
    return None


def salesforce_page(obj: Any) -> list[Any] | None:
    """The records of a query response; None when `obj` is not a response."""
    if isinstance(obj, dict) and isinstance(obj.get("records"), list):
        return list(obj["records"])
    return None


def parse_hubspot(obj: Any, mapping: SourceMap) -> list[Event]:
    """Events for one contact, or every contact of a search response page."""
    if (contacts := hubspot_page(obj)) is not None:
        return [e for contact in contacts for e in parse_hubspot(contact, mapping)]
    if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("properties"),
                                                                     dict):
        raise InvalidEvent("not a HubSpot contact: 'id' and a 'properties' object are "
                           "required (a result of POST /crm/v3/objects/contacts/search)")
    return map_record(obj, mapping, str(obj["id"]), subject=f"contacts/{obj['id']}")


def parse_salesforce(obj: Any, mapping: SourceMap) -> list[Event]:
    """Events for one Lead record, or every record of a query response."""
    if (records := salesforce_page(obj)) is not None:
        return [e for record in records for e in parse_salesforce(record, mapping)]
    if not isinstance(obj, dict) or not obj.get("Id"):
        raise InvalidEvent("not a Salesforce Lead record: 'Id' is required (a record of "
                           "GET /services/data/vXX.X/query)")
    return map_record(obj, mapping, str(obj["Id"]), subject=f"Lead/{obj['Id']}")


class Api:
    """One CRM's HTTP calls: bearer token, retries with backoff, errors as sentences."""

    def __init__(self, session: requests.Session, name: str, token: str, sleep: Sleep,
                 limited: Callable[[requests.Response], bool], describe: Callable[..., str]
                 ) -> None:
        self.session, self.name, self.sleep = session, name, sleep
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.limited, self.describe = limited, describe

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        for attempt in range(MAX_RETRIES + 1):
            response = self._send(method, url, **kwargs)
            if response.status_code == 401:
                raise CrmAuthError(f"source {self.name!r}: the API refused the token (401: "
                                   f"{self.describe(response)}); renew it and update the "
                                   "environment variable")
            retry = self.limited(response) or response.status_code >= 500
            if not retry:
                break
            if attempt == MAX_RETRIES:
                raise CrmError(f"source {self.name!r}: still rate limited or failing after "
                               f"{MAX_RETRIES} retries ({response.status_code}: "
                               f"{self.describe(response)}); it will be retried next poll")
            self.sleep(retry_after(response) or min(2.0 ** attempt, 60.0))
        if response.status_code >= 400:
            raise CrmError(f"source {self.name!r}: {method} {url.split('?')[0]} failed "
                           f"({response.status_code}: {self.describe(response)})")
        try:
            return response.json()
        except ValueError:
            raise CrmError(f"source {self.name!r}: the API answered with something that is "
                           "not JSON; check the base URL") from None

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, headers=self.headers, timeout=30,
                                        **kwargs)
        except requests.RequestException as exc:
            raise CrmError(f"source {self.name!r}: cannot reach {url.split('?')[0]} "
                           f"({type(exc).__name__}); check the URL and the network") from None


def retry_after(response: requests.Response) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP-date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class _Watermarked:
    """A source polled from a watermark (epoch microseconds) kept in the cursors table."""

    kind = ""

    def __init__(self, store: Store, name: str, source: HubSpotSource | SalesforceSource,
                 clock: Clock) -> None:
        self.store, self.name, self.source, self.clock = store, name, source, clock
        self.mapping = source_map(name, source)
        self.cursor = f"watermark:{name}"

    def _watermark(self) -> tuple[int, int]:
        """(the saved watermark, where to start reading: the watermark less the overlap)."""
        saved = self.store.get_cursor(self.cursor)
        if saved is None:
            start = int((self.clock() - self.source.backfill) * 1e6)
            return start, start
        return int(saved), int(saved) - int(self.source.overlap * 1e6)

    def _commit_page(self, records: list[Any], parse: Callable[[Any, SourceMap], list[Event]],
                     modified: str, mark: int) -> tuple[WriteCounts, int, list[Event]]:
        events = RecordBatch()  # counted by record: a contact may make two events
        rejects: list[Reject] = []
        received = now_us()
        for record in records:
            try:
                events.add(parse(record, self.mapping))
                mark = max(mark, coerce_time(lookup(record, modified), modified))
            except InvalidEvent as exc:
                rejects.append(Reject(self.name, self.kind, f"{self.kind}:{_id(record)}",
                                      str(exc), _raw(record), received))
        counts = commit(self.store, events, rejects, cursor=(self.cursor, str(mark)))
        return counts, mark, events

    def close(self) -> None:
        pass


class HubSpotCollector(_Watermarked):
    """Contacts modified since the watermark, via POST /crm/v3/objects/contacts/search."""

    kind = "hubspot"

    def __init__(self, store: Store, name: str, source: HubSpotSource,
                 session: requests.Session, *, sleep: Sleep = time.sleep,
                 clock: Clock = time.time) -> None:
        super().__init__(store, name, source, clock)
        self.hubspot = source
        token = secret(source.token_env, f"source {name!r}") or ""
        self.api = Api(session, name, token, sleep, lambda r: r.status_code == 429,
                       _hubspot_message)
        self.url = source.base_url.rstrip("/") + "/crm/v3/objects/contacts/search"

    def poll(self) -> Poll:
        total, newest_us = WriteCounts(), None
        mark, since = self._watermark()
        for page in self._pages(since):
            counts, mark, events = self._commit_page(
                page, parse_hubspot, "properties.lastmodifieddate", mark)
            total += counts
            newest_us = max(filter(None, [newest_us, newest(events)]), default=None)
        return Poll(total, more=False, newest_us=newest_us)

    def _pages(self, since_us: int) -> Iterator[list[Any]]:
        after: str | None = None
        window_start = since_us
        while True:
            reply = self.api.call("POST", self.url, json=self._body(window_start, after))
            results = reply.get("results") or []
            yield results
            after = (((reply.get("paging") or {}).get("next")) or {}).get("after")
            if not after:
                return
            if int(after) + self.hubspot.page_size > self.hubspot.max_results:
                # the search stops at 10,000 results: restart from the newest time seen
                restart = _newest_modified(results)
                if restart is None or restart <= window_start:
                    raise CrmError(f"source {self.name!r}: more than "
                                   f"{self.hubspot.max_results} contacts share one "
                                   "lastmodifieddate; narrow the search or raise max_results")
                window_start, after = restart, None

    def _body(self, since_us: int, after: str | None) -> dict[str, Any]:
        properties = sorted({*HUBSPOT_PROPERTIES, *self.hubspot.properties, *_property_names(
            self.mapping)})
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate",
                                           "operator": "GTE", "value": str(since_us // 1000)}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": properties, "limit": self.hubspot.page_size}
        if after:
            body["after"] = after
        return body


class SalesforceCollector(_Watermarked):
    """Leads changed since the watermark, via SOQL on SystemModstamp, following
    `nextRecordsUrl` until `done`."""

    kind = "salesforce"

    def __init__(self, store: Store, name: str, source: SalesforceSource,
                 session: requests.Session, *, sleep: Sleep = time.sleep,
                 clock: Clock = time.time) -> None:
        super().__init__(store, name, source, clock)
        self.salesforce = source
        token = secret(source.token_env, f"source {name!r}") or ""
        self.api = Api(session, name, token, sleep, _salesforce_limited, _salesforce_message)
        self.base = source.instance_url.rstrip("/")

    def poll(self) -> Poll:
        total, newest_us = WriteCounts(), None
        mark, since = self._watermark()
        url: str | None = self._query_url(since)
        while url:
            reply = self.api.call("GET", url)
            counts, mark, events = self._commit_page(
                reply.get("records") or [], parse_salesforce, "SystemModstamp", mark)
            total += counts
            newest_us = max(filter(None, [newest_us, newest(events)]), default=None)
            following = reply.get("nextRecordsUrl")
            url = None if reply.get("done", True) or not following else self.base + following
        return Poll(total, more=False, newest_us=newest_us)

    def soql(self, since_us: int) -> str:
        fields = list(dict.fromkeys([*SALESFORCE_FIELDS, *self.salesforce.fields,
                                     *_field_names(self.salesforce)]))
        since = format_time(since_us - since_us % 1_000_000)
        return (f"SELECT {', '.join(fields)} FROM Lead WHERE SystemModstamp >= {since} "
                "ORDER BY SystemModstamp ASC")

    def _query_url(self, since_us: int) -> str:
        path = f"/services/data/{self.salesforce.api_version}/query"
        return f"{self.base}{path}?q={quote(self.soql(since_us))}"


def _property_names(mapping: SourceMap) -> set[str]:
    paths = [*mapping.key_paths, *mapping.data_paths.values(), mapping.time_path,
             *[r.time for r in mapping.rules if r.time], *[p for r in mapping.rules
                                                           for p in r.when]]
    return {p.split(".", 1)[1] for p in paths if p.startswith("properties.")}


def _field_names(source: SalesforceSource) -> list[str]:
    return [p.split(".")[0] for p in source.key or () if p and p[0].isupper()]


def _newest_modified(results: list[Any]) -> int | None:
    times = [lookup(r, "properties.lastmodifieddate") for r in results]
    valid = [coerce_time(t, "lastmodifieddate") for t in times if t not in (None, MISSING)]
    return max(valid, default=None)


def _salesforce_limited(response: requests.Response) -> bool:
    return response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text


def _hubspot_message(response: requests.Response) -> str:
    """The API's own words, personal data masked: they go to logs and the Sources page."""
    try:
        body = response.json()
    except ValueError:
        return mask_text(response.text[:200]) or response.reason
    if not isinstance(body, dict):
        return mask_text(str(body)[:300])
    return mask_text(str(body.get("message") or body.get("category") or body)[:300])


def _salesforce_message(response: requests.Response) -> str:
    """The API's own words, personal data masked: they go to logs and the Sources page."""
    try:
        body = response.json()
    except ValueError:
        return mask_text(response.text[:200]) or response.reason
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return mask_text(f"{body[0].get('errorCode')}: {body[0].get('message')}"[:300])
    return mask_text(str(body)[:300])


def _id(record: Any) -> str:
    if isinstance(record, dict):
        return str(record.get("id") or record.get("Id") or "?")
    return "?"


def _raw(record: Any) -> str:
    import orjson

    return orjson.dumps(record).decode()[:65536]
