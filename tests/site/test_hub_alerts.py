"""Alert rules on the hub's clock (a fake one), on SQLite and PostgreSQL, sent through a real Apprise ``json://``
receiver: each rule fires once per (rule, subject), not again on the next pass, after a hub restart or from a second
hub on the same database; a queue fires only after it stayed over its limit; acknowledgements are a supervisor's
and audited; with no channel nothing is marked sent; ``site config check`` warns when no channel is configured."""
from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import requests
from click.testing import CliRunner
from hubkit import TOKENS, dashboard_sign_in

from packgate.device.clock import isoformat
from packgate.station.runtime.cli import cli
from packgate.sync.common.notify import Notifier
from packgate.sync.hub import alerts, store
from packgate.sync.hub_client import SiteClient

RULES = [{"kind": "stuck", "stage": "packing", "minutes": 10}, {"kind": "stuck", "stage": "blocked", "minutes": 5},
         {"kind": "queue", "queue": "blocked", "over": 0, "minutes": 5}, {"kind": "station_offline", "minutes": 2},
         {"kind": "clock", "seconds": 10}, {"kind": "sync_failures", "over": 2}, {"kind": "volume", "min": 1}]


def beat(site: Any, station: str, *, skew_s: float = 0.0, dead: int | None = None) -> dict[str, Any]:
    sent = site.clock.now() + timedelta(seconds=skew_s)
    resp = requests.post(f"{site.url}/v1/stations/{station}/heartbeat", timeout=5,
                         headers={"Authorization": f"Bearer {TOKENS[station]}"},
                         json={"state": "idle", "clock": isoformat(sent), "outbox_dead": dead})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def titles(webhook: Any) -> list[str]:
    return sorted(m["title"] for m in webhook.received)


