"""Every background loop stops promptly (under half a second), whatever it is waiting for: the feed follower
inside a 25 s long-poll (its socket is shut down, no failure logged), the follower backing off from a hub
that is down, a started hub (relay, ticker, feed watcher), and all the loops of a station agent linked to a hub."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from packgate.device.clock import Clock
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate as station_config
from packgate.sync.common.loop import stop_all
from packgate.sync.hub.config import validate as hub_config
from packgate.sync.hub.hub import Hub
from packgate.sync.hub_client import FeedFollower, SiteClient

PROMPT_S = 0.5
TOKEN = "token-of-station-01-abcdef"  # the site fixture's token of ST01


def test_stop_cancels_the_followers_long_poll_at_once(site, tmp_path: Path, caplog):
    seen: list[dict] = []
    client = SiteClient(site.url, "ST01", TOKEN)
    (tmp_path / "cursor").write_text(client.feed(0, 0)["head"])  # followed from now on
    follower = FeedFollower(client, seen.append, tmp_path / "cursor", wait_s=25).start()
    time.sleep(0.3)  # inside its long-poll: the hub answers after 25 s or at the next change
    with caplog.at_level(logging.INFO, logger="packgate.sync.hub_client"):
        started = time.monotonic()
        assert follower.stop() is True
        took = time.monotonic() - started
    assert took < PROMPT_S, f"stop() took {took:.2f} s"
    assert not follower.alive and follower.failures == 0 and seen == []
    assert [r.getMessage() for r in caplog.records] == []  # a cancelled long-poll is not a failure
    follower.start()  # and it follows again after a stop
    time.sleep(0.3)
    site.hub.claim("ST02", "SO-10014", "E003")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e["subject"] for e in seen] == ["SO-10014"]
    assert follower.stop()


def test_a_cancelled_long_poll_is_not_a_hub_failure_to_fail_over_from(site, tmp_path: Path, caplog):
    client = SiteClient([site.url, site.url], "ST01", TOKEN)  # a site of two hubs (here the same one twice)
    (tmp_path / "cursor").write_text(client.feed(0, 0)["head"])
    follower = FeedFollower(client, lambda e: None, tmp_path / "cursor", wait_s=25).start()
    time.sleep(0.3)
    with caplog.at_level(logging.INFO, logger="packgate.sync.common.http"):
        started = time.monotonic()
        assert follower.stop() and time.monotonic() - started < PROMPT_S
    assert client.http.current == 0 and [r.getMessage() for r in caplog.records] == []  # type: ignore[union-attr]


def test_stop_ends_the_followers_backoff_from_a_hub_that_is_down(tmp_path: Path):
    follower = FeedFollower(SiteClient("http://127.0.0.1:9", "ST01", TOKEN), lambda e: None, tmp_path / "cursor",
                            wait_s=25).start()
    deadline = time.monotonic() + 5
    while not follower.failures and time.monotonic() < deadline:
        time.sleep(0.01)
    assert follower.failures >= 1 and "Connection" in (follower.last_error or "")
    started = time.monotonic()
    assert follower.stop() and time.monotonic() - started < PROMPT_S


@pytest.mark.parametrize("with_upstream", [True, False])
def test_a_started_hub_stops_at_once(tmp_path: Path, wms: str, with_upstream: bool):
    hub = Hub(hub_config({"site.db": str(tmp_path / "hub.db"), "site.upstream_url": wms if with_upstream else ""}),
              Clock()).start()
    try:
        time.sleep(0.3)
        assert hub.relay.alive and hub.ticker.alive and hub.feed.alive
        started = time.monotonic()
        assert hub.stop() is True
        assert time.monotonic() - started < PROMPT_S
        assert not (hub.relay.alive or hub.ticker.alive or hub.feed.alive)
    finally:
        hub.db.close()


def test_every_loop_of_an_agent_linked_to_a_hub_stops_at_once(site, tmp_path: Path):
    cfg = station_config({"station.id": "ST01", "station.data_dir": str(tmp_path / "ST01"), "web.port": 0,
                          "upstream.url": site.url, "upstream.kind": "hub", "upstream.token": TOKEN,
                          "hub.feed_wait_s": 25, "scale.enabled": False, "scanner.enabled": False,
                          "badge.enabled": False})
    agent = Agent(cfg, start_devices=False).start()
    try:
        time.sleep(0.5)
        names = sorted(loop.name for loop in agent.loops)
        assert names == sorted(["outbox-worker", "wal-checkpoint", "reference-refresh", "timers", "status", "prune",
                                "site-feed", "site-heartbeat"])
        assert all(loop.alive for loop in agent.loops)
        started = time.monotonic()
        assert stop_all(agent.loops) is True
        took = time.monotonic() - started
        assert took < PROMPT_S, f"the agent's loops took {took:.2f} s to stop"
        assert not any(loop.alive for loop in agent.loops)
    finally:
        agent.stop()
