"""Subscribers: a webhook down for a while, then caught up with every event exactly once and in order, each signed
(HMAC-SHA256 checked by a real receiver on 127.0.0.1) and carrying its context; a subscriber that refuses events
gets dead letters, visible to a supervisor and on /healthz. Personal data in the hub's database is sealed."""
from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from endpoint import Endpoint
from hubkit import TOKENS

from packgate.sync.hub import store
from packgate.sync.hub.config import validate
from packgate.sync.hub.engine import Database
from packgate.sync.upstream import demo_data

SECRET = "crm-webhook-secret-0123456789"


class Receiver(Endpoint):
    """A subscriber's webhook: checks the signature, keeps every event; ``down()`` refuses connections, ``up()``
    serves again on the same port; ``answer`` is the status it gives."""

    def __init__(self, secret: str, answer: int = 200) -> None:
        super().__init__()
        self.secret, self.answer = secret, answer
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/packgate"

    def post(self, path: str, headers: Any, body: bytes) -> int:
        wanted = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(wanted, headers.get("X-Packgate-Signature", "")):
            self.bad_signatures += 1
            return 401
        if self.answer == 200:
            event = json.loads(body)
            assert event["id"] == headers["X-Packgate-Event-Id"] and path == "/hooks/packgate"
            self.events.append(event)
        return self.answer


@pytest.fixture
def receivers():
    made = {"crm": Receiver(SECRET), "bi": Receiver("bi-webhook-secret-0123456789", answer=410)}
    yield made
    for receiver in made.values():
        receiver.down()


def _deliver(site) -> list[dict[str, Any]]:
    """Passes until nothing is due (the engine's answers)."""
    outcomes = []
    for _ in range(500):
        outcome = site.hub.subscribers.run_once()
        outcomes.append(outcome)
        if outcome["outcome"] in ("idle", "failed", "standby"):
            break
    return outcomes


def _subscribed(receivers) -> dict[str, Any]:
    return {"subscribers": {
        "crm": {"url": receivers["crm"].url, "secret": SECRET, "events": ["confirmation", "order_stage"]},
        "bi": {"url": receivers["bi"].url, "secret": "bi-webhook-secret-0123456789", "events": ["order_stage"]}}}


def test_a_subscriber_down_for_a_while_is_caught_up_exactly_once_in_order(make_site, receivers, clock):
    site = make_site(**_subscribed(receivers))
    crm = receivers["crm"]
    crm.down()
    table = site.station("ST01")
    table.pick("SO-10001", "T-0001", (("SKU-001", "L1", 2),))
    table.pack("SO-10001")
    assert table.push() == 4

    _deliver(site)
    view = requests.get(f"{site.url}/api/v1/subscribers", headers={"Authorization": f"Bearer {TOKENS['ST01']}"},
                        timeout=10).json()
    waiting = {s["name"]: s for s in view["subscribers"]}
    assert waiting["crm"]["pending"] == 4 + 4 and waiting["crm"]["sent"] == 0  # 4 confirmations, 4 stage changes
    assert "Connection refused" in waiting["crm"]["last_error"]
    for _ in range(3):  # still down: retried later, nothing lost, nothing sent twice
        clock.advance(400)
        _deliver(site)

    crm.up()
    clock.advance(400)
    _deliver(site)
    ids = [e["id"] for e in crm.events]
    assert len(ids) == 8 and len(set(ids)) == 8 and crm.bad_signatures == 0
    clock.advance(400)
    assert _deliver(site)[-1]["outcome"] == "idle" and len(crm.events) == 8  # exactly once

    assert [e["type"] for e in crm.events] == ["confirmation", "order_stage"] * 4  # each confirmation, then its effect
    confirmations = [e for e in crm.events if e["type"] == "confirmation"]
    assert [e["data"]["action"] for e in confirmations] == ["pick", "load", "weigh", "pack"]  # in order
    pack = confirmations[-1]
    assert pack["context"]["operator"] == "E002" and pack["context"]["station"] == "ST01"
    assert pack["context"]["location"] == "ST01" and pack["context"]["at"] and pack["site"] == "Site"
    stages = [e for e in crm.events if e["type"] == "order_stage"]
    assert [e["data"]["stage"] for e in stages] == ["picking", "picked", "weighed", "packed"] and stages[-1]["context"]["operator"] == "E002"

    # the subscriber that refuses (410): dead letters, never retried on their own, visible
    bi = receivers["bi"]
    assert bi.events == []
    supervisor = requests.get(f"{site.url}/api/v1/subscribers", timeout=10)
    assert supervisor.status_code == 401
    view = requests.get(f"{site.url}/api/v1/subscribers", headers={"Authorization": f"Bearer {TOKENS['ST01']}"},
                        timeout=10).json()
    dead = [d for d in view["dead_letters"] if d["subscriber"] == "bi"]
    assert len(dead) == 4 and all("410" in d["last_error"] for d in dead)
    assert {s["name"]: s["sent"] for s in view["subscribers"]} == {"bi": 0, "crm": 8}
    health = requests.get(f"{site.url}/healthz", timeout=10).json()
    assert any("subscriber bi: 4 event(s) refused" in p for p in health["problems"])
    assert "load" in health and health["load"]["threshold_pct"] == 80.0


