"""Two hub processes' worth of hubs on one PostgreSQL: every guarantee holds across them.

Each ``make_site()`` is a full hub (its own pool, relay, feed watch and HTTP server on 127.0.0.1) on the
same database. Claims unique, escalations once per (order, level), confirmations once, the relay by one
hub at a time with take-over, and a feed that is gapless and in order whichever hub a reader asks —
including the case that matters: a transaction that took a number first and commits last.
"""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from packgate.sync.errors import ClaimConflictError
from packgate.sync.hub import relay as relay_module
from packgate.sync.hub_client import SiteClient

TOKENS = {"ST01": "token-of-station-01-abcdef", "ST02": "token-of-station-02-abcdef"}
pytestmark = pytest.mark.parametrize("hub_db", ["postgresql"], indirect=True)


def client(site, station="ST01", urls=None):
    return SiteClient(urls or site.url, station, TOKENS[station], deadline_s=5)


def test_an_order_is_claimed_once_across_two_hubs(make_site):
    hubs = [make_site(), make_site()]
    winners, refused = [], []
    barrier = threading.Barrier(8)

    def grab(n):
        station = ("ST01", "ST02")[n % 2]
        barrier.wait()
        try:
            client(hubs[n % 2], station).claim("SO-10013", "E001")
            winners.append(station)
        except ClaimConflictError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(winners)) == 1 and len(winners) + len(refused) == 8
    assert all("is being packed at Packing table" in r for r in refused)


def test_each_escalation_fires_once_with_two_hubs_ticking_together(make_site, clock, webhook):
    one, two = make_site(), make_site()
    station = one.station("ST01")
    for n in range(6):
        station.pick(f"SO-1000{n}", f"T-000{n}")
    station.push()
    clock.advance(22 * 60 + 1)  # both levels due for all six orders
    barrier = threading.Barrier(2)
    sent: list[list[str]] = [[], []]

    def tick(i, site):
        barrier.wait()
        for _ in range(3):
            sent[i] += site.hub.tick()["escalations"]

    threads = [threading.Thread(target=tick, args=(i, s)) for i, s in enumerate((one, two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = sent[0] + sent[1]
    assert sorted(ids) == sorted(f"SO-1000{n}/{level}" for n in range(6) for level in (1, 2))
    assert len(webhook.received) == 12


def test_a_station_fails_over_to_the_second_hub_and_nothing_is_lost_or_doubled(make_site, wms):
    one, two = make_site(), make_site()
    station = one.station("ST01", urls=[one.url, two.url])
    ids = [station.confirm("scan", "order", "SO-10001", {"n": n}) for n in range(5)]
    assert station.push() == 5
    one.stop()  # the hub in use goes away
    started = time.monotonic()
    ids += [station.confirm("scan", "order", "SO-10001", {"n": n}) for n in range(5, 10)]
    assert station.push() == 5
    assert time.monotonic() - started < 3 and station.client.http.in_use == two.url
    assert two.relay() == 10
    upstream = [c["id"] for c in station.client.__class__(wms).order_confirmations("SO-10001")]
    assert sorted(upstream) == sorted(ids)


def test_the_same_confirmation_through_both_hubs_counts_once(make_site):
    one, two = make_site(), make_site()
    a = one.station("ST01")
    conf_id = a.confirm("pick", "order", "SO-10002", {"sku": "SKU-001", "lot": "L1", "qty": 1})
    row = a.conn.execute("SELECT body FROM sync_outbox WHERE id = ?", (conf_id,)).fetchone()  # the frozen bytes
    results = []
    barrier = threading.Barrier(2)

    def send(site):
        barrier.wait()
        client_ = type(a.client)(site.url, deadline_s=5, token=TOKENS["ST01"])
        results.append(client_.send_confirmations("ST01", [row["body"]])[conf_id]["status"])

    threads = [threading.Thread(target=send, args=(s,)) for s in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["accepted", "duplicate"]
    with one.hub.db.read() as conn:
        assert conn.value("SELECT COUNT(*) FROM hub_confirmations") == 1
        assert conn.value("SELECT taken FROM hub_lot_taken WHERE lot = 'L1'") == 1


def test_the_relay_runs_on_one_hub_and_the_other_takes_over_when_its_lease_ends(make_site, clock):
    one, two = make_site(), make_site()
    station = one.station("ST01")
    station.confirm("scan", "order", "SO-10003", {})
    station.push()
    assert one.hub.relay.run_once()["outcome"] == "sent"
    station.confirm("scan", "order", "SO-10003", {})
    station.push()
    assert two.hub.relay.run_once()["outcome"] == "standby"  # one holds the lease
    one.stop()  # ... and dies without giving it back
    clock.advance(relay_module.LEASE_S + 1)
    assert two.hub.relay.run_once()["outcome"] == "sent"


def test_the_feed_is_gapless_and_ordered_whichever_hub_a_reader_asks(make_site):
    one, two = make_site(), make_site()
    readers = [client(one, "ST01"), client(two, "ST02")]
    start = int(readers[0].feed(0, 0)["head"])
    last = start + 6 * 25 * 2  # a hub learns another hub's changes within its poll: wait for the number, not a head
    deadline = time.monotonic() + 60
    seen: list[int] = []
    problems: list[str] = []

    def write(n):
        site, station = ((one, "ST01"), (two, "ST02"))[n % 2]
        c = client(site, station)
        for k in range(25):
            c.claim(f"SO-W{n}-{k}", "E001")
            c.release(f"SO-W{n}-{k}")

    def read():
        cursor, turn = start, 0
        while cursor < last and time.monotonic() < deadline:
            data = readers[turn % 2].feed(cursor, 1)
            turn += 1
            for event in data["events"]:
                if event["seq"] != cursor + 1:
                    problems.append(f"after {cursor} came {event['seq']}")
                cursor = event["seq"]
                seen.append(cursor)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    reader.join(timeout=60)
    assert problems == []
    assert seen == list(range(start + 1, last + 1))


def test_a_number_taken_first_and_committed_last_is_never_skipped(make_site, postgres, hub_db):
    """A transaction holds feed number n without committing; another hub's change must wait for it,
    so no reader ever sees n+1 before n."""
    one, two = make_site(), make_site()
    reader = client(two, "ST02")
    start = int(reader.feed(0, 0)["head"])
    slow = psycopg.connect(hub_db, autocommit=True)
    slow.execute("BEGIN")
    held = slow.execute("UPDATE hub_counters SET n = n + 1 WHERE name = 'feed' RETURNING n").fetchone()[0]
    slow.execute("INSERT INTO hub_feed (seq, at, kind, subject, data) VALUES (%s, '2026-01-05T08:00:00.000+08:00',"
                 " 'test', 'slow', '{}')", (held,))
    done = threading.Event()

    def later_change():
        client(one, "ST01").claim("SO-10015", "E001")
        done.set()

    threading.Thread(target=later_change, daemon=True).start()
    time.sleep(0.5)
    assert not done.is_set()  # the later change waits for the number before it
    assert reader.feed(start, 0)["events"] == []
    slow.execute("COMMIT")
    slow.close()
    assert done.wait(5)
    deadline = time.monotonic() + 3
    events: list[dict] = []
    while len(events) < 2 and time.monotonic() < deadline:
        events = reader.feed(start, 1)["events"]
    assert [(e["seq"], e["subject"]) for e in events] == [(held, "slow"), (held + 1, "SO-10015")]
