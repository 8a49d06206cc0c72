"""Escalation on time, exactly once, across restarts, with Apprise posting to a real local webhook."""
from __future__ import annotations

from datetime import timedelta

import pytest

from packgate.sync.common.notify import Notifier

FIRST_S = 12 * 60
SECOND_S = 22 * 60


@pytest.fixture
def escalating(make_station, webhook):
    """A station notifying the webhook; returns a builder so a test can restart it on the same DB."""
    def build():
        return make_station(notifier=Notifier([webhook.url]))
    return build


def escalate_rows(station, h):
    return [r["body"] for r in h.outbox_rows(station, "action = 'escalate'")]


def test_picked_order_escalates_at_12_00_exactly_once(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10012")
    picked = clock.now()
    assert station.tick() == picked + timedelta(seconds=FIRST_S)  # the timer sleeps until the deadline, no polling

    clock.advance(FIRST_S - 0.001)  # 11:59.999
    station.tick()
    assert webhook.received == [] and escalate_rows(station, h) == []

    clock.advance(0.001)  # 12:00.000
    nxt = station.tick()
    assert len(webhook.received) == 1
    note = webhook.received[0]
    assert note["path"] == "/hook"
    assert "SO-10012" in note["title"] and "level 1" in note["title"]
    assert "T-0012" in note["message"] and "12 min" in note["message"] and "订单SO-10012" in note["message"]
    assert nxt == picked + timedelta(seconds=SECOND_S)

    [conf] = escalate_rows(station, h)
    assert (conf["object_type"], conf["object_id"], conf["device"]) == ("order", "SO-10012", "ST01-agent")
    assert conf["payload"]["level"] == 1 and conf["payload"]["release_priority"] is True
    assert conf["payload"]["deadline"] == "2026-01-05T08:12:00.000+08:00"
    assert conf["at"] == "2026-01-05T08:12:00.000+08:00"
    order = next(o for o in station.orders_to_pick() + station.supervisor_overview()["milestones"]
                 if o["order_id"] == "SO-10012")
    assert order["priority"] == 1
    assert station.state()["priority_orders"] == [
        {"order_id": "SO-10012", "tote": "T-0012", "picked_at": "2026-01-05T08:00:00.000+08:00", "priority": 1}]

    for _ in range(3):
        clock.advance(30)
        station.tick()
    assert len(webhook.received) == 1

    clock.advance(SECOND_S - FIRST_S - 90 - 0.001)
    station.tick()
    assert len(webhook.received) == 1
    clock.advance(0.001)
    assert station.tick() is None  # nothing left to escalate
    assert len(webhook.received) == 2 and "level 2" in webhook.received[1]["title"]
    assert [c["payload"]["level"] for c in escalate_rows(station, h)] == [1, 2]
    assert len(station.supervisor_overview()["escalations"]) == 2


def test_no_escalation_once_the_order_is_packed(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10009")
    clock.advance(5 * 60)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    assert station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009"))}})["code"] == \
        "weight_ok"
    assert station.handle({"action": "pack"})["code"] == "packed"
    assert station.tick() is not None  # only the idle sign-out of the packer is still ahead
    clock.advance(SECOND_S)
    station.tick()
    assert webhook.received == [] and escalate_rows(station, h) == []


def test_acknowledging_stops_level_2(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10012")
    clock.advance(FIRST_S)
    station.tick()
    [esc] = station.supervisor_overview()["escalations"]
    refused = station.acknowledge_escalation(esc["id"], "E001")  # a packer
    assert refused["code"] == "not_supervisor"
    ok = station.acknowledge_escalation(esc["id"], h.BADGES["supervisor"])
    assert ok["code"] == "acknowledged"
    assert station.acknowledge_escalation(esc["id"], "E005")["code"] == "already_acknowledged"
    assert station.tick() is None
    clock.advance(SECOND_S)
    station.tick()
    assert len(webhook.received) == 1
    assert station.supervisor_overview()["escalations"] == []
    acks = [r["body"] for r in h.outbox_rows(station, "action = 'escalation_ack'")]
    assert len(acks) == 1 and acks[0]["operator"] == "E005" and acks[0]["object_id"] == "SO-10012"
    audit = station.supervisor_overview()["audit"][0]
    assert (audit["who"], audit["action"], audit["object_id"]) == ("E005", "escalation_ack", "SO-10012")
    assert audit["before"]["acked"] is False and audit["after"]["acked"] is True


def test_a_restart_does_not_resend_but_still_sends_the_next_level(escalating, webhook, clock, world, h):
    first = escalating()
    h.pick_order(first, world, "SO-10012")
    clock.advance(FIRST_S + 1)
    first.tick()
    assert len(webhook.received) == 1
    first.close()

    second = escalating()
    second.tick()
    clock.advance(60)
    second.tick()
    assert len(webhook.received) == 1
    clock.advance(SECOND_S - FIRST_S)
    second.tick()
    second.close()
    third = escalating()
    third.tick()
    assert [n["title"].split("(")[1] for n in webhook.received] == ["level 1)", "level 2)"]
    assert len(escalate_rows(third, h)) == 2


def test_a_restart_after_a_long_outage_sends_both_levels_once_in_order(escalating, webhook, clock, world, h):
    first = escalating()
    h.pick_order(first, world, "SO-10012")
    first.close()
    clock.advance(3600)  # the agent was down for an hour
    second = escalating()
    second.tick()
    second.tick()
    assert ["level 1" in n["title"] for n in webhook.received] == [True, False]
    assert "level 2" in webhook.received[1]["title"]


def test_a_failed_notification_is_retried_on_a_later_tick_and_sent_once(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10012")
    webhook.down()
    clock.advance(FIRST_S)
    station.tick()
    [esc] = station.supervisor_overview()["escalations"]
    assert esc["fired_at"] == "2026-01-05T08:12:00.000+08:00"
    assert esc["notified"] == 0 and esc["notify_error"]
    assert len(escalate_rows(station, h)) == 1  # the escalation itself is recorded and synced regardless
    clock.advance(30)
    station.tick()  # still down: still not notified, no second escalation
    assert len(escalate_rows(station, h)) == 1

    webhook.up()
    clock.advance(30)
    station.tick()
    assert len(webhook.received) == 1 and "SO-10012" in webhook.received[0]["title"]
    clock.advance(30)
    station.tick()
    assert len(webhook.received) == 1
    [esc] = station.supervisor_overview()["escalations"]
    assert esc["notified"] == 1 and esc["notify_error"] is None


def test_a_failed_notification_is_retried_after_a_restart(escalating, webhook, clock, world, h):
    first = escalating()
    h.pick_order(first, world, "SO-10012")
    webhook.down()
    clock.advance(FIRST_S)
    first.tick()
    first.close()
    webhook.up()
    second = escalating()
    second.tick()
    second.tick()
    assert len(webhook.received) == 1


def test_escalation_timing_follows_the_configuration(make_station, webhook, clock, world, h):
    station = make_station(notifier=Notifier([webhook.url]),
                           overrides={"escalation.first_after_min": 2.5, "escalation.second_after_min": 4})
    h.pick_order(station, world, "SO-10012")
    clock.advance(149.999)
    station.tick()
    assert webhook.received == []
    clock.advance(0.001)
    station.tick()
    assert len(webhook.received) == 1


@pytest.mark.parametrize("settle", ["packed", "acknowledged"])
def test_a_notification_still_pending_is_dropped_once_the_order_is_settled(settle, escalating, webhook, clock, world, h):
    """Receiver down at 12:00; the order is packed (or acknowledged) meanwhile: no stale alarm afterwards."""
    station = escalating()
    h.pick_order(station, world, "SO-10009")
    webhook.down()
    clock.advance(FIRST_S)
    station.tick()
    if settle == "packed":
        h.sign_in(station)
        h.open_and_scan(station, world, "SO-10009")
        station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009"))}})
        assert station.handle({"action": "pack"})["code"] == "packed"
    else:
        [esc] = station.supervisor_overview()["escalations"]
        assert station.acknowledge_escalation(esc["id"], "E005")["code"] == "acknowledged"
    webhook.up()
    clock.advance(60)
    station.tick()
    clock.advance(SECOND_S)
    station.tick()
    assert webhook.received == []
    row = station.parts.conn.execute("SELECT notified, notify_error FROM escalations").fetchone()
    assert row["notified"] == -1 and settle in row["notify_error"]


def test_a_slow_notification_does_not_freeze_the_kiosk(escalating, webhook, clock, world, h):
    import threading
    import time

    station = escalating()
    h.pick_order(station, world, "SO-10012")
    webhook.delay_s = 1.5
    clock.advance(FIRST_S)
    ticking = threading.Thread(target=station.tick)
    ticking.start()
    assert webhook.started.wait(5)
    started = time.monotonic()
    answer = station.handle({"action": "badge", "object_id": h.BADGES["packer"]})
    took = time.monotonic() - started
    ticking.join(10)
    assert answer["code"] == "signed_in"
    assert took < 0.5, f"the packer waited {took:.2f} s for the supervisor's chat bot"
    assert len(webhook.received) == 1


def _word(station, order_id: str, status: str, at) -> None:
    """The WMS's word on ``order_id`` reaches the station (its fast pull or reference refresh)."""
    from packgate.device.clock import isoformat
    from packgate.sync.common.db import write_tx

    row = {"order_id": order_id, "status": status, "status_reason": "address check" if status != "open" else None,
           "status_at": isoformat(at)}
    with station.parts.lock, write_tx(station.parts.conn) as conn:
        assert station.interception.learn(conn, [row], "test") == [order_id]
    station.interception.announce()


def test_a_held_order_waits_while_held_and_keeps_its_time_left_when_released(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10012")
    picked = clock.now()
    clock.advance(10 * 60)  # 2 min left before level 1
    _word(station, "SO-10012", "held", clock.now())
    assert station.tick() is None  # nothing to wait for while it is held
    clock.advance(30 * 60)  # both deadlines pass while held
    station.tick()
    assert webhook.received == [] and escalate_rows(station, h) == []
    _word(station, "SO-10012", "open", clock.now())  # released after 30 min
    assert station.tick() == picked + timedelta(seconds=FIRST_S + 30 * 60)
    clock.advance(119)
    station.tick()
    assert webhook.received == []
    clock.advance(1)
    station.tick()
    assert len(webhook.received) == 1
    # the message still says when the order was picked
    assert escalate_rows(station, h)[0]["payload"]["level"] == 1


def test_a_cancelled_order_never_escalates(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10012")
    _word(station, "SO-10012", "cancelled", clock.now())
    clock.advance(60 * 60)
    assert station.tick() is None
    assert webhook.received == [] and escalate_rows(station, h) == []


def test_a_restart_keeps_the_time_an_order_was_held(escalating, webhook, clock, world, h):
    station = escalating()
    h.pick_order(station, world, "SO-10012")
    picked = clock.now()
    _word(station, "SO-10012", "held", clock.now())
    clock.advance(5 * 60)
    _word(station, "SO-10012", "open", clock.now())
    station.close()
    again = escalating()
    assert again.tick() == picked + timedelta(seconds=FIRST_S + 5 * 60)