def test_a_confirmation_received_twice_is_one_event(make_site, receivers, clock):
    site = make_site(**_subscribed(receivers))
    table = site.station("ST01")
    table.confirm("weigh", "order", "SO-10002", {"result": "pass"})
    table.push()
    body = site.hub.db.run(lambda conn: conn.one("SELECT body FROM hub_confirmations"))["body"]
    again = requests.post(f"{site.url}/v1/confirmations", headers={"Authorization": f"Bearer {TOKENS['ST01']}"},
                          json={"station": "ST01", "confirmations": [json.loads(body)]}, timeout=10)
    assert again.json()["results"][0]["status"] == "duplicate"
    _deliver(site)
    assert [e["type"] for e in receivers["crm"].events] == ["confirmation", "order_stage"]  # once each, cause first


def test_personal_data_is_sealed_in_the_hubs_database_and_read_through_the_hub(make_site, hub_db, tmp_path):
    site = make_site()
    names = [r[0] for r in demo_data.RECIPIENTS]
    with site.hub.db.read() as conn:
        rows = [r["data"] for r in conn.execute("SELECT data FROM hub_ref WHERE kind = 'orders'")]
    assert rows and all("pgenc1:" in r for r in rows) and not any(n in r or json.dumps(n)[1:-1] in r
                                                                   for r in rows for n in names)
    if not hub_db.startswith("postgres"):
        raw = b"".join(Path(p).read_bytes() for p in (hub_db, hub_db + "-wal") if Path(p).exists())
        assert not any(n.encode() in raw for n in names)
    answer = requests.get(f"{site.url}/v1/reference", headers={"Authorization": f"Bearer {TOKENS['ST01']}"},
                          timeout=10).json()
    first = next(o for o in answer["orders"] if o["order_id"] == "SO-10001")
    assert first["ship_to"]["name"] == demo_data.RECIPIENTS[1][0]
    key_file = tmp_path / "personal-data.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_an_older_hub_database_in_clear_is_sealed_at_start(tmp_path, wms, clock):
    from packgate.sync.hub.hub import Hub

    db = str(tmp_path / "old-hub.db")
    cfg = validate({"site.db": db, "site.upstream_url": wms, "stations": TOKENS})
    hub = Hub(cfg, clock)
    hub.tick()
    plain = Database(db)
    with plain.tx() as conn:  # what a hub before the sealing kept: the WMS's rows as they came
        rows = conn.execute("SELECT key, data FROM hub_ref WHERE kind = 'orders'")
        for row in rows:
            conn.execute("UPDATE hub_ref SET data = ? WHERE kind = 'orders' AND key = ?",
                         (json.dumps(hub.keys.open_record(json.loads(row["data"]))), row["key"]))
        conn.execute("DELETE FROM hub_meta WHERE k = 'privacy.sealed'")
    plain.close()
    hub.db.close()
    again = Hub(cfg, clock)
    with again.db.read() as conn:
        data = [r["data"] for r in conn.execute("SELECT data FROM hub_ref WHERE kind = 'orders'")]
        assert len(data) == len(demo_data.ORDERS) and all("pgenc1:" in d for d in data)
        assert store.ref_get(conn, "orders", "SO-10005")["ship_to"]["name"] == demo_data.RECIPIENTS[0][0]
    again.db.close()


def test_site_keys_rotate_reseals_the_hubs_database(tmp_path, wms, clock):
    import subprocess
    import sys

    from packgate.sync.hub.hub import Hub

    config = tmp_path / "site.toml"
    config.write_text(f'[site]\ndb = "hub.db"\nupstream_url = "{wms}"\n', encoding="utf-8")
    from packgate.sync.hub.config import load

    hub = Hub(load(config), clock)
    hub.tick()
    old = hub.keys.current
    done = subprocess.run([sys.executable, "-P", "-m", "packgate.station.runtime.cli", "site", "keys", "rotate",
                           str(config), "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["previous"] == old and report["retired"] == [old] and report["rows"] >= len(demo_data.ORDERS)
    with hub.db.read() as conn:  # the running hub reads the new key from the file
        assert f"pgenc1:{old}:" not in "".join(r["data"] for r in conn.execute("SELECT data FROM hub_ref"))
        assert store.ref_get(conn, "orders", "SO-10005")["ship_to"]["name"] == demo_data.RECIPIENTS[0][0]
    hub.db.close()


def test_the_hub_purges_personal_data_after_hand_over_plus_the_retention(make_site, clock):
    site = make_site(**{"privacy.retention_days": 1.0})
    table = site.station("ST01")
    table.pick("SO-10007", "T-0007", (("SKU-018", "L1", 1),))
    table.pack("SO-10007")
    table.pack("SO-10008")
    table.confirm("ship_load", "order", "SO-10007", {"carrier": "SF", "vehicle": "V1", "batch_id": "ST01-H00001"})
    table.push()

    clock.advance(86400 - 60)
    assert site.hub.purge_personal() == []
    clock.advance(120)
    assert site.hub.purge_personal() == ["SO-10007"]  # SO-10008 is packed, not handed over: kept
    with site.hub.db.read() as conn:
        handed = store.ref_get(conn, "orders", "SO-10007")
        kept = store.ref_get(conn, "orders", "SO-10008")
        audit = [row["what"] for row in store.audit_log(conn)]
    assert handed["ship_to"] is None and handed["personal_purged_at"] and handed["lines"]
    assert kept["ship_to"]["name"] == demo_data.RECIPIENTS[8 % len(demo_data.RECIPIENTS)][0]
    assert "personal_purged" in audit
    assert site.hub.purge_personal() == []  # once
