"""Bus collectors against the real brokers: NATS JetStream, RabbitMQ and Redis Streams.

Every test gets its own stream / queue / subject / consumer names and removes them after.
A collector "killed" mid-batch is one whose broker connection closes without acknowledging
what it fetched, exactly what the broker sees when the process dies; one test also SIGKILLs a
running `baton collect` process mid-stream and restarts it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import orjson
import pika
import pytest
import redis
import yaml
from fakes.proxy import Proxy
from sqlalchemy import select, text

from collectors.bus import BrokerUnavailable, BusCollector, bus_collector
from collectors.errors import StoreUnavailable
from collectors.runner import commit
from collectors.sources import NatsSource, RabbitSource, RedisSource, Source
from collectors.store import Store
from collectors.tables import events, rejects

PORTS = {"nats": 4222, "rabbitmq": 5672, "redis": 6379}


def cloudevent(number: int, tag: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"{tag}-{number}", "source": "https://bus.acme.example",
            "type": "com.acme.lead.created", "time": "2026-01-01T12:00:00Z",
            "correlationid": f"L-{number:05d}", "data": {"n": number}}


BINARY = {"specversion": "1.0", "id": "binary-1", "source": "https://bus.acme.example",
          "type": "com.acme.lead.enriched", "time": "2026-01-01T12:00:05Z",
          "correlationid": "L-binary"}


class Broker:
    """One broker with a fresh, uniquely named stream/queue for one test."""

    kind = ""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:10]

    def source(self, port: int | None = None, **settings: Any) -> Source:
        raise NotImplementedError

    def publish(self, bodies: list[bytes]) -> None:
        raise NotImplementedError

    def publish_binary(self, attributes: dict[str, str], data: bytes) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        pass


class Nats(Broker):
    kind = "nats"

    def __init__(self) -> None:
        super().__init__()
        self.stream, self.subject = f"T{self.tag}", f"t{self.tag}"
        self._js(lambda js: js.add_stream(name=self.stream, subjects=[f"{self.subject}.>"]))

    def _js(self, action: Any) -> None:
        async def run() -> None:
            client = await nats.connect("nats://127.0.0.1:4222")
            try:
                await action(client.jetstream())
            finally:
                await client.close()
        asyncio.run(run())

    def source(self, port: int | None = None, **settings: Any) -> Source:
        return NatsSource(kind="nats", url=f"nats://127.0.0.1:{port or 4222}",
                          stream=self.stream, subject=f"{self.subject}.>",
                          durable=f"d{self.tag}", **{"ack_wait": 1.0, **settings})

    def publish(self, bodies: list[bytes]) -> None:
        async def send(js: Any) -> None:
            for body in bodies:
                await js.publish(f"{self.subject}.leads", body)
        self._js(send)

    def publish_binary(self, attributes: dict[str, str], data: bytes) -> None:
        headers = {f"ce-{k}": v for k, v in attributes.items()}
        headers["ce-datacontenttype"] = "application/json"
        self._js(lambda js: js.publish(f"{self.subject}.leads", data, headers=headers))

    def cleanup(self) -> None:
        self._js(lambda js: js.delete_stream(self.stream))


class Rabbit(Broker):
    kind = "rabbitmq"

    def __init__(self) -> None:
        super().__init__()
        self.queue = f"baton.test.{self.tag}"

    def _channel(self) -> tuple[Any, Any]:
        connection = pika.BlockingConnection(pika.URLParameters(
            "amqp://guest:guest@127.0.0.1:5672/%2F"))
        channel = connection.channel()
        channel.queue_declare(self.queue, durable=True)
        return connection, channel

    def source(self, port: int | None = None, **settings: Any) -> Source:
        return RabbitSource(kind="rabbitmq", url=f"amqp://127.0.0.1:{port or 5672}/%2F",
                            queue=self.queue, **settings)

    def publish(self, bodies: list[bytes]) -> None:
        connection, channel = self._channel()
        props = pika.BasicProperties(content_type="application/cloudevents+json",
                                     delivery_mode=2)
        for body in bodies:
            channel.basic_publish("", self.queue, body, props)
        connection.close()

    def publish_binary(self, attributes: dict[str, str], data: bytes) -> None:
        connection, channel = self._channel()
        headers = {f"cloudEvents_{k}": v for k, v in attributes.items()}
        channel.basic_publish("", self.queue, data, pika.BasicProperties(
            content_type="application/json", headers=headers, delivery_mode=2))
        connection.close()

    def cleanup(self) -> None:
        connection, channel = self._channel()
        channel.queue_delete(self.queue)
        connection.close()


class Redis(Broker):
    kind = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.stream = f"baton:test:{self.tag}"
        self.client = redis.Redis(decode_responses=True)

    def source(self, port: int | None = None, **settings: Any) -> Source:
        return RedisSource(kind="redis", url=f"redis://127.0.0.1:{port or 6379}/0",
                           stream=self.stream, group=f"g{self.tag}",
                           **{"claim_idle": 0.3, **settings})

    def publish(self, bodies: list[bytes]) -> None:
        pipe = self.client.pipeline()
        for body in bodies:
            pipe.xadd(self.stream, {"event": body.decode()})
        pipe.execute()

    def publish_binary(self, attributes: dict[str, str], data: bytes) -> None:
        fields = {f"ce_{k}": v for k, v in attributes.items()}
        self.client.xadd(self.stream, {**fields, "data": data.decode(),
                                       "content-type": "application/json"})

    def cleanup(self) -> None:
        self.client.delete(self.stream)
        self.client.close()


@pytest.fixture(params=[Nats, Rabbit, Redis], ids=["nats", "rabbitmq", "redis"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    made = request.param()
    yield made
    made.cleanup()


def collector(store: Store, broker: Broker, name: str = "bus", port: int | None = None,
              **settings: Any) -> BusCollector:
    options = {"consumer": f"c-{name}-{uuid.uuid4().hex[:6]}"} if broker.kind == "redis" else {}
    made = bus_collector(store, name, broker.source(port, **settings), **options)
    made.timeout = 0.3
    return made


def collect_until(store: Store, *collectors: BusCollector, rows: int, seconds: float = 6.0,
                  errors: tuple[type[Exception], ...] = (BrokerUnavailable,)) -> None:
    """Poll (round robin) until the store holds `rows` events or the time is up; `errors`
    are waited out, any other is raised."""
    deadline = time.monotonic() + seconds
    while store.count(events) < rows and time.monotonic() < deadline:
        for each in collectors:
            try:
                each.poll()
            except errors:
                time.sleep(0.05)


def stored_ids(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(events.c.event_id)).scalars())


def bodies(count: int, tag: str) -> list[bytes]:
    return [orjson.dumps(cloudevent(n, tag)) for n in range(count)]


def test_structured_and_binary_cloudevents_are_stored_from_each_broker(
        store: Store, broker: Broker) -> None:
    broker.publish(bodies(3, broker.tag))
    broker.publish_binary(BINARY, b'{"score": 42}')
    bus = collector(store, broker)
    collect_until(store, bus, rows=4)
    bus.close()
    with store.engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.event_id == "binary-1")).one()
    assert (row.type, row.correlationid, orjson.loads(row.data)) == (
        "com.acme.lead.enriched", "L-binary", {"score": 42})
    assert len(stored_ids(store)) == 4


def test_a_collector_killed_before_committing_loses_nothing(
        store: Store, broker: Broker) -> None:
    broker.publish(bodies(30, broker.tag))
    doomed = collector(store, broker, "first", batch=10)
    assert len(doomed.consumer.fetch(10, 1.0)) == 10
    doomed.close()  # dies holding 10 unacknowledged messages
    restarted = collector(store, broker, "second", batch=10)
    collect_until(store, restarted, rows=30)
    restarted.close()
    assert stored_ids(store) == sorted(f"{broker.tag}-{n}" for n in range(30))


def test_a_collector_killed_after_committing_but_before_acking_doubles_nothing(
        store: Store, broker: Broker) -> None:
    broker.publish(bodies(20, broker.tag))
    doomed = collector(store, broker, "first", batch=10)
    messages = doomed.consumer.fetch(10, 1.0)
    commit(store, *doomed.decode(messages))
    doomed.close()  # committed, never acknowledged: the broker redelivers
    restarted = collector(store, broker, "second", batch=10)
    accepted = duplicates = 0
    deadline = time.monotonic() + 6
    while (accepted, duplicates) != (10, 10) and time.monotonic() < deadline:
        counts = restarted.poll().counts
        accepted, duplicates = accepted + counts.accepted, duplicates + counts.duplicate
    restarted.close()
    assert (accepted, duplicates) == (10, 10)  # the redelivered ten are stored once
    assert len(stored_ids(store)) == 20


def test_a_batch_the_store_refuses_is_handed_back_and_stored_on_the_next_poll(
        store: Store, broker: Broker) -> None:
    broker.publish(bodies(10, broker.tag))
    # redelivery by timeout is pushed out of reach: only an explicit release brings them back
    slow = {"nats": {"ack_wait": 60.0}, "redis": {"claim_idle": 60.0}}.get(broker.kind, {})
    bus = collector(store, broker, batch=10, **slow)
    refuse_inserts(store, True)
    try:
        with pytest.raises(StoreUnavailable, match="disk on fire"):
            collect_until(store, bus, rows=1, seconds=2, errors=())
    finally:
        refuse_inserts(store, False)
    collect_until(store, bus, rows=10, seconds=4)
    bus.close()
    assert stored_ids(store) == sorted(f"{broker.tag}-{n}" for n in range(10))


def refuse_inserts(store: Store, refuse: bool) -> None:
    """A real store failure: a trigger that aborts every insert into events."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS refuse" if not refuse else
                              "CREATE TRIGGER refuse BEFORE INSERT ON events "
                              "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"))
            return
        if refuse:
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON events "
                              "FOR EACH ROW EXECUTE FUNCTION refuse()"))
        else:
            conn.execute(text("DROP TRIGGER refuse ON events"))
            conn.execute(text("DROP FUNCTION refuse()"))


