"""What site IT and monitoring read from the hub: ``/healthz`` (relay depth and dead letters, the feed's head, the
reference refresh, problems in words) and ``/openapi.json`` (the contract stations speak to it).

Invariant: both answer without a token; /healthz says ``ok: false`` with each problem named (dead letters, an
unrelayed confirmation older than ``STALE_S``, a failing reference refresh) and is computed on each call.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from packgate.device.clock import isoformat
from packgate.sync.hub import store
from packgate.sync.hub.openapi import openapi_document
from packgate.sync.hub.web import hub

bp = Blueprint("operations", __name__)
STALE_S = 300


@bp.get("/healthz")
def healthz() -> Response:
    now = hub().clock.now()
    with hub().db.read() as conn:
        relay = store.relay_status(conn, now)
        head = store.feed_head(conn)
        meta = {k: store.get_meta(conn, f"wms.{k}") for k in ("ref_last_refresh", "ref_last_error")}
    problems = []
    if relay["dead"]:
        problems.append(f"{relay['dead']} confirmation(s) refused by the WMS (dead letters)")
    if relay["oldest_age_s"] is not None and relay["oldest_age_s"] > STALE_S:
        problems.append(f"oldest unrelayed confirmation is {relay['oldest_age_s']:.0f} s old")
    if meta["ref_last_error"]:
        problems.append(f"reference refresh failing: {meta['ref_last_error']}")
    return jsonify({"ok": not problems, "time": isoformat(now), "relay": relay, "feed_head": head,
                    "reference": meta, "upstream": hub().config["site.upstream_url"] or None,
                    "problems": problems})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
