"""The relay paces itself: after a pass that sent, the next starts ``site.relay_pace_s`` after it began, so each
station's request carries what arrived meanwhile. A confirmation arriving while a pass runs must not end that
wait (before, the loop was woken and started the next pass at once: at 200 stations every request to the WMS
carried about one confirmation); one that arrives during a pass that found nothing is relayed at once. A relay or
subscriber delivery on standby (another hub holds its lease) is not woken into a lease attempt by every change,
and the holder writes its lease once a third of it has passed, not at every pass."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from packgate.sync.hub import store
from packgate.sync.hub.lease import Lease
from packgate.sync.hub.relay import Relay
from packgate.sync.hub.subscribers import Subscriber, Subscribers


class _During:
    """The relay's real WMS client and source, with a confirmation arriving (``relay.wake()``) while they work."""

    def __init__(self, relay: Relay, real: Any, method: str):
        self.relay, self.real, self.method = relay, real, method

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_confirmations(self, station: str, bodies: Sequence[bytes]) -> dict[str, dict]:
        self.relay.wake()
        return self.real.send_confirmations(station, bodies)

    def take(self, now: Any, limit: Callable[[str], int], max_rows: int) -> Any:
        self.relay.wake()
        return self.real.take(now, limit, max_rows)


def test_a_confirmation_arriving_during_a_pass_waits_for_the_pace(site: Any) -> None:
    relay = site.hub.relay
    station = site.station("ST01")
    station.confirm("scan", "order", "SO-10001")
    assert station.push() == 1
    relay._signal.clear()  # the receipt woke the (unstarted) loop: start from a quiet one
    real = relay.engine.client
    relay.engine.client = _During(relay, real, "send_confirmations")
    result = relay.run_once()
    assert result["outcome"] == "sent"
    assert not relay._signal.is_set()  # the loop was not woken: its paced wait stands
    assert relay.wait_after(result) > 0.5 * relay.pace_s
    relay.wake()  # and while it paces, a new confirmation waits for the next pass too
    assert not relay._signal.is_set()


def test_a_confirmation_arriving_during_a_pass_that_found_nothing_is_relayed_at_once(site: Any) -> None:
    relay = site.hub.relay
    relay.engine.source = _During(relay, relay, "take")
    result = relay.run_once()
    assert result["outcome"] == "idle"
    assert relay.wait_after(result) == 0.0


def test_a_standby_relay_is_not_woken_into_a_lease_attempt_by_every_confirmation(site: Any) -> None:
    hub = site.hub
    assert hub.db.run(lambda conn: store.take_lease(conn, "relay", "hub-b:8700", hub.clock.now(), 15.0))
    relay = hub.relay
    result = relay.run_once()
    assert result["outcome"] == "standby"
    assert relay.wait_after(result) == relay.lease.recheck_s
    relay._signal.clear()
    station = site.station("ST01")
    station.confirm("scan", "order", "SO-10001")
    assert station.push() == 1  # received here: the receipt wakes the relay...
    assert not relay._signal.is_set()  # ...unless another hub relays (before: a lease write per confirmation)


def test_a_standby_subscriber_delivery_is_not_woken_by_every_event(site: Any) -> None:
    hub = site.hub
    assert hub.db.run(lambda conn: store.take_lease(conn, "subscribers", "hub-b:8700", hub.clock.now(), 15.0))
    loop = Subscribers(hub.db, [Subscriber("erp", "http://127.0.0.1:9/hook", "s" * 32, frozenset({"order"}))],
                       hub.clock, site="DC1", holder="hub-a:8700")
    result = loop.run_once()
    assert result["outcome"] == "standby"
    assert loop.wait_after(result) == loop.lease.recheck_s
    loop._signal.clear()
    loop.wake()  # an event committed on this hub
    assert not loop._signal.is_set()  # another hub delivers: no lease attempt for it
    loop.hold_wakes(0)
    loop.wake()
    assert loop._signal.is_set()


def test_a_lease_is_written_once_a_third_of_it_has_passed_not_at_every_pass(site: Any) -> None:
    hub = site.hub
    lease = Lease(hub.db, "subscribers", "hub-a:8700", hub.clock, 15.0)

    def until() -> str:
        with hub.db.read() as conn:
            return str(conn.value("SELECT until_utc FROM hub_leases WHERE name = 'subscribers'"))

    assert lease.held(hub.clock.now())
    first = until()
    hub.clock.advance(4.0)
    assert lease.held(hub.clock.now()) and until() == first  # held, nothing written
    hub.clock.advance(1.5)  # past a third of 15 s
    assert lease.held(hub.clock.now()) and until() > first  # renewed
    other = Lease(hub.db, "subscribers", "hub-b:8700", hub.clock, 15.0)
    assert not other.held(hub.clock.now())  # while it runs, the peer stands by
    lease.give_back()
    assert other.held(hub.clock.now())  # handed back: taken at once
