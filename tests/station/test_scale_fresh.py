"""Fresh weights only: a reading counts while the scale keeps talking (``scale.fresh_s``, default 2 s, a few
poll intervals of a polled scale). A scale that is connected but silent is "not responding" on the kiosk, in
/healthz (503, naming it) and in the metrics, and no weighing uses its last reading."""
from __future__ import annotations

from decimal import Decimal

from packgate.device.profiles import get_profile

PROFILE = get_profile("mettler-mt-sics")


def reading(grams):
    return PROFILE.codec.decode(f"S S {Decimal(grams):>10.1f} g\r\n".encode())


def _scale_spoke(station, grams):
    station.on_device_state("scale", "connected", None)
    station.on_reading(reading(grams))


def test_a_silent_scale_is_not_responding_and_its_last_weight_is_not_shown(station, clock):
    _scale_spoke(station, 470)
    assert station.state()["scale"]["responding"] is True and station.state()["scale"]["stable"] is True
    clock.advance(2.5)
    shown = station.state()["scale"]
    assert shown["responding"] is False and shown["state"] == "not_responding"
    assert shown["weight"] is None and shown["stable"] is False
    health = station.health()
    assert health["ok"] is False and any("scale not responding" in p for p in health["problems"])
    assert 'packgate_scale_responding{station="ST01"} 0' in station.metrics()


def test_weigh_without_grams_refuses_a_stale_reading(station, world, h, clock):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    station.on_device_state("scale", "connected", None)
    station.on_reading(reading(0))  # empty scale, stable: nothing weighed
    clock.advance(1)
    station.parts.live.scale.reading = reading(world.expected_g("SO-10009"))  # the last frame before it went quiet
    clock.advance(90)
    answer = station.handle({"action": "weigh"})
    assert answer["code"] == "scale_not_responding" and str(station.pack.state) == "ready_to_weigh"
    assert h.outbox_rows(station, "action = 'weigh'") == []


def test_a_scale_that_talks_again_is_responding(station, clock):
    _scale_spoke(station, 470)
    clock.advance(10)
    assert station.health()["ok"] is False
    station.on_reading(reading(471))
    assert station.health()["ok"] is True and station.state()["scale"]["weight"] is not None


def test_a_connected_scale_that_never_answers_is_not_responding(station, clock):
    station.on_device_state("scale", "connected", None)
    assert station.health()["ok"] is True  # it has fresh_s to answer
    clock.advance(3)
    assert station.health()["ok"] is False


def test_the_page_is_told_when_the_scale_goes_quiet(station, clock):
    _scale_spoke(station, 470)
    q = station.bus.subscribe()
    clock.advance(3)
    station.check_scale()
    kind, data = q.get_nowait()
    assert kind == "scale" and data["state"] == "not_responding"