def test_a_baton_collect_process_killed_mid_stream_loses_and_doubles_nothing(
        store: Store, store_url: str, broker: Broker, tmp_path: Path) -> None:
    total = 6000
    broker.publish(bodies(total, broker.tag))
    source = broker.source(batch=50, poll=0.1)
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(
        {"version": "baton/v1", "sources": {"bus": source.model_dump(
            mode="json", exclude_none=True, exclude={"key"})}}))
    baton = [str(Path(sys.executable).with_name("baton")), "--store", store_url,
             "--config", str(tmp_path), "collect", "--source", "bus"]
    first = subprocess.Popen(baton, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while store.count(events) < 500 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.01)
    first.kill()  # SIGKILL: no cleanup, whatever it had fetched is unacknowledged
    first.wait(10)
    stored_at_kill = store.count(events)
    assert 0 < stored_at_kill < total, first.stderr.read().decode() if first.stderr else ""
    restarted = subprocess.run([*baton, "--once"], capture_output=True, text=True, timeout=60)
    deadline = time.monotonic() + 20  # NATS redelivers after ack_wait, Redis claims when idle
    while store.count(events) < total and time.monotonic() < deadline:
        restarted = subprocess.run([*baton, "--once"], capture_output=True, text=True,
                                   timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert stored_ids(store) == sorted(f"{broker.tag}-{n}" for n in range(total))


def test_two_collectors_on_one_consumer_group_share_the_work_exactly_once(
        store: Store, broker: Broker) -> None:
    broker.publish(bodies(200, broker.tag))
    first = collector(store, broker, "one", batch=20)
    second = collector(store, broker, "two", batch=20)
    taken = {"one": 0, "two": 0}
    deadline = time.monotonic() + 6
    while store.count(events) < 200 and time.monotonic() < deadline:
        for name, each in (("one", first), ("two", second)):
            result = each.poll()
            assert result.counts.duplicate == 0
            taken[name] += result.counts.accepted
    first.close()
    second.close()
    assert taken["one"] > 0 and taken["two"] > 0
    assert taken["one"] + taken["two"] == 200 == len(stored_ids(store))


def test_a_dropped_broker_connection_is_reestablished_without_loss(
        store: Store, broker: Broker) -> None:
    proxy = Proxy(PORTS[broker.kind])
    bus = collector(store, broker, port=proxy.port)
    broker.publish(bodies(5, broker.tag))
    collect_until(store, bus, rows=5)
    proxy.drop()
    broker.publish(bodies(10, broker.tag))
    collect_until(store, bus, rows=10)
    bus.close()
    proxy.close()
    assert len(stored_ids(store)) == 10


def test_a_message_that_is_not_a_cloudevent_is_kept_as_a_reject_and_not_redelivered(
        store: Store, broker: Broker) -> None:
    broker.publish([b"{not json", orjson.dumps({"specversion": "1.0", "id": "x"})])
    bus = collector(store, broker)
    deadline = time.monotonic() + 3
    while store.count(rejects) < 2 and time.monotonic() < deadline:
        bus.poll()
    assert bus.poll().counts.rejected == 0
    bus.close()
    with store.engine.connect() as conn:
        rows = conn.execute(select(rejects.c.location, rejects.c.reason)).all()
    reasons = sorted(r.reason for r in rows)
    assert reasons[0].startswith("required attribute 'source' is missing")
    assert reasons[1].startswith("the body is not valid JSON")
    assert all(r.location.startswith(f"{broker.kind}:") for r in rows)


def test_a_missing_jetstream_stream_is_named_in_the_error(store: Store) -> None:
    source = NatsSource(kind="nats", stream=f"NOPE{uuid.uuid4().hex[:8]}", subject="nope.>")
    bus = bus_collector(store, "lead-bus", source)
    with pytest.raises(Exception, match=r"JetStream stream 'NOPE\w+' does not exist"):
        bus.poll()
    bus.close()


def test_an_unreachable_broker_is_a_clear_error(store: Store) -> None:
    source = RedisSource(kind="redis", url="redis://127.0.0.1:1/0", stream="s")
    with pytest.raises(BrokerUnavailable, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        bus_collector(store, "enrichment", source).poll()