def test_each_rule_fires_once_survives_a_restart_and_two_hubs_send_it_once(make_site: Any, clock: Any,
                                                                            webhook: Any) -> None:
    site = make_site(**{"alerts.rules": RULES})  # its first pass: last hour's volume (0 packed, at least 1 wanted)
    assert titles(webhook) == ["packgate: 0 parcels packed 07:00-08:00"]
    station = site.station("ST01")
    station.confirm("open", "order", "SO-10012")  # packing from now
    station.confirm("weigh", "order", "SO-10013", {"result": "fail"})  # blocked from now
    station.push()
    beat(site, "ST01", skew_s=30, dead=3)  # clock 30 s ahead; its outbox gave up on 3 confirmations
    beat(site, "ST02")
    first = site.hub.tick()["alerts"]
    # at once: the clock, the sync failures; the queue is only watched
    assert sorted(first["sent"]) == sorted(["clock.10/ST01@2026-01-05", "sync_failures.2/2026-01-05"])
    clock.advance(6 * 60)
    beat(site, "ST01")  # ST01 still beats; ST02 went silent 6 min ago
    second = site.hub.tick()["alerts"]["sent"]
    assert sorted(second) == sorted(["stuck.blocked.5/SO-10013:blocked", f"queue.blocked.0.5/blocked@{since(site)}",
                                     f"station_offline.2/ST02@{last_seen_utc(site, 'ST02')}"])
    clock.advance(5 * 60)
    beat(site, "ST01")
    assert site.hub.tick()["alerts"]["sent"] == ["stuck.packing.10/SO-10012:packing"]
    assert site.hub.tick()["alerts"]["sent"] == []  # the next pass: nothing again
    assert len(webhook.received) == 7 and len(set(titles(webhook))) == 7
    assert any(m["title"] == "packgate: SO-10012 packing for 11 min" for m in webhook.received)
    assert all(m["message"].startswith("id ") for m in webhook.received)  # the stable id, for a receiver's dedup

    # a restarted hub (and a second one on the same database) sends none of them again
    site.stop()
    again, other = make_site(**{"alerts.rules": RULES}), make_site(**{"alerts.rules": RULES})
    clock.advance(60)
    for hub_site in (again, other):
        beat(hub_site, "ST01")
    results: list[list[str]] = [[], []]
    threads = [threading.Thread(target=lambda i=i, s=s: results[i].extend(s.hub.tick()["alerts"]["sent"]))
               for i, s in enumerate((again, other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[], []] and len(webhook.received) == 7

    # a new subject of a rule (another order stuck) fires once, from one of the two hubs
    station2 = again.station("ST02")
    station2.confirm("open", "order", "SO-10014")
    station2.push()
    clock.advance(11 * 60)
    beat(again, "ST01")
    beat(again, "ST02")
    threads = [threading.Thread(target=lambda i=i, s=s: results[i].extend(s.hub.tick()["alerts"]["sent"]))
               for i, s in enumerate((again, other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results[0] + results[1]) == ["stuck.packing.10/SO-10014:packing"]
    assert sum(1 for m in webhook.received if "SO-10014" in m["title"]) == 1


def since(site: Any) -> str:
    with site.hub.db.read() as conn:
        return str(conn.value("SELECT since_utc FROM hub_alert_watch WHERE rule = 'queue.blocked.0.5'"))


def last_seen_utc(site: Any, station: str) -> str:
    with site.hub.db.read() as conn:
        return str(conn.value("SELECT last_seen_utc FROM hub_stations WHERE station = ?", (station,)))


def test_a_queue_fires_only_after_it_stayed_over_its_limit_and_once_per_episode(make_site: Any, clock: Any,
                                                                               webhook: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "queue", "queue": "blocked", "over": 1, "minutes": 30}]})
    station = site.station("ST01")
    for order in ("SO-10012", "SO-10013"):
        station.confirm("weigh", "order", order, {"result": "fail"})
    station.push()
    assert site.hub.tick()["alerts"]["raised"] == []
    clock.advance(20 * 60)
    station.confirm("weigh", "order", "SO-10013", {"result": "pass"})  # back to 1: the episode ends
    station.push()
    assert site.hub.tick()["alerts"]["raised"] == []
    station.confirm("weigh", "order", "SO-10014", {"result": "fail"})  # 2 again: a new episode from now
    station.push()
    site.hub.tick()
    clock.advance(29 * 60)
    assert site.hub.tick()["alerts"]["raised"] == []  # 29 min over: not yet
    clock.advance(61)
    assert len(site.hub.tick()["alerts"]["sent"]) == 1
    clock.advance(60 * 60)
    assert site.hub.tick()["alerts"]["sent"] == []
    assert [m["title"] for m in webhook.received] == ["packgate: 2 blocked (over 1)"]


def test_acknowledging_is_a_supervisors_audited_once_and_listed(make_site: Any, clock: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "stuck", "stage": "packing", "minutes": 10, "name": "packing"}]})
    station = site.station("ST01")
    station.confirm("open", "order", "SO-10012")
    station.push()
    clock.advance(11 * 60)
    site.hub.tick()
    bearer = {"Authorization": f"Bearer {TOKENS['ST01']}"}
    listed = requests.get(f"{site.url}/api/alerts?open=1", headers=bearer, timeout=5).json()
    assert [a["id"] for a in listed["alerts"]] == ["packing/SO-10012:packing"] and listed["open"] == 1
    assert listed["alerts"][0]["state"] == "sent" and listed["alerts"][0]["channels"] == 1
    assert "packgate_hub_alerts_open 1.0" in requests.get(f"{site.url}/metrics", timeout=5).text
    ack = {"id": "packing/SO-10012:packing", "by": "E002"}  # a packer
    assert requests.post(f"{site.url}/v1/alerts/ack", json=ack, headers=bearer, timeout=5).status_code == 403
    ack["by"] = "E005"
    first = requests.post(f"{site.url}/v1/alerts/ack", json=ack, headers=bearer, timeout=5).json()
    second = requests.post(f"{site.url}/v1/alerts/ack", json=ack, headers=bearer, timeout=5).json()
    assert first["acknowledged"] is True and second["acknowledged"] is False and second["acked_by"] == "E005"
    unknown = requests.post(f"{site.url}/v1/alerts/ack", json={"id": "packing/SO-1", "by": "E005"}, headers=bearer,
                            timeout=5)
    assert unknown.status_code == 404 and "no alert packing/SO-1" in unknown.json()["error"]
    with site.hub.db.read() as conn:
        audited = [a for a in store.audit_log(conn) if a["what"] == "acknowledge_alert"]
        assert [(a["who"], a["subject"]) for a in audited] == [("E005", "packing/SO-10012:packing")]
        assert alerts.listing(conn, open_only=True) == []
    assert "packgate_hub_alerts_open 0.0" in requests.get(f"{site.url}/metrics", timeout=5).text


def test_without_a_channel_nothing_is_marked_sent_and_the_site_says_so(make_site: Any, clock: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "stuck", "stage": "packing", "minutes": 10}]})
    site.hub.escalator.notifier = Notifier([])  # the demo hub: no notify URLs
    station = site.station("ST01")
    station.pick("SO-10012", "T-0012")
    station.confirm("open", "order", "SO-10012")
    station.push()
    clock.advance(13 * 60)
    out = site.hub.tick()
    assert out["escalations"] == ["SO-10012/1"] and len(out["alerts"]["sent"]) == 1  # done: the WMS is told
    bearer = {"Authorization": f"Bearer {TOKENS['ST01']}"}
    listed = requests.get(f"{site.url}/api/alerts", headers=bearer, timeout=5).json()
    assert [a["state"] for a in listed["alerts"]] == ["not_sent"] and listed["channels"] == []
    assert any("escalation.notify is empty" in w for w in listed["warnings"])
    [escalation] = site.hub.order("SO-10012")["escalations"][:1]
    assert escalation["state"] == "not_sent"
    assert site.hub.open_escalations()[0]["notified"] is False
    health = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert health["alerts_open"] == 1 and any("sent to nobody" in w for w in health["warnings"])


