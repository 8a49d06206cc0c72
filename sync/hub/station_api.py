"""The API the site's stations call: the upstream contract they already speak (confirmations in, reconciliation,
reference data, orders, labels and waybills relayed to the WMS) plus the site extensions (claims, heartbeats, the
change feed, the site's escalations and the site's dock).

Invariants: every call carries ``Authorization: Bearer <station token>`` and a station only ever acts as itself (the
body's or path's station must be the token's); reads a supervisor may also make (reference, orders, claims, feed)
accept the dashboard's session instead. A batch holds at most ``MAX_BATCH`` confirmations (413 otherwise); labels
and waybills are relayed to the WMS as they are, idempotent there by the parcel's key. A station acknowledges an
escalation, and resolves a conflict, for the supervisor signed in on it (the hub checks the role), and holds a parcel only for one of its own
dock batches (``<station>-…``).
"""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from packgate.device.clock import parse_iso
from packgate.sync.errors import HubRequestError, PermanentUpstreamError, TransientUpstreamError
from packgate.sync.hub import store
from packgate.sync.hub.auth import require_station
from packgate.sync.hub.feedwatch import OPENING
from packgate.sync.hub.web import body, cursor, event_stream, hub, int_arg, station, station_or_supervisor, text

bp = Blueprint("station_api", __name__)
MAX_BATCH = 1000
MAX_REF_PAGE = 5000


# ---- the upstream contract ----------------------------------------------------------------------------
@bp.post("/v1/confirmations")
def post_confirmations() -> Response:
    started = time.perf_counter()
    who = station()
    envelope = body()
    if not isinstance(envelope.get("station"), str) or not isinstance(envelope.get("confirmations"), list):
        raise HubRequestError('expected {"station": "...", "confirmations": [...]}')
    require_station(who, envelope["station"])
    if len(envelope["confirmations"]) > MAX_BATCH:
        raise HubRequestError(f"at most {MAX_BATCH} confirmations per request", 413)
    answer = jsonify({"results": hub().receive(who, envelope["confirmations"])})
    hub().metrics.ingest_seconds.observe(time.perf_counter() - started)
    return answer


def _relay_label(path: str) -> Response:
    station()
    data = body()
    client = hub().client
    if client is None:
        raise HubRequestError("this hub has no upstream (site.upstream_url): no labels can be issued", 503)
    try:
        raw = request.get_data()  # checked by body(): relayed as the station sent it
        answer = client.request_label(data, raw=raw) if path == "labels" else client.reserve_waybills(data, raw=raw)
    except PermanentUpstreamError as exc:
        raise HubRequestError(str(exc), exc.status or 422) from exc
    except TransientUpstreamError as exc:
        passed = exc.status if exc.status in (404, 409) else 503  # unknown order / carton labelled: as is
        raise HubRequestError(f"WMS: {exc}", passed) from exc
    return jsonify(answer)


@bp.post("/v1/labels")
def post_label() -> Response:
    return _relay_label("labels")


@bp.post("/v1/waybills/reserve")
def reserve_waybills() -> Response:
    return _relay_label("reserve")


@bp.get("/v1/confirmations")
def list_confirmations() -> Response:
    who = station()
    require_station(who, request.args.get("station", ""))
    try:
        since, until = parse_iso(request.args["since"]), parse_iso(request.args["until"])
    except KeyError as exc:
        raise HubRequestError(f"missing query parameter {exc}") from exc
    except ValueError as exc:
        raise HubRequestError(str(exc)) from exc
    by = request.args.get("by", "at")
    if by not in ("at", "received"):
        raise HubRequestError("by must be 'at' or 'received'")
    with hub().db.read() as conn:
        return jsonify({"station": who, "ids": store.reconcile(conn, who, since, until, by)})


@bp.get("/v1/reference")
def reference() -> Response:
    station_or_supervisor()
    since = int_arg("since", 0, 0, 10**17)
    limit = int_arg("limit", MAX_REF_PAGE, 1, MAX_REF_PAGE)
    return Response(hub().reference_pages.page(since, limit), mimetype="application/json")


@bp.get("/v1/orders/<order_id>")
def order(order_id: str) -> Response:
    station_or_supervisor()
    found = hub().order(order_id)
    if found is None:
        raise HubRequestError(f"unknown order {order_id}", 404)
    return jsonify(found)


@bp.get("/v1/orders/<order_id>/confirmations")
def order_confirmations(order_id: str) -> Response:
    station_or_supervisor()
    with hub().db.read() as conn:
        return jsonify({"order_id": order_id, "confirmations": store.order_confirmations(conn, order_id)})


# ---- site extensions ----------------------------------------------------------------------------------
@bp.post("/v1/claims")
def post_claim() -> Response:
    who = station()
    data = body()
    require_station(who, data.get("station"))
    order_id = text(data, "order_id")
    assert order_id is not None
    renew = data.get("renew", False)
    if not isinstance(renew, bool):
        raise HubRequestError("renew must be true or false")
    claim = hub().claim(who, order_id, text(data, "operator", required=False), renew=renew)
    return jsonify({"claim": claim, "table": hub().config.station_name(who)})


