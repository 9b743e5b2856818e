"""A small fake HubSpot + Salesforce API on 127.0.0.1 speaking the real response shapes
(FORMATS.md sections 4 and 5): contact search with `after` paging and the result cap, SOQL
query with `nextRecordsUrl`, bearer tokens (401), and scripted failures such as HubSpot 429
or Salesforce 403 REQUEST_LIMIT_EXCEEDED with `Retry-After`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

HUBSPOT_DEFAULTS = ("createdate", "email", "firstname", "lastname", "lastmodifieddate",
                    "hs_object_id")
SF_DATETIME = "%Y-%m-%dT%H:%M:%S.%f%z"


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeCrm:
    token: str = "test-token"
    contacts: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    hubspot_cap: int = 10_000
    salesforce_batch: int = 2000
    script: list[Scripted] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeCrm:
        fake = self

        class Handler(_Handler):
            crm = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # --- HubSpot ---

    def search(self, body: dict[str, Any]) -> tuple[int, Any]:
        since = int(body["filterGroups"][0]["filters"][0]["value"])
        matching = sorted((c for c in self.contacts if _ms(c["properties"]["lastmodifieddate"])
                           >= since), key=lambda c: (_ms(c["properties"]["lastmodifieddate"]),
                                                     int(c["id"])))
        limit, after = int(body.get("limit", 10)), int(body.get("after", 0))
        if after + limit > self.hubspot_cap:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": f"Cannot page past {self.hubspot_cap} results.",
                         "correlationId": "c0ffee"}
        wanted = set(body.get("properties") or HUBSPOT_DEFAULTS)
        page = [_project(c, wanted) for c in matching[after:after + limit]]
        reply: dict[str, Any] = {"total": len(matching), "results": page}
        if after + limit < len(matching):
            reply["paging"] = {"next": {"after": str(after + limit),
                                        "link": f"?after={after + limit}"}}
        return 200, reply

    # --- Salesforce ---

    def query(self, soql: str, offset: int = 0) -> tuple[int, Any]:
        match = re.search(r"SystemModstamp >= (\S+)", soql)
        since = datetime.fromisoformat(match[1].replace("Z", "+00:00")) if match else None
        rows = sorted((r for r in self.leads if since is None or datetime.strptime(
            r["SystemModstamp"], SF_DATETIME) >= since), key=lambda r: r["SystemModstamp"])
        batch = rows[offset:offset + self.salesforce_batch]
        done = offset + len(batch) >= len(rows)
        reply: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": [
            {"attributes": {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/"
                            f"{r['Id']}"}, **r} for r in batch]}
        if not done:
            self._soql = soql
            reply["nextRecordsUrl"] = (f"/services/data/v62.0/query/01gRO0000016PIAYA2-"
                                       f"{offset + len(batch)}")
        return 200, reply


class _Handler(BaseHTTPRequestHandler):
    crm: FakeCrm

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self._answer("POST", body)

    def do_GET(self) -> None:
        self._answer("GET", None)

    def _answer(self, method: str, body: Any) -> None:
        crm = self.crm
        crm.requests.append((method, self.path, body))
        salesforce = self.path.startswith("/services/")
        if self.headers.get("Authorization") != f"Bearer {crm.token}":
            self._send(401, [{"message": "Session expired or invalid",
                              "errorCode": "INVALID_SESSION_ID"}] if salesforce else {
                "status": "error", "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION", "correlationId": "c0ffee"})
            return
        if crm.script:
            scripted = crm.script.pop(0)
            self._send(scripted.status, scripted.body, scripted.headers)
            return
        self._send(*self._route(method, body))

    def _route(self, method: str, body: Any) -> tuple[int, Any]:
        url = urlsplit(self.path)
        if method == "POST" and url.path == "/crm/v3/objects/contacts/search":
            return self.crm.search(body)
        if url.path.endswith("/query"):
            return self.crm.query(parse_qs(url.query)["q"][0])
        more = re.fullmatch(r"/services/data/v[\d.]+/query/[\w]+-(\d+)", url.path)
        if more:
            return self.crm.query(self.crm._soql, int(more[1]))
        return 404, {"status": "error", "message": f"no route {url.path}"}

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _project(contact: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    props = {k: v for k, v in contact["properties"].items() if k in wanted}
    for name in wanted:
        props.setdefault(name, None)
    props["hs_object_id"] = contact["id"]
    return {"id": contact["id"], "properties": props, "createdAt": props.get("createdate"),
            "updatedAt": contact["properties"]["lastmodifieddate"], "archived": False}
