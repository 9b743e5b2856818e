"""Event-bus collectors: NATS JetStream, RabbitMQ and Redis Streams.

Each broker has a small `Consumer` (fetch a batch, acknowledge it, close); `BusCollector`
does the rest the same way for all three: decode CloudEvents (structured or binary mode),
commit events and rejects to the store, and only then acknowledge. A collector that dies
before the commit leaves its messages unacknowledged, so the broker hands them to another
collector of the same durable consumer / queue / group (Redis: `XAUTOCLAIM` after
`claim_idle`); one that dies after the commit but before the acknowledgement causes a
redelivery that the store counts as a duplicate. At-least-once delivery plus idempotent
writes: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from collectors.bindings import amqp_message, nats_message, redis_entry, with_key
from collectors.errors import CollectorError, InvalidEvent
from collectors.runner import Poll, commit, newest
from collectors.schema import Event
from collectors.sources import NatsSource, RabbitSource, RedisSource, Source, secret
from collectors.store import Reject, Store, now_us

Decoder = Callable[[int], list[Event]]


class BrokerUnavailable(CollectorError):
    """The broker cannot be reached; the collector reconnects on its next poll."""


@dataclass(slots=True)
class Message:
    """One broker message: how to decode it, where it came from (worked out only for a
    reject: NATS' stream sequence costs 20 µs to parse), and its ack handle."""

    decode: Decoder
    locate: Callable[[], str]
    raw: bytes
    handle: Any = None

    @property
    def location(self) -> str:
        return self.locate()


class Consumer(Protocol):
    def fetch(self, limit: int, timeout: float) -> list[Message]: ...

    def ack(self, messages: Sequence[Message]) -> None: ...

    def release(self, messages: Sequence[Message]) -> None:
        """Hand back messages that could not be stored, for redelivery now."""

    def close(self) -> None: ...


@dataclass
class BusCollector:
    """Fetch -> decode -> commit -> acknowledge, one batch per `poll`. A batch whose commit
    fails is released back to the broker at once (RabbitMQ would otherwise hold it, unacked,
    on this channel, and send nothing more once `prefetch` messages are outstanding).

    (Fetching the next batch on a worker thread while this one is stored was tried: GIL
    contention made the store write slower by as much as the overlap gained.)
    """

    store: Store
    name: str
    source: Source
    consumer: Consumer
    timeout: float = 1.0
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.kind = self.source.kind

    def poll(self) -> Poll:
        messages = self.consumer.fetch(self.source.batch, self.timeout)
        if not messages:
            return Poll()
        events, rejects = self.decode(messages)
        try:
            counts = commit(self.store, events, rejects)
        except Exception:
            self.consumer.release(messages)
            raise
        self.consumer.ack(messages)
        return Poll(counts, more=True, newest_us=newest(events))  # until a fetch comes back empty

    def decode(self, messages: Sequence[Message]) -> tuple[list[Event], list[Reject]]:
        events: list[Event] = []
        rejects: list[Reject] = []
        received = now_us()
        for message in messages:
            try:
                events.extend(with_key(message.decode(received), self.source.key))
            except InvalidEvent as exc:
                rejects.append(Reject(self.name, "cloudevents", message.location, str(exc),
                                      message.raw.decode("utf-8", "replace")[:65536], received))
        return events, rejects

    def close(self) -> None:
        self.consumer.close()


def bus_collector(store: Store, name: str, source: Source, **options: Any) -> BusCollector:
    """The collector for a nats / rabbitmq / redis source."""
    consumers: dict[str, Callable[..., Consumer]] = {
        "nats": NatsConsumer, "rabbitmq": RabbitConsumer, "redis": RedisConsumer}
    return BusCollector(store, name, source, consumers[source.kind](name, source, **options))


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


# --- NATS JetStream: a durable pull consumer ---------------------------------------------


class NatsConsumer:
    """A JetStream durable pull consumer; several collectors may fetch from the same one.

    Pull requests are sent to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>` and their replies
    gathered by a callback on this collector's own inbox: first a `no_wait` request for what
    is waiting, and only when nothing is, a request that lingers for `timeout`. (nats-py's
    `fetch` awaits each message with its own timeout, which cost 80 µs per message.) A reply
    arriving after its request was given up on is kept for the next fetch, unacknowledged
    until the store has it, like every other.
    """

    def __init__(self, name: str, source: NatsSource) -> None:
        self.name, self.source = name, source
        self.loop = asyncio.new_event_loop()
        self.client: Any = None
        self.inbox = ""
        self.received: list[Any] = []
        self.wanted = 0
        self.answered: asyncio.Event | None = None

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _connect(self) -> None:
        if self.client is not None:
            return
        try:
            self._run(self._subscribe())
        except CollectorError:
            self._drop()
            raise
        except Exception as exc:  # nats raises many unrelated types for one cause
            self._drop()
            raise BrokerUnavailable(f"source {self.name!r}: cannot reach NATS at "
                                    f"{self.source.url} ({type(exc).__name__}: {exc})") from None

    async def _subscribe(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig
        from nats.js.errors import NotFoundError

        password = secret(self.source.password_env, f"source {self.name!r}")
        self.client = await nats.connect(self.source.url, password=password,
                                         allow_reconnect=False, connect_timeout=3,
                                         max_reconnect_attempts=0)
        js = self.client.jetstream()
        try:
            await js.stream_info(self.source.stream)
        except NotFoundError:
            raise CollectorError(f"source {self.name!r}: JetStream stream "
                                 f"{self.source.stream!r} does not exist on {self.source.url}; "
                                 "create it or fix `stream`") from None
        try:
            await js.consumer_info(self.source.stream, self.source.durable)
        except NotFoundError:
            config = ConsumerConfig(durable_name=self.source.durable,
                                    ack_policy=AckPolicy.EXPLICIT, ack_wait=self.source.ack_wait,
                                    filter_subject=self.source.subject,
                                    max_ack_pending=max(1000, self.source.batch * 4))
            await js.add_consumer(self.source.stream, config=config)
        self.inbox = self.client.new_inbox()
        await self.client.subscribe(self.inbox, cb=self._reply)

    async def _reply(self, msg: Any) -> None:
        """One reply to a pull request: a message, or a status (404 nothing waiting, 408
        request expired, 409 ...) that ends the request."""
        if msg.headers and msg.headers.get("Status"):
            if self.answered is not None:
                self.answered.set()
            return
        self.received.append(msg)
        if len(self.received) >= self.wanted and self.answered is not None:
            self.answered.set()

    def fetch(self, limit: int, timeout: float) -> list[Message]:
        if self.client is not None and not self.client.is_connected:
            self._drop()
        self._connect()
        try:
            batch = self._run(self._fetch(limit, timeout))
        except Exception as exc:
            self._drop()
            raise BrokerUnavailable(f"source {self.name!r}: lost NATS at {self.source.url} "
                                    f"({type(exc).__name__}); reconnecting") from None
        return [self._message(m) for m in batch]

    async def _fetch(self, limit: int, timeout: float) -> list[Any]:
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.source.stream}.{self.source.durable}"
        for request in ({"no_wait": True}, {"expires": int(timeout * 1e9)}):
            if len(self.received) >= limit:
                break
            self.wanted, self.answered = limit, asyncio.Event()
            body = {"batch": limit - len(self.received), **request}
            await self.client.publish(subject, orjson.dumps(body), reply=self.inbox)
            try:
                await asyncio.wait_for(self.answered.wait(), timeout + 1.0)
            except TimeoutError:
                pass
            if self.received:
                break
        self.answered = None
        batch, self.received = self.received[:limit], self.received[limit:]
        return batch

    def _message(self, msg: Any) -> Message:
        headers, body = msg.headers, msg.data
        return Message(lambda received: nats_message(headers, body, received),
                       lambda: self._location(msg), body, msg)

    def _location(self, msg: Any) -> str:
        sequence = msg.metadata.sequence.stream if msg.reply else "?"
        return f"nats:{self.source.stream}/{msg.subject}#{sequence}"

    def ack(self, messages: Sequence[Message]) -> None:
        try:
            self._run(self._ack(messages))
        except Exception:
            self._drop()  # unacknowledged messages are redelivered after ack_wait

    async def _ack(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.client.publish(message.handle.reply, b"+ACK")
        await self.client.flush(timeout=5)

    def release(self, messages: Sequence[Message]) -> None:
        try:
            self._run(self._nak(messages))
        except Exception:
            self._drop()  # redelivered after ack_wait instead

    async def _nak(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.client.publish(message.handle.reply, b"-NAK")
        await self.client.flush(timeout=5)

    def _drop(self) -> None:
        client, self.client, self.received = self.client, None, []
        if client is not None:
            try:
                self._run(client.close())
            except Exception:
                pass

    def close(self) -> None:
        self._drop()
        # nats-py may leave reader/flusher tasks behind; finish them before the loop closes,
        # or the interpreter prints their tracebacks at exit
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()


# --- RabbitMQ: a durable queue, manual acknowledgements -------------------------------------


class RabbitConsumer:
    """Consumes a durable queue with manual acks; unacked messages return to the queue when
    the connection closes, for this or another collector."""

    def __init__(self, name: str, source: RabbitSource) -> None:
        self.name, self.source = name, source
        self.connection: Any = None
        self.channel: Any = None

    def _connect(self) -> None:
        if self.channel is not None:
            return
        import pika

        params = pika.URLParameters(self.source.url)
        password = secret(self.source.password_env, f"source {self.name!r}")
        if self.source.username or password:
            params.credentials = pika.PlainCredentials(self.source.username or "guest",
                                                       password or "guest")
        params.socket_timeout = params.blocked_connection_timeout = 10
        try:
            self.connection = pika.BlockingConnection(params)
            self.channel = self.connection.channel()
            self.channel.queue_declare(self.source.queue, durable=True)
            self.channel.basic_qos(prefetch_count=self.source.batch)
        except pika.exceptions.AMQPError as exc:
            self._drop()
            raise BrokerUnavailable(f"source {self.name!r}: cannot consume queue "
                                    f"{self.source.queue!r} at {self.source.url} "
                                    f"({type(exc).__name__}: {exc})") from None

    def fetch(self, limit: int, timeout: float) -> list[Message]:
        import pika

        self._connect()
        try:
            return self._fetch(limit, timeout)
        except pika.exceptions.AMQPError as exc:
            self._drop()
            raise BrokerUnavailable(f"source {self.name!r}: lost RabbitMQ at {self.source.url}"
                                    f" ({type(exc).__name__}); reconnecting") from None

    def _fetch(self, limit: int, timeout: float) -> list[Message]:
        out: list[Message] = []
        waited = 0.0
        for method, props, body in self.channel.consume(self.source.queue,
                                                        inactivity_timeout=0.05):
            if method is None:
                waited += 0.05
                if out or waited >= timeout:
                    break
                continue
            out.append(self._message(method, props, body))
            if len(out) >= limit:
                break
        return out

    def _message(self, method: Any, props: Any, body: bytes) -> Message:
        headers, content_type = props.headers, props.content_type
        return Message(lambda received: amqp_message(headers, content_type, body, received),
                       lambda: f"rabbitmq:{self.source.queue}#{method.delivery_tag}", body,
                       method.delivery_tag)

    def ack(self, messages: Sequence[Message]) -> None:
        import pika

        if not messages or self.channel is None:
            return
        try:
            self.channel.basic_ack(delivery_tag=messages[-1].handle, multiple=True)
        except pika.exceptions.AMQPError:
            self._drop()  # the broker requeues what this channel held

    def release(self, messages: Sequence[Message]) -> None:
        import pika

        if not messages or self.channel is None:
            return
        try:
            self.channel.basic_nack(delivery_tag=messages[-1].handle, multiple=True,
                                    requeue=True)
        except pika.exceptions.AMQPError:
            self._drop()

    def _drop(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:
                pass

    def close(self) -> None:
        self._drop()


# --- Redis Streams: a consumer group with XACK and pending-entry recovery ------------------


class RedisConsumer:
    """One consumer of a stream's group. Entries another consumer read but never acked are
    claimed with XAUTOCLAIM once idle for `claim_idle`; this consumer's own pending entries
    (after a restart under the same name) are read first."""

    def __init__(self, name: str, source: RedisSource, consumer: str | None = None) -> None:
        self.name, self.source = name, source
        self.consumer = consumer or source.consumer or consumer_name()
        self.client: Any = None
        self.own_pending = True

    def _connect(self) -> None:
        if self.client is not None:
            return
        import redis

        password = secret(self.source.password_env, f"source {self.name!r}")
        client = redis.Redis.from_url(self.source.url, password=password,
                                      decode_responses=True, socket_timeout=10)
        try:
            client.xgroup_create(self.source.stream, self.source.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise BrokerUnavailable(f"source {self.name!r}: {exc}") from None
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"source {self.name!r}: cannot reach Redis at "
                                    f"{self.source.url} ({exc})") from None
        self.client, self.own_pending = client, True

    def fetch(self, limit: int, timeout: float) -> list[Message]:
        import redis

        self._connect()
        try:
            entries = self._pending(limit) or self._claimed(limit) or self._new(limit, timeout)
        except redis.RedisError as exc:
            self.client = None
            raise BrokerUnavailable(f"source {self.name!r}: lost Redis at {self.source.url} "
                                    f"({type(exc).__name__}); reconnecting") from None
        return [self._message(entry_id, fields) for entry_id, fields in entries]

    def _pending(self, limit: int) -> list[tuple[str, dict[str, str]]]:
        if not self.own_pending:
            return []
        reply = self.client.xreadgroup(self.source.group, self.consumer,
                                       {self.source.stream: "0"}, count=limit)
        entries = reply[0][1] if reply else []
        self.own_pending = bool(entries)
        return [(i, f) for i, f in entries if f is not None]

    def _claimed(self, limit: int) -> list[tuple[str, dict[str, str]]]:
        idle_ms = int(self.source.claim_idle * 1000)
        _next, entries, deleted = (list(self.client.xautoclaim(
            self.source.stream, self.source.group, self.consumer, idle_ms, "0-0",
            count=limit)) + [[]])[:3]
        if deleted:
            self.client.xack(self.source.stream, self.source.group, *deleted)
        return [(i, f) for i, f in entries if f]

    def _new(self, limit: int, timeout: float) -> list[tuple[str, dict[str, str]]]:
        reply = self.client.xreadgroup(self.source.group, self.consumer,
                                       {self.source.stream: ">"}, count=limit,
                                       block=max(1, int(timeout * 1000)))
        return reply[0][1] if reply else []

    def _message(self, entry_id: str, fields: dict[str, str]) -> Message:
        raw = fields.get(self.source.field) or repr(fields)
        return Message(lambda received: redis_entry(fields, self.source.field, received),
                       lambda: f"redis:{self.source.stream}#{entry_id}", raw.encode(), entry_id)

    def ack(self, messages: Sequence[Message]) -> None:
        import redis

        if not messages or self.client is None:
            return
        try:
            self.client.xack(self.source.stream, self.source.group,
                             *[m.handle for m in messages])
        except redis.RedisError:
            self.client = None  # left pending: reclaimed later, stored once

    def release(self, messages: Sequence[Message]) -> None:
        self.own_pending = True  # this consumer's pending entries are read again first

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
