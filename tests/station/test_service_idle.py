"""Idle sign-out after session.idle_sign_out_s, driven by tick() and a FakeClock."""
from __future__ import annotations

from datetime import timedelta


def test_idle_operator_is_signed_out_exactly_at_the_limit(make_station, clock, h):
    station = make_station(overrides={"session.idle_sign_out_s": 300})
    h.sign_in(station)
    signed_in_at = clock.now()
    assert station.tick() == signed_in_at + timedelta(seconds=300)
    clock.advance(299.999)
    station.tick()
    assert station.pack.operator is not None
    clock.advance(0.001)
    assert station.tick() is None
    assert station.pack.operator is None and str(station.pack.state) == "idle"
    assert station.verdict["code"] == "signed_out" and "idle" in station.verdict["message"]
    last = h.outbox_rows(station)[-1]["body"]
    assert (last["action"], last["object_id"]) == ("badge", "E001")
    assert last["payload"] == {"event": "sign_out", "reason": "idle"}
    assert last["at"] == "2026-01-05T08:05:00.000+08:00"


def test_activity_restarts_the_idle_timer(make_station, clock, world, h):
    station = make_station(overrides={"session.idle_sign_out_s": 300})
    h.sign_in(station)
    clock.advance(200)
    station.handle({"action": "scan", "object_id": "SO-10009"})
    assert station.tick() == clock.now() + timedelta(seconds=300)
    clock.advance(200)
    station.tick()
    assert station.pack.operator is not None


def test_idle_sign_out_releases_the_open_order_with_an_audit_entry(make_station, clock, world, h):
    station = make_station(overrides={"session.idle_sign_out_s": 60})
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10009"})
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-007")})
    clock.advance(60)
    station.tick()
    assert station.pack.operator is None
    overview = station.supervisor_overview()
    row = next(r for r in overview["milestones"] if r["order_id"] == "SO-10009")
    assert row["status"] == "open" and row["station"] is None
    audit = overview["audit"][0]
    assert (audit["who"], audit["action"], audit["reason"]) == ("E001", "abandon", "sign_out: idle")
    assert audit["before"]["order_id"] == "SO-10009" and audit["before"]["units"] == 1
    assert audit["after"] == {"state": "idle"}
    sign_out, closed = (r["body"] for r in h.outbox_rows(station)[-2:])
    assert sign_out["payload"]["released_order"] == "SO-10009"  # the idle timer does not ask: nobody is there
    assert (closed["action"], closed["object_id"], closed["payload"]["scope"]) == ("cancel", "SO-10009", "pack_session")
    assert closed["payload"]["abandoned"] is True and closed["payload"]["units_scanned"] == 1
    # the order can be opened again at once (no stale lock on it)
    h.sign_in(station, "packer2")
    assert station.handle({"action": "scan", "object_id": "SO-10009"})["code"] == "order_opened"


def test_nobody_signed_in_means_no_idle_deadline(station, clock):
    assert station.tick() is None
    clock.advance(10_000)
    assert station.tick() is None and station.verdict is None
