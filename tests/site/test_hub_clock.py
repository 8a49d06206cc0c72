"""Time is the hub's: escalations and ages run on the hub's clock from when it received the confirmation, whatever
the station's clock says (before: 10 min behind escalated 2 min after the pick, 10 min ahead after 22 min, 1970 at
once, 2099 never); the station's own timestamp is kept as reported; each heartbeat measures the station's clock
offset, shown on the dashboard and in /healthz, and the station's kiosk warns past ``clock.warn_after_s``."""
from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
import requests
from hubkit import TOKENS, FakeStation, dashboard_sign_in

from packgate.device.clock import Clock, FakeClock, parse_iso
from packgate.sync.hub_client import SiteClient
from packgate.sync.upstream.demo_data import DEMO_BADGES

FAR = {"10 min behind": -600.0, "10 min ahead": 600.0}
REPORT: dict[str, str] = {}


class SkewedClock(Clock):
    """Another clock's time moved by ``offset_s`` (a station PC whose time is wrong), its monotonic time as is."""

    def __init__(self, base: Clock, offset_s: float | None = None, at: datetime | None = None):
        self.base = base
        self.offset = timedelta(seconds=offset_s) if offset_s is not None else (at or base.now()) - base.now()

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def monotonic(self) -> float:
        return self.base.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        return self.base.sleep(seconds, stop)


def _skewed_station(site: Any, tmp_path: Any, name: str, wrong: Clock, station: str = "ST01") -> FakeStation:
    """A station whose PC's clock is ``wrong``: its outbox and worker run on it (the timestamps it writes too)."""
    (tmp_path / name).mkdir(exist_ok=True)
    return FakeStation(tmp_path / name, station, site.url, wrong)  # type: ignore[arg-type]


CASES: dict[str, Callable[[FakeClock], Clock]] = {
    "10 min behind": lambda c: SkewedClock(c, -600),
    "10 min ahead": lambda c: SkewedClock(c, 600),
    "in 1970": lambda c: SkewedClock(c, at=datetime(1970, 1, 1, 0, 0, 5, tzinfo=timezone.utc)),
    "in 2099": lambda c: SkewedClock(c, at=datetime(2099, 1, 1, tzinfo=timezone.utc)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_escalations_run_from_when_the_hub_received_the_pick(make_site: Any, clock: FakeClock, webhook: Any,
                                                            tmp_path: Any, case: str) -> None:
    site = make_site()
    station = _skewed_station(site, tmp_path, case, CASES[case](clock))
    station.pick("SO-10012", "T-0012")
    station.push()
    received = clock.now()
    fired: dict[int, float] = {}
    for step in (11 * 60 + 59, 2, 9 * 60 + 57, 2):  # 11:59, 12:01, 21:58, 22:00
        clock.advance(step)
        for esc in site.hub.tick()["escalations"]:
            fired[int(esc.rsplit("/", 1)[1])] = (clock.now() - received).total_seconds()
    assert set(fired) == {1, 2} and 720 <= fired[1] <= 721 and 1320 <= fired[2] <= 1321, fired
    REPORT[case] = f"level 1 at {fired[1] / 60:.2f} min, level 2 at {fired[2] / 60:.2f} min after the hub received the pick"
    kept = site.hub.order("SO-10012")
    with site.hub.db.read() as conn:  # the station's own timestamp, kept as it reported it
        reported = [(row["at"], json.loads(row["body"])["at"]) for row in conn.execute(
            "SELECT at, body FROM hub_confirmations WHERE station = 'ST01'")]
    wrong_then = station.outbox.clock.now() - timedelta(seconds=(clock.now() - received).total_seconds())
    assert reported and all(at == body_at and abs((parse_iso(at) - wrong_then).total_seconds()) < 2
                            for at, body_at in reported)
    assert abs((parse_iso(kept["milestones"]["picked"]) - received).total_seconds()) < 1  # the hub's time
    if len(REPORT) == len(CASES):  # once per engine
        print("\n" + "\n".join(f"station {k}: {v}" for k, v in REPORT.items()), file=sys.__stderr__)
        REPORT.clear()


def test_pick_to_pack_across_two_wrong_clocks_is_the_real_time(make_site: Any, clock: FakeClock, tmp_path: Any) -> None:
    site = make_site()
    ahead = _skewed_station(site, tmp_path, "a", SkewedClock(clock, 600))
    ahead.pick("SO-10012", "T-0012")
    ahead.push()
    clock.advance(30)
    packer = _skewed_station(site, tmp_path, "b", SkewedClock(clock, -300), "ST02")
    packer.pack("SO-10012")
    packer.push()
    milestones = site.hub.order("SO-10012")["milestones"]
    assert (parse_iso(milestones["packed"]) - parse_iso(milestones["picked"])).total_seconds() == pytest.approx(30, abs=1)


def test_the_heartbeat_measures_the_clock_and_healthz_and_the_dashboard_show_it(site: Any, clock: FakeClock) -> None:
    ahead = SiteClient(site.url, "ST01", TOKENS["ST01"])
    ahead.heartbeat(state="idle", clock=(clock.now() + timedelta(seconds=603)).isoformat())
    assert ahead.last_clock is not None
    assert ahead.last_clock["offset_s"] == pytest.approx(603, abs=1) and ahead.last_clock["warning"] is True
    fine = SiteClient(site.url, "ST02", TOKENS["ST02"])
    fine.heartbeat(state="idle", clock=clock.now().isoformat())
    assert fine.last_clock is not None and abs(fine.last_clock["offset_s"]) < 1 and fine.last_clock["warning"] is False
    health = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert health["ok"] is False
    assert any(p.startswith("station ST01's clock differs from the hub's by +10 min 3 s") for p in health["problems"])
    assert not any("ST02" in p for p in health["problems"])
    assert {s["station"]: round(s["clock_offset_s"]) for s in health["stations"]} == {"ST01": 603, "ST02": 0}
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, DEMO_BADGES["supervisor"], "9876").status_code == 303
    shown = {s["station"]: s for s in http.get(f"{site.url}/api/dashboard/summary", timeout=5).json()["stations"]}
    assert round(shown["ST01"]["clock_offset_s"]) == 603 and shown["ST01"]["clock_warning"] is True
    assert shown["ST02"]["clock_warning"] is False
    panels = {s["station"]: s for s in http.get(f"{site.url}/api/dashboard", timeout=5).json()["stations"]}
    assert panels["ST01"]["clock_shown"] == "+10 min 3 s"
    answer = requests.post(f"{site.url}/v1/stations/ST01/heartbeat", json={"state": "idle"},
                           headers={"Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5).json()
    assert "clock_offset_s" not in answer  # a heartbeat without the station's time: nothing measured, the last kept
    assert requests.get(f"{site.url}/healthz", timeout=5).json()["stations"][0]["clock_offset_s"] == pytest.approx(603, abs=1)


def test_a_bad_clock_in_a_heartbeat_is_a_400(site: Any) -> None:
    answer = requests.post(f"{site.url}/v1/stations/ST01/heartbeat", json={"clock": "yesterday"},
                           headers={"Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5)
    assert answer.status_code == 400 and "clock" in answer.json()["error"]
