"""What site IT and monitoring read from the hub: ``/healthz``, ``/metrics`` (Prometheus text: ingest, group
commit, relay, feed; see ``metrics``) and ``/openapi.json`` (the contract stations speak to it).

``/healthz`` says what is wrong, in words (``problems``), computed on each call:

* **storage**: the hub's database failing (disk full, read-only, PostgreSQL down): since when, how many writes were
  refused, the last error; ingest answers 503 "not saved" meanwhile, and so does /healthz (a load balancer or a
  monitor sees it). A write failed and none has written since: that is failing (an empty commit proves nothing).
* **relay**: confirmations waiting for the WMS (depth, the oldest's age), refused ones (dead letters), the relay's
  last error, which hub holds the relay lease;
* **notifications**: each channel of ``escalation.notify``, ``alerts.notify`` and ``reports.notify`` that fails (named
  by its scheme, no secret); ``warnings`` says when no channel is configured (nothing is sent), ``alerts_open`` how
  many alerts wait for an acknowledgement;
* **clocks**: each station whose clock differs from the hub's past ``clock.warn_after_s``;
* the reference refresh from the WMS.

Invariant: all three answer without a token (nothing secret in them); /healthz answers 200 with ``ok: false`` for every
problem but storage, 503 for storage.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from packgate.device.clock import isoformat
from packgate.sync.errors import StorageError
from packgate.sync.hub import alerts, store, subscribers
from packgate.sync.hub.dashboard import clock_view
from packgate.sync.hub.metrics import CONTENT_TYPE
from packgate.sync.hub.openapi import openapi_document
from packgate.sync.hub.web import hub, station_or_supervisor

bp = Blueprint("operations", __name__)
STALE_S = 300


@bp.get("/healthz")
def healthz() -> Response:
    site = hub()
    now = site.clock.now()
    problems: list[str] = []
    body: dict[str, Any] = {"time": isoformat(now), "upstream": site.config["site.upstream_url"] or None}
    try:
        with site.db.read() as conn:
            relay = store.relay_status(conn, now)
            body["feed_head"] = store.feed_head(conn)
            body["reference"] = {k: store.get_meta(conn, f"wms.{k}") for k in ("ref_last_refresh", "ref_last_error")}
            relay["lease_holder"] = store.lease_holder(conn, "relay", now)
            stations = store.stations(conn)
    except StorageError as exc:
        relay, stations = {}, []
        problems.append(f"storage: the hub's database cannot be read: {exc}")
    outage = site.db.outage.status()
    body["storage"] = {"ok": outage is None and not problems, "failing": outage}
    if outage is not None:
        problems.append(f"storage failing since {outage['since']} ({outage['failures']} failure(s)):"
                        f" {outage['last_error']}")
    if relay:
        relay["this_hub_last_error"] = site.relay.last_error
        relay["this_hub_sends"] = "together" if site.relay.engine.together else "per_station"
        problems += _relay_problems(relay)
    body["relay"] = relay
    body["notifications"] = site.channels()
    for channel in body["notifications"]:
        if not channel["usable"]:
            problems.append(f"notification channel {channel['channel']} ({channel['url']}) of the {channel['for']}:"
                            f" {channel['last_error']}")
        elif channel["failing_since"]:
            problems.append(f"notification channel {channel['channel']} ({channel['url']}) failing since"
                            f" {channel['failing_since']} ({channel['for']}): {channel['last_error']}")
    body["warnings"] = site.config.warnings()
    try:
        with site.db.read() as conn:
            body["alerts_open"] = alerts.open_count(conn)
    except StorageError:
        body["alerts_open"] = None
    warn_after = site.config["clock.warn_after_s"]
    body["stations"] = [{"station": row["station"], "last_seen_at": row["last_seen_at"],
                         "clock_offset_s": row.get("clock_offset_s")} for row in stations]
    for row in stations:
        view = clock_view(row.get("clock_offset_s"), warn_after)
        if view["clock_warning"]:
            problems.append(f"station {row['station']}'s clock differs from the hub's by {view['clock_shown']}"
                            f" (more than {warn_after:g} s): fix its time (NTP)")
    body["subscribers"] = _subscribers(site, problems)
    body["load"] = site.load.status()
    if body["load"]["shedding"]:
        problems.append(f"overloaded ({body['load']['pct']:.0f} % > {body['load']['threshold_pct']:g} %): chart"
                        " rendering and reports step aside")
    if body.get("reference", {}).get("ref_last_error"):
        problems.append(f"reference refresh failing: {body['reference']['ref_last_error']}")
    failing_storage = not body["storage"]["ok"]
    answer = jsonify({"ok": not problems, **body, "problems": problems})
    answer.status_code = 503 if failing_storage else 200
    return answer


def _relay_problems(relay: dict[str, Any]) -> list[str]:
    problems = []
    if relay["dead"]:
        problems.append(f"{relay['dead']} confirmation(s) refused by the WMS (dead letters)")
    if relay["oldest_age_s"] is not None and relay["oldest_age_s"] > STALE_S:
        problems.append(f"relay backlog: {relay['depth']} confirmation(s) waiting, the oldest for"
                        f" {relay['oldest_age_s']:.0f} s")
    if relay["depth"] and relay["last_error"]:
        problems.append(f"relay to the WMS failing ({relay['depth']} waiting): {relay['last_error']}")
    return problems


def _subscribers(site: Any, problems: list[str]) -> list[dict[str, Any]]:
    if site.subscribers is None:
        return []
    try:
        with site.db.read() as conn:
            found = subscribers.status(conn, [s.name for s in site.subscribers.subscribers])
    except StorageError:
        return []
    for sub in found:
        if sub["dead"]:
            problems.append(f"subscriber {sub['name']}: {sub['dead']} event(s) refused (dead letters)")
        if sub["pending"] and sub["last_error"]:
            problems.append(f"subscriber {sub['name']} failing ({sub['pending']} waiting since"
                            f" {sub['oldest_waiting_since']}): {sub['last_error']}")
    return found


@bp.get("/api/v1/subscribers")
def subscribers_view() -> Response:
    """The subscribers' queues and dead letters (a signed-in supervisor, or a station's token)."""
    station_or_supervisor()
    site = hub()
    names = [s.name for s in site.subscribers.subscribers] if site.subscribers is not None else []
    with site.db.read() as conn:
        return jsonify({"subscribers": subscribers.status(conn, names), "dead_letters": subscribers.dead_letters(conn)})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(hub().metrics.render(), content_type=CONTENT_TYPE)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
