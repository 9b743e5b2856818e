"""The retry maths of alert delivery: backoff bounds, Retry-After, and the per-target limiter."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.schema import to_us
from slas.delivery import (
    MAX_RETRY_AFTER_S,
    RateLimiter,
    backoff,
    parse_rate,
    retry_after,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW_US = to_us(NOW)


class Clock:
    """A clock the test moves; `sleep` moves it too."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Highest(random.Random):
    """Draws the top of every range, to see the ceiling backoff draws under."""

    def uniform(self, a: float, b: float) -> float:
        return b


# --- backoff ---

@given(attempt=st.integers(min_value=-5, max_value=10_000),
       base=st.floats(min_value=0.001, max_value=60),
       cap=st.floats(min_value=0.001, max_value=3600),
       seed=st.integers())
def test_backoff_stays_between_zero_and_the_capped_exponential(attempt: int, base: float,
                                                               cap: float, seed: int) -> None:
    wait = backoff(attempt, base, cap, random.Random(seed))
    assert 0 <= wait <= min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 64))


def test_the_backoff_ceiling_doubles_per_attempt_until_the_cap() -> None:
    ceilings = [backoff(n, base=1, cap=300, rng=Highest()) for n in range(1, 12)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_backoff_is_jittered_over_the_whole_range() -> None:
    rng = random.Random(7)
    draws = [backoff(6, base=1, cap=300, rng=rng) for _ in range(2000)]
    assert min(draws) < 2 and max(draws) > 30
    assert 14 < sum(draws) / len(draws) < 18  # full jitter: the mean is half of 32


# --- Retry-After ---

@pytest.mark.parametrize("value, seconds", [
    ("120", 120.0), (" 5 ", 5.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0),
    ("86400", MAX_RETRY_AFTER_S), ("inf", MAX_RETRY_AFTER_S),
    (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
    (format_datetime(NOW - timedelta(days=1), usegmt=True), 0.0),
    ("Thu, 01 Jan 2026 12:00:30 -0000", 30.0),
    (format_datetime(NOW + timedelta(days=3), usegmt=True), MAX_RETRY_AFTER_S),
])
def test_retry_after_reads_delta_seconds_and_http_dates_within_bounds(value: str,
                                                                      seconds: float) -> None:
    assert retry_after(value, NOW_US) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "nan", "Thu, 99 Foo 2026",
                                   "12 apples"])
def test_an_absent_or_unreadable_retry_after_is_none(value: str | None) -> None:
    assert retry_after(value, NOW_US) is None


@given(st.text(max_size=60))
def test_retry_after_never_raises_and_stays_bounded(value: str) -> None:
    seconds = retry_after(value, NOW_US)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_S


# --- rates ---

@pytest.mark.parametrize("text, per_second", [("1/s", 1.0), ("120/min", 2.0), ("10/h", 10 / 3600),
                                              ("0.5/second", 0.5), (" 30 / minute ", 0.5)])
def test_rates_are_read_as_sends_per_second(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["fast", "0/s", "-1/s", "1/day", "1", "/s"])
def test_a_bad_rate_is_one_sentence_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"such as 1/s, 120/min or 10/h"):
        parse_rate(text)


def test_each_kind_has_its_default_limit_and_alerts_yaml_can_set_another() -> None:
    slack, pager = RateLimiter.for_target("slack"), RateLimiter.for_target("pagerduty")
    assert (slack.rate, slack.burst) == (1.0, 3)
    assert (pager.rate, pager.burst) == (2.0, 1)
    assert RateLimiter.for_target("webhook").rate is None
    assert RateLimiter.for_target("alertmanager").rate is None
    assert RateLimiter.for_target("slack", "6/min").rate == pytest.approx(0.1)
    assert RateLimiter.for_target("webhook", "5/s").rate == 5.0


# --- the limiter ---

@settings(max_examples=200)
@given(rate=st.floats(min_value=0.05, max_value=50), burst=st.integers(1, 5),
       gaps=st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=200))
def test_the_limiter_never_lets_more_than_burst_plus_rate_times_span_through(
        rate: float, burst: int, gaps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate, burst, clock, clock.sleep)
    allowed = []
    for gap in gaps:
        clock.now += gap
        if limiter.try_acquire():
            allowed.append(clock.now)
    for i in range(len(allowed)):  # every window that starts and ends on an allowed send
        for j in range(i, len(allowed)):
            assert j - i + 1 <= burst + rate * (allowed[j] - allowed[i]) + 1e-6


def test_a_burst_goes_through_then_sends_are_spaced_by_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 3, clock, clock.sleep)
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert limiter.delay() == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.delay() == pytest.approx(0.5) and not limiter.try_acquire()
    clock.now += 0.5
    assert limiter.delay() == 0 and limiter.try_acquire()


def test_acquire_waits_for_a_token_within_its_timeout_and_not_beyond() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 1, clock, clock.sleep)
    assert limiter.acquire(timeout=0)
    started = clock.now
    assert limiter.acquire(timeout=1)
    assert clock.now - started == pytest.approx(0.5)
    assert not limiter.acquire(timeout=0.2)
    assert clock.now - started == pytest.approx(0.5)  # gave up without sleeping in vain
    clock.now += 0.5
    assert limiter.try_acquire()  # the refused acquire took nothing


def test_an_unlimited_limiter_never_waits() -> None:
    limiter = RateLimiter(None)
    assert all(limiter.try_acquire() for _ in range(10_000)) and limiter.delay() == 0


def test_threads_sharing_a_limiter_get_exactly_the_tokens_there_are() -> None:
    clock = Clock()  # frozen: only the burst is there
    limiter = RateLimiter(1.0, 5, clock, clock.sleep)
    won: list[bool] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(200):
            got = limiter.try_acquire()
            with lock:
                won.append(got)

    workers = [threading.Thread(target=grab) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(won) == 5


def test_threads_on_the_real_clock_stay_within_the_rate() -> None:
    limiter = RateLimiter(20.0, 2)
    times: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def send() -> None:
        while time.monotonic() - started < 0.6:
            if limiter.acquire(timeout=0.1):
                with lock:
                    times.append(time.monotonic())

    workers = [threading.Thread(target=send) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    span = max(times) - started
    assert 2 + 20 * span * 0.5 < len(times) <= 2 + 20 * span + 1