@bp.delete("/v1/claims/<order_id>")
def delete_claim(order_id: str) -> Response:
    who = station()
    require_station(who, request.args.get("station", who))
    return jsonify({"released": hub().release(order_id, station=who)})


@bp.get("/v1/claims")
def list_claims() -> Response:
    station_or_supervisor()
    with hub().db.read() as conn:
        return jsonify({"claims": store.claims(conn)})


@bp.post("/v1/stations/<station_id>/heartbeat")
def post_heartbeat(station_id: str) -> Response:
    who = station()
    require_station(who, station_id)
    data = body()
    beat: dict[str, Any] = {}
    for name in ("operator", "order_id", "state", "version"):
        beat[name] = text(data, name, required=False)
    devices = data.get("devices", {})
    if not isinstance(devices, dict) or len(devices) > 20:
        raise HubRequestError("devices must be an object of at most 20 device -> state")
    beat["devices"] = {str(k)[:40]: str(v)[:80] for k, v in devices.items()}
    for name in ("outbox_depth", "outbox_dead"):
        count = data.get(name)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**31):
            raise HubRequestError(f"{name} must be a whole number from 0 to 2^31-1")
        beat[name] = count
    sent_clock = data.get("clock")
    if sent_clock is not None:
        try:
            beat["clock"] = parse_iso(sent_clock) if isinstance(sent_clock, str) else None
        except ValueError:
            beat["clock"] = None
        if beat["clock"] is None:
            raise HubRequestError("clock must be the station's time, ISO 8601 with its offset")
    return jsonify({"ok": True, **hub().heartbeat(who, beat)})


@bp.get("/v1/feed")
def get_feed() -> Response:
    who = station_or_supervisor()
    since = int_arg("since", 0, 0, 10**17)
    wait = int_arg("wait", 0, 0, int(hub().config["feed.max_wait_s"]))
    limit = int_arg("limit", 500, 1, 5000)
    if wait == 0:
        return Response(hub().feed.answer(since, wait, limit), mimetype="application/json")
    with hub().long_polls.hold(who):  # 429 past the token's share: long-polls never take ingest's threads
        return Response(hub().feed.answer(since, wait, limit), mimetype="application/json")


@bp.get("/v1/feed/stream")
def stream_feed() -> Response:
    """Server-sent events from the cursor (``since``, else ``Last-Event-ID``) on, counted among the token's
    long-polls (``event_stream``: on the hub's server the stream pump writes it and it holds no thread)."""
    who = station_or_supervisor()
    if request.args.get("since") in (None, "") and request.headers.get("Last-Event-ID"):
        since = cursor(request.headers["Last-Event-ID"], "Last-Event-ID")
    else:
        since = int_arg("since", 0, 0, 10**17)
    feed = hub().feed
    return event_stream(who, lambda release: (feed.follow(since, release), OPENING), lambda: feed.stream(since))


# ---- the site's escalations, on every station's supervisor page ---------------------------------------------
@bp.get("/v1/escalations")
def open_escalations() -> Response:
    station_or_supervisor()
    return jsonify({"escalations": hub().open_escalations()})


@bp.post("/v1/escalations/<order_id>/<level>/ack")
def ack_escalation(order_id: str, level: str) -> Response:
    who = station()
    if level not in ("1", "2"):
        raise HubRequestError("level must be 1 or 2")
    by = text(body(), "by")
    assert by is not None
    answer = hub().acknowledge(order_id[:80], int(level), by, terminal=who)
    return jsonify({**answer, "order_id": order_id, "level": int(level)})


# ---- the site's conflicts to resolve (a pack or hand-over the WMS refused: it had cancelled the order) -------
@bp.get("/v1/conflicts")
def open_conflicts() -> Response:
    station_or_supervisor()
    return jsonify({"conflicts": hub().open_conflicts()})


@bp.post("/v1/conflicts/<int:n>/resolve")
def resolve_conflict(n: int) -> Response:
    who = station()
    data = body()
    by, note = text(data, "by"), text(data, "note")
    assert by is not None and note is not None
    return jsonify(hub().resolve_conflict(n, by, note, terminal=who))


# ---- the site's dock: any table's dock batch takes any parcel of the site -----------------------------------
@bp.get("/v1/parcels/<path:code>")
def parcel(code: str) -> Response:
    station_or_supervisor()
    return jsonify(hub().parcel(code[:128]))


@bp.post("/v1/dock/holds")
def hold_parcel() -> Response:
    who = station()
    data = body()
    require_station(who, data.get("station"))
    code, batch_id = text(data, "code"), text(data, "batch_id")
    assert code is not None and batch_id is not None
    if not batch_id.startswith(f"{who}-"):
        raise HubRequestError(f"batch {batch_id} is not one of {who}'s dock batches", 403)
    return jsonify(hub().parcel(code, (batch_id, who, text(data, "operator", required=False))))


@bp.delete("/v1/dock/holds/<order_id>")
def give_back_parcel(order_id: str) -> Response:
    who = station()
    batch_id = request.args.get("batch_id", "")
    if not batch_id.startswith(f"{who}-"):
        raise HubRequestError(f"batch {batch_id!r} is not one of {who}'s dock batches", 403)
    return jsonify({"given_back": hub().give_back(order_id, batch_id)})
