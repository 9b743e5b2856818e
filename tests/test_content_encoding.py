"""Content-Encoding as HTTP clients send it: gzip in several members, names in any case,
`x-gzip`, `deflate` (zlib or raw), lists of codings; the size cap holds while decoding."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator

import orjson
import pytest
import requests
from receiving import serving

from collectors.receiver import HttpError, create_app, decode_content
from collectors.sources import SourcesConfig, parse_sources
from collectors.store import Store
from collectors.tables import events

BODY = b'{"resourceSpans": []}' * 50
LIMIT = 64 * 1024


def two_members(data: bytes) -> bytes:
    half = len(data) // 2
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODED: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "upper-case-GZIP": ("GZIP", gzip.compress),
    "x-gzip": ("x-gzip", gzip.compress),
    "multi-member-gzip": ("gzip", two_members),
    "gzip-padded-with-zeros": ("gzip", lambda d: gzip.compress(d) + b"\0" * 8),
    "deflate-zlib": ("deflate", zlib.compress),
    "deflate-raw": ("Deflate", raw_deflate),
    "identity": ("identity", lambda d: d),
    "gzip-then-identity": ("gzip, identity", gzip.compress),
    "gzip-twice": ("gzip,gzip", lambda d: gzip.compress(gzip.compress(d))),
    "deflate-then-gzip": ("deflate, GZIP", lambda d: gzip.compress(zlib.compress(d))),
}


@pytest.mark.parametrize("case", list(ENCODED), ids=list(ENCODED))
def test_every_coding_clients_send_is_undone_completely(case: str) -> None:
    header, encode = ENCODED[case]
    assert decode_content(encode(BODY), header, LIMIT) == BODY


@pytest.mark.parametrize(("header", "body", "status", "message"), [
    ("br", b"x", 415, "content-encoding 'br' is not supported"),
    ("gzip, zstd", gzip.compress(b"x"), 415, "'zstd' is not supported"),
    ("gzip", b"not gzip at all", 400, "not valid gzip"),
    ("gzip", gzip.compress(BODY)[:-20], 400, "ends in the middle of a member"),
    ("gzip", gzip.compress(BODY) + b"trailing junk", 400, "not valid gzip"),
    ("deflate", b"not deflate", 400, "not valid deflate"),
], ids=["unknown", "unknown-in-a-list", "not-gzip", "cut-short", "junk-after", "not-deflate"])
def test_a_body_that_cannot_be_decoded_gets_a_sentence_and_the_right_status(
        header: str, body: bytes, status: int, message: str) -> None:
    with pytest.raises(HttpError) as caught:
        decode_content(body, header, LIMIT)
    assert caught.value.status == status and message in caught.value.message


@pytest.mark.parametrize("encode", [gzip.compress, two_members, zlib.compress],
                         ids=["gzip", "multi-member", "deflate"])
def test_a_small_body_that_inflates_past_the_limit_is_413_without_inflating_it_all(
        encode: Callable[[bytes], bytes]) -> None:
    bomb = encode(b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < LIMIT
    with pytest.raises(HttpError) as caught:
        decode_content(bomb, "gzip" if encode is not zlib.compress else "deflate", LIMIT)
    assert caught.value.status == 413


def test_each_member_of_a_multi_member_body_counts_toward_the_limit() -> None:
    member = gzip.compress(b"a" * (LIMIT // 2 + 1))
    assert len(decode_content(member, "gzip", LIMIT)) == LIMIT // 2 + 1
    with pytest.raises(HttpError) as caught:
        decode_content(member + member, "gzip", LIMIT)
    assert caught.value.status == 413


SOURCES = """
version: baton/v1
sources:
  web: {kind: cloudevents, token_env: T_ENCODING_WEB}
"""


@pytest.fixture
def url(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("T_ENCODING_WEB", "web-secret")
    config: SourcesConfig = parse_sources(SOURCES, "sources.yaml")
    with serving(create_app(store, config, max_body=LIMIT)) as base:
        yield base


def batch(first: int, count: int) -> bytes:
    return orjson.dumps([{"specversion": "1.0", "id": f"e-{n}", "source": "https://x.example",
                          "type": "com.acme.lead.submitted", "time": "2026-01-01T12:00:00Z"}
                         for n in range(first, first + count)])


def test_a_multi_member_gzip_push_labelled_GZIP_stores_every_member(
        store: Store, url: str) -> None:
    body = gzip.compress(batch(0, 3)[:-1] + b",") + gzip.compress(batch(3, 4)[1:])
    reply = requests.post(url + "/v1/events", data=body, timeout=10, headers={
        "Authorization": "Bearer web-secret", "Content-Encoding": "GZIP",
        "Content-Type": "application/cloudevents-batch+json"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["accepted"] == 7
    assert store.count(events) == 7


def test_a_push_in_an_unknown_coding_is_415_and_stores_nothing(store: Store, url: str) -> None:
    reply = requests.post(url + "/v1/events", data=batch(0, 1), timeout=10, headers={
        "Authorization": "Bearer web-secret", "Content-Encoding": "compress",
        "Content-Type": "application/cloudevents-batch+json"})
    assert reply.status_code == 415
    assert "'compress' is not supported" in reply.json()["error"]
    assert store.count(events) == 0
