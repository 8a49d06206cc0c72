"""The hub's load shedding: above load.shed_pct the dashboard's charts step aside (the figures stay), the
dashboard and /healthz say so; below it the charts are back. The gauge reads the hub's own CPU time; here it is
given the readings of a busy and then a quiet hub (an injected reader and clock)."""
from __future__ import annotations

import requests
from hubkit import dashboard_sign_in

from packgate.sync.common.load import LoadGauge
from packgate.sync.upstream import demo_data


def test_charts_step_aside_while_the_hub_is_busy(site):
    now, used = [0.0], [0.0]
    site.hub.load = LoadGauge(80.0, reader=lambda: (used[0], now[0]), monotonic=lambda: now[0])
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, demo_data.DEMO_BADGES["supervisor"], "9876").status_code in (302, 303)

    first = http.get(f"{site.url}/?lang=en", timeout=15).text  # quiet: the charts are drawn
    assert 'id="load"' in first and 'id="charts-paused" class="paused" hidden' in first
    drawn = http.get(f"{site.url}/api/dashboard/summary", timeout=15).json()
    assert drawn["charts_paused"] is False
    now[0] += 1.0
    used[0] += 0.95  # 95 % of a core
    busy = http.get(f"{site.url}/?lang=en", timeout=15).text
    assert "Charts not redrawn while the hub is busy" in busy and 'id="load"' in busy
    assert 'id="charts-paused" class="paused" hidden' not in busy
    health = requests.get(f"{site.url}/healthz", timeout=15).json()
    assert health["load"]["shedding"] is True and health["load"]["shed"] == {"charts": 1}
    assert any("overloaded" in p for p in health["problems"])
    assert "中心繁忙" in http.get(f"{site.url}/?lang=zh", timeout=15).text
    paused = http.get(f"{site.url}/api/dashboard/summary", timeout=15).json()
    assert paused["charts_paused"] is True and paused["throughput"] == drawn["throughput"]  # the last ones drawn

    now[0] += 1.0
    used[0] += 0.2  # quiet again
    quiet = http.get(f"{site.url}/?lang=en", timeout=15).text
    assert 'id="charts-paused" class="paused" hidden' in quiet
    assert http.get(f"{site.url}/api/dashboard/summary", timeout=15).json()["charts_paused"] is False
