"""Site escalations with an injectable clock and a real webhook: once per (order, level), none when packed."""
from __future__ import annotations

import sys
import threading
import time

from hubkit import Webhook

from packgate.sync.common.notify import Notifier


def test_picked_and_left_unpacked_escalates_once_per_level_with_a_stable_id(site, clock, webhook):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(11 * 60 + 59)
    assert site.hub.tick()["escalations"] == [] and webhook.received == []
    clock.advance(2)
    assert site.hub.tick()["escalations"] == ["SO-10012/1"]
    for _ in range(3):
        site.hub.tick()
    assert len(webhook.received) == 1
    note = webhook.received[0]
    assert note["title"] == "packgate: order SO-10012 not packed (level 1)" and "id SO-10012/1" in note["message"]
    order = site.hub.order("SO-10012")
    assert order["priority_released"] is True
    clock.advance(10 * 60)
    assert site.hub.tick()["escalations"] == ["SO-10012/2"]
    site.hub.tick()
    assert [n["title"][-9:] for n in webhook.received] == ["(level 1)", "(level 2)"]


def test_the_picking_station_switched_off_does_not_stop_the_escalation(site, clock, webhook):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    del a  # the picking station is gone; the hub alone knows the deadline
    clock.advance(12 * 60 + 1)
    site.hub.tick()
    assert len(webhook.received) == 1


def test_an_order_packed_at_another_table_is_never_escalated(site, clock, webhook):
    a, b = site.station("ST01"), site.station("ST02")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(15)
    b.pack("SO-10012")
    b.push()
    clock.advance(60 * 60)
    site.hub.tick()
    assert webhook.received == []
    assert {e["state"] for e in site.hub.order("SO-10012")["escalations"]} == {"void"}


def test_a_restarted_hub_does_not_resend(make_site, clock, webhook):
    first = make_site()
    a = first.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(12 * 60 + 1)
    first.hub.tick()
    first.stop()
    second = make_site()  # same database
    second.hub.tick()
    clock.advance(60)
    second.hub.tick()
    assert len(webhook.received) == 1


def test_a_failed_send_is_retried_later_and_sent_once(site, clock, webhook):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    working = site.hub.escalator.notifier
    site.hub.escalator.notifier = Notifier(["json://127.0.0.1:9/hook"])  # nothing listens there
    clock.advance(12 * 60 + 1)
    assert site.hub.tick()["escalations"] == []
    assert site.hub.order("SO-10012")["escalations"][0]["state"] == "pending"
    site.hub.escalator.notifier = working
    clock.advance(10)
    assert site.hub.tick()["escalations"] == []  # not before the retry time
    clock.advance(25)
    assert site.hub.tick()["escalations"] == ["SO-10012/1"]
    site.hub.tick()
    assert len(webhook.received) == 1


def test_acknowledging_level_1_stops_level_2(site, clock, webhook):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(12 * 60 + 1)
    site.hub.tick()
    assert site.hub.acknowledge("SO-10012", 1, "E005")["acknowledged"]
    clock.advance(60 * 60)
    site.hub.tick()
    assert len(webhook.received) == 1


class SlowWebhook(Webhook):
    """A chat service that takes ``delay_s`` to answer each message."""

    def __init__(self, delay_s: float):
        super().__init__()
        handler = self.server.RequestHandlerClass
        original = handler.do_POST  # type: ignore[attr-defined]

        def slow(this: object) -> None:
            time.sleep(delay_s)
            original(this)

        handler.do_POST = slow  # type: ignore[attr-defined]