def test_a_failing_channel_is_an_alert_through_the_others_and_shown(make_site: Any, clock: Any, webhook: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "channel"}, {"kind": "stuck", "stage": "packing", "minutes": 1}]})
    site.hub.escalator.notifier = Notifier([webhook.url, "json://127.0.0.1:9/nobody"], now=clock.now)
    station = site.station("ST01")
    station.confirm("open", "order", "SO-10012")
    station.push()
    clock.advance(120)
    first = site.hub.tick()["alerts"]
    assert first["sent"] == []  # channel 2 refused the stuck order's alert: it is retried
    clock.advance(31)
    second = site.hub.tick()["alerts"]
    assert second["sent"] == [f"channel/escalations:2@{isoformat(clock.now() - timedelta(seconds=31))}"]
    channel_alerts = [m for m in webhook.received if "notification channel 2" in m["title"]]
    assert len(channel_alerts) == 1 and "127.0.0.1:9" not in str(channel_alerts)  # no URL in it, only the scheme
    bearer = {"Authorization": f"Bearer {TOKENS['ST01']}"}
    listed = requests.get(f"{site.url}/api/alerts", headers=bearer, timeout=5).json()
    assert [c["failing_since"] is not None for c in listed["channels"]] == [False, True]
    health = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert any(p.startswith("notification channel 2 (json://…) failing since") for p in health["problems"])


def test_config_check_warns_when_no_channel_is_configured(tmp_path: Any) -> None:
    quiet = tmp_path / "quiet.toml"
    quiet.write_text('[site]\nname = "Demo"\n', encoding="utf-8")
    quiet.chmod(0o640)
    result = CliRunner().invoke(cli, ["site", "config", "check", str(quiet)])
    assert result.exit_code == 0
    assert "warning: escalation.notify is empty" in result.stderr
    told = tmp_path / "told.toml"
    told.write_text('[escalation]\nnotify = ["json://127.0.0.1:9/hook"]\n', encoding="utf-8")
    told.chmod(0o640)
    result = CliRunner().invoke(cli, ["site", "config", "check", str(told)])
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_bad_rules_are_refused_with_the_rule_and_the_problem(tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[alerts.rules]]\nkind = "stuck"\nstage = "lunch"\nminutes = 5\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["site", "config", "check", str(bad)])
    assert result.exit_code == 2 and "alerts.rules: rule 1 (stuck): stage must be one of packing" in result.stderr


def test_a_stations_outbox_dead_letters_reach_the_hub_with_its_heartbeat(make_site: Any, clock: Any,
                                                                         webhook: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "sync_failures", "over": 3}]})
    client = SiteClient(site.url, "ST02", TOKENS["ST02"])
    client.heartbeat(state="idle", outbox_depth=0, outbox_dead=3)
    assert site.hub.tick()["alerts"]["raised"] == []  # 3: not over 3
    client.heartbeat(state="idle", outbox_depth=0)  # a beat without the count keeps the last one
    client.heartbeat(state="idle", outbox_depth=0, outbox_dead=4)
    assert site.hub.tick()["alerts"]["sent"] == ["sync_failures.3/2026-01-05"]
    [message] = webhook.received
    assert "0 confirmation(s) refused by the WMS and 4 given up by stations' outboxes" in message["message"]


def test_the_dashboard_shows_the_alerts_and_a_supervisor_acknowledges_one_there(make_site: Any, clock: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "stuck", "stage": "packing", "minutes": 10}]})
    station = site.station("ST01")
    station.confirm("open", "order", "SO-10012")
    station.push()
    clock.advance(11 * 60)
    site.hub.tick()
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, "04D2E8F1A2B390", "9876").status_code == 303
    page = http.get(f"{site.url}/?lang=zh", timeout=10).text
    assert 'id="alerts"' in page and "环节停留超时" in page and "packgate: SO-10012 packing for 11 min" in page
    assert ">01-05 08:11</time>" in page  # the hub's local time, not an ISO stamp
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    done = http.post(f"{site.url}/alerts/ack", data={"csrf": csrf.group(1), "id": "stuck.packing.10/SO-10012:packing"},
                     allow_redirects=False, timeout=10)
    assert done.status_code == 303
    page = http.get(f"{site.url}/?lang=en", timeout=10).text
    assert "stuck in a stage" in page and "acknowledged by E005" in page
    report = http.get(f"{site.url}/reports?day=2026-01-05&lang=zh", timeout=10).text
    assert "日报" in report and "当日未对账" in report and 'id="r-parcels">0<' in report


def test_returns_waiting_over_the_limit_fire_once(make_site: Any, clock: Any, webhook: Any) -> None:
    site = make_site(**{"alerts.rules": [{"kind": "queue", "queue": "returns", "over": 2, "minutes": 60}]})
    with site.hub.db.read() as conn:  # the seeded WMS announces its returns; none is received at a table yet
        waiting = len([r for r in store.ref_all(conn, "rmas") if r.get("status") not in ("refunded", "review")])
    assert waiting > 2
    assert site.hub.tick()["alerts"]["sent"] == []
    clock.advance(61 * 60)
    assert len(site.hub.tick()["alerts"]["sent"]) == 1
    clock.advance(60)
    assert site.hub.tick()["alerts"]["sent"] == []
    assert [m["title"] for m in webhook.received] == [f"packgate: {waiting} returns (over 2)"]
