import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from packgate.device.backoff import Backoff
from packgate.sync.common.backoff import parse_retry_after


def http_date(moment):
    return format_datetime(moment, usegmt=True)

NOW = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)


def test_full_jitter_stays_in_window_and_reaches_cap():
    b = Backoff(base_s=1, cap_s=300)
    rng = random.Random(7)
    for attempts in range(1, 40):
        ceiling = b.ceiling(attempts)
        assert ceiling == min(300, 2 ** (attempts - 1))
        for _ in range(50):
            assert 0 <= b.delay(attempts, rng) <= ceiling
    assert b.ceiling(10_000) == 300  # no overflow after a week offline


def test_retry_after_is_a_floor_capped_at_15_minutes():
    b = Backoff(base_s=1, cap_s=300)
    rng = random.Random(1)
    assert all(b.delay(1, rng, retry_after_s=30) >= 30 for _ in range(100))
    assert b.delay(1, rng, retry_after_s=86_400) == 900


def test_retry_after_both_forms():
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(" 0 ", NOW) == 0
    assert parse_retry_after(http_date(NOW + timedelta(seconds=90)), NOW) == 90
    # HTTP-date is measured against the server's own Date header when given (immune to our skew)
    server_now = NOW + timedelta(hours=1)
    assert parse_retry_after(http_date(server_now + timedelta(seconds=5)), NOW, server_now) == 5
    assert parse_retry_after(http_date(NOW - timedelta(seconds=90)), NOW) == 0
    for junk in (None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2026"):
        assert parse_retry_after(junk, NOW) is None


@given(st.text(max_size=60))
def test_retry_after_parser_never_crashes(text):
    value = parse_retry_after(text, NOW)
    assert value is None or value >= 0


def test_t7_hundred_stations_after_24h_outage_do_not_retry_in_lockstep():
    """T7: 100 stations back off through a 24 h outage; their retries stay spread and under the cap."""
    backoff = Backoff(base_s=1, cap_s=300)
    outage_end = 24 * 3600.0
    first_after = []
    per_second = Counter()
    for station in range(100):
        rng = random.Random(station)
        t, attempts = 0.0, 0
        while t < outage_end:
            attempts += 1
            delay = backoff.delay(attempts, rng)
            assert delay <= 300
            t += delay
            per_second[int(t)] += 1
        first_after.append(t - outage_end)
    assert max(first_after) <= 300  # everyone is back within one cap after upstream returns
    # once the backoff has grown (after the first 10 minutes), retries never come as a fleet-wide burst:
    # 100 stations retrying every ~150 s on average make < 1 request/s on average, and no second sees more than 8
    assert max(n for second, n in per_second.items() if second >= 600) <= 8
    assert len({int(x) for x in first_after}) > 60  # recovery is spread out, not a thundering herd