def test_a_wave_of_escalations_goes_out_concurrently_once_each(make_site, clock):
    hook = SlowWebhook(0.3)
    try:
        first, second = make_site(), make_site()  # two hubs on one database, ticking at once
        for hub in (first, second):
            hub.hub.escalator.notifier = Notifier([hook.url])
        orders = [f"SO-1{n:04d}" for n in range(1, 21)]
        a = first.station("ST01")
        for n, order in enumerate(orders):
            a.confirm("load", "tote", f"T-{n:04d}", {"order_id": order, "units": 1}, "E004")
        assert a.push() == 20
        clock.advance(12 * 60 + 1)
        start = time.monotonic()
        sent: list[list[str]] = [[], []]
        threads = [threading.Thread(target=lambda i=i, s=s: sent[i].extend(s.hub.escalator.tick()))
                   for i, s in enumerate((first, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        took = time.monotonic() - start
    finally:
        hook.close()
    ids = sorted(sent[0] + sent[1])
    assert ids == sorted(f"{order}/1" for order in orders)  # each (order, level) once, across both hubs
    titles = sorted(m["title"] for m in hook.received)
    assert titles == sorted(f"packgate: order {order} not packed (level 1)" for order in orders)
    print(f"\n20 escalations through a webhook taking 0.3 s each: sent in {took:.2f} s (one at a time: 6 s)",
          file=sys.__stderr__)
    assert took < 3.0


def _wms(site):
    from packgate.sync.client import UpstreamClient

    return UpstreamClient(site.hub.config["site.upstream_url"], deadline_s=5)


def test_a_held_order_does_not_escalate_while_held_and_keeps_its_time_left_when_released(site, clock, webhook):
    wms = _wms(site)
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(10 * 60)  # 2 min left before level 1
    wms.decide("SO-10012", "hold", {"reason": "address check"})
    site.hub.pull_orders()
    clock.advance(30 * 60)  # both deadlines pass while the WMS holds it
    assert site.hub.tick()["escalations"] == [] and webhook.received == []
    assert all(e["held_since"] and e["state"] == "pending" for e in site.hub.order("SO-10012")["escalations"])
    wms.decide("SO-10012", "release", {})
    site.hub.pull_orders()
    clock.advance(60)
    assert site.hub.tick()["escalations"] == []  # 1 of its 2 minutes left
    assert not any(e["held_since"] for e in site.hub.order("SO-10012")["escalations"])
    clock.advance(61)
    assert site.hub.tick()["escalations"] == ["SO-10012/1"]
    clock.advance(9 * 60 + 50)
    assert site.hub.tick()["escalations"] == []
    clock.advance(20)
    assert site.hub.tick()["escalations"] == ["SO-10012/2"]
    assert len(webhook.received) == 2
    wms.close()


def test_an_order_picked_while_held_waits_for_its_release_and_a_cancelled_one_never_escalates(site, clock, webhook):
    wms = _wms(site)
    wms.decide("SO-10012", "hold", {"reason": "fraud review"})
    wms.decide("SO-10011", "cancel", {"reason": "customer refund"})
    site.hub.pull_orders()
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.pick("SO-10011", "T-0011")
    a.push()
    clock.advance(60 * 60)
    assert site.hub.tick()["escalations"] == [] and webhook.received == []
    assert {e["state"] for e in site.hub.order("SO-10011")["escalations"]} <= {"void"}
    wms.decide("SO-10012", "release", {})
    site.hub.pull_orders()
    clock.advance(11 * 60 + 50)
    assert site.hub.tick()["escalations"] == []  # its 12 minutes count from the release
    clock.advance(20)
    assert site.hub.tick()["escalations"] == ["SO-10012/1"]
    wms.close()


def test_an_order_held_after_its_escalations_were_scheduled_is_paused_even_if_the_pull_came_late(site, clock, webhook):
    """The hold reached the hub (its order row) before the escalator's tick: the due row is paused at its claim."""
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(13 * 60)
    with site.hub.db.tx() as conn:  # the hub's row says held, the escalation rows were not paused yet
        conn.execute("UPDATE hub_orders SET wms_status = 'held' WHERE order_id = 'SO-10012'")
    assert site.hub.tick()["escalations"] == [] and webhook.received == []
