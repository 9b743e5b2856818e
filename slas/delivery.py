"""Pure retry maths for alert delivery: when to try again, and how fast a target may be sent to.

- `backoff(attempt)`: exponential backoff with "full jitter" (a uniform draw between 0 and
  `min(cap, base * 2**(attempt-1))`), so many failed notifications do not retry in lockstep.
- `retry_after(value, now_us)`: a peer's `Retry-After` header (delta-seconds or an HTTP-date)
  as seconds from now, bounded by `MAX_RETRY_AFTER_S` so a bogus header cannot park a page for
  a day.
- `RateLimiter`: a token bucket per target (Slack about 1 message/s with short bursts,
  PagerDuty about 120 events/min per integration key; ANCHORS.md 1.2-1.3). Over any span of
  T seconds it lets through at most `burst + rate * T` sends. Thread-safe; the clock and the
  sleep are passed in.

No I/O here: the dispatcher decides what to do with these numbers.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 3600.0
RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*")
PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
# (rate, burst) per target kind when alerts.yaml gives no `rate:`; kinds not named are unlimited.
DEFAULT_LIMITS: dict[str, tuple[str, int]] = {"slack": ("1/s", 3), "pagerduty": ("120/min", 1)}

Clock = Callable[[], float]
Sleep = Callable[[float], None]


def backoff(attempt: int, base: float = 1.0, cap: float = 300.0,
            rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempt`-th failed try (1, 2, ...): uniform in
    [0, min(cap, base * 2**(attempt-1))]."""
    exponent = min(max(attempt, 1) - 1, 64)  # 2**64 s is past any cap; avoids huge floats
    ceiling = min(cap, base * 2.0 ** exponent)
    return (rng or random).uniform(0.0, ceiling)


def retry_after(value: str | None, now_us: int) -> float | None:
    """`Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` -> seconds to wait
    (0 when the date has passed, at most MAX_RETRY_AFTER_S); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, now_us)
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _seconds_until(http_date: str, now_us: int) -> float | None:
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC without a stated zone (RFC 5322)
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() - now_us / 1e6


def parse_rate(text: str) -> float:
    """`1/s`, `120/min`, `10/h` -> sends per second; ValueError with the accepted forms."""
    match = RATE.fullmatch(text) if isinstance(text, str) else None
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"rate {text!r} is not a rate; write a positive number of sends per "
                         "unit, such as 1/s, 120/min or 10/h")
    return float(match[1]) / PER[match[2]]


class RateLimiter:
    """A token bucket: `burst` sends at once, then one per `1/rate` seconds. `rate=None` means
    unlimited."""

    def __init__(self, rate: float | None, burst: int = 1, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("a rate limiter needs a positive rate, or None for unlimited")
        self.rate, self.burst = rate, max(1, burst)
        self._clock, self._sleep = clock, sleep
        self._tokens, self._last = float(self.burst), clock()
        self._lock = threading.Lock()

    @classmethod
    def for_target(cls, kind: str, rate: str | None = None, clock: Clock = time.monotonic,
                   sleep: Sleep = time.sleep) -> RateLimiter:
        """The limiter of one target: its `rate:` from alerts.yaml, or its kind's default."""
        default, burst = DEFAULT_LIMITS.get(kind, (None, 1))
        text = rate or default
        return cls(parse_rate(text) if text else None, burst, clock, sleep)

    def delay(self) -> float:
        """Seconds until a send would be allowed (0 if one is allowed now)."""
        with self._lock:
            return self._wait()

    def try_acquire(self) -> bool:
        """Take a token if one is there, without waiting."""
        with self._lock:
            if self._wait() > 0:
                return False
            self._tokens -= 1
            return True

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a token; False (nothing taken) if none came."""
        deadline = self._clock() + timeout
        while True:
            with self._lock:
                wait = self._wait()
                if wait <= 0:
                    self._tokens -= 1
                    return True
            if self._clock() + wait > deadline:
                return False
            self._sleep(wait)

    def _wait(self) -> float:
        if self.rate is None:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
