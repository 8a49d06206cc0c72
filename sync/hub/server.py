"""The site hub's HTTP API: the contract stations already speak plus the site extensions.

``create_hub_app(hub)`` builds the Flask app; ``serve(hub)`` runs it on cheroot (``sync.common.serving``: a
worker thread per request in flight and per open feed stream or long-poll, idle keep-alive connections in one
selector loop, so a site's idle stations cost no thread and no CPU; waitress, before, asked every connection
``readable()`` on every pass of its loop); ``start_in_thread`` runs it for tests and the bench. Every station
request carries ``Authorization: Bearer <token>`` and the token must belong to the station named in the body or
path. Every error is JSON. ``/healthz`` and ``/metrics`` (Prometheus text) need no token.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.common.jsonbytes import loads
from packgate.sync.common.serving import cheroot_server, serve_in_thread
from packgate.sync.errors import ClaimConflictError, HubRequestError, StorageError
from packgate.sync.hub import store
from packgate.sync.hub.auth import require_station, station_for_token
from packgate.sync.hub.dashboard import register_dashboard
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.metrics import CONTENT_TYPE
from packgate.sync.hub.openapi import openapi_document

log = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024
MAX_BATCH = 1000
MAX_REF_PAGE = 5000
MAX_FIELD = 200


def _body() -> dict[str, Any]:
    try:
        data = loads(request.get_data())
    except (ValueError, UnicodeDecodeError) as exc:
        raise HubRequestError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HubRequestError("body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HubRequestError(f"{name} must be a non-empty string")
    if len(value) > MAX_FIELD:
        raise HubRequestError(f"{name} is longer than {MAX_FIELD} characters")
    return value


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise HubRequestError(f"{name} must be a whole number {low}..{high}")
    return max(low, min(int(text), high))


def _cursor(text: str, name: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 17:
        raise HubRequestError(f"{name} must be a feed cursor (a whole number)")
    return int(text)


def create_hub_app(hub: Hub) -> Flask:
    app = Flask("packgate-site")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, JSON_SORT_KEYS=False)
    tokens: dict[str, str] = hub.config["stations"]

    def station() -> str:
        """The authenticated station of this request (401 without a known token)."""
        if "station" not in g:
            g.station = station_for_token(request.headers.get("Authorization"), tokens)
        return str(g.station)

    def station_or_supervisor() -> None:
        if request.headers.get("Authorization"):
            station()
            return
        from packgate.sync.hub.dashboard import current_supervisor

        if current_supervisor(hub) is None:
            raise HubRequestError("missing Authorization: Bearer <station token> (or a supervisor sign-in)", 401)

    @app.errorhandler(HubRequestError)
    def _hub_error(exc: HubRequestError) -> tuple[Response, int]:
        return jsonify({"error": str(exc)}), exc.status

    @app.errorhandler(ClaimConflictError)
    def _claim_error(exc: ClaimConflictError) -> tuple[Response, int]:
        return jsonify({"error": str(exc), "claim": exc.claim}), 409

    @app.errorhandler(StorageError)
    def _storage_error(exc: StorageError) -> tuple[Response, int]:
        log.error("hub storage failed: %s", exc)
        return jsonify({"error": f"not saved: {exc}"}), 503

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify({"error": f"{exc.code} {exc.name}: {exc.description}"}), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("hub request failed: %s", exc)
        return jsonify({"error": f"internal error ({type(exc).__name__}); see the hub's log"}), 500

    @app.after_request
    def _stamp(resp: Response) -> Response:
        resp.headers["X-Upstream-Time"] = isoformat(hub.clock.now())
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path.startswith("/v1/"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/healthz")
    def healthz() -> Response:
        now = hub.clock.now()
        with hub.db.read() as conn:
            relay = store.relay_status(conn, now)
            head = store.feed_head(conn)
            meta = {k: store.get_meta(conn, f"wms.{k}") for k in ("ref_last_refresh", "ref_last_error")}
        problems = []
        if relay["dead"]:
            problems.append(f"{relay['dead']} confirmation(s) refused by the WMS (dead letters)")
        if relay["oldest_age_s"] is not None and relay["oldest_age_s"] > 300:
            problems.append(f"oldest unrelayed confirmation is {relay['oldest_age_s']:.0f} s old")
        if meta["ref_last_error"]:
            problems.append(f"reference refresh failing: {meta['ref_last_error']}")
        return jsonify({"ok": not problems, "time": isoformat(now), "relay": relay, "feed_head": head,
                        "reference": meta, "upstream": hub.config["site.upstream_url"] or None,
                        "problems": problems})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(hub.metrics.render(), content_type=CONTENT_TYPE)

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document())

    # ---- the station contract ---------------------------------------------------------------
    @app.post("/v1/confirmations")
    def post_confirmations() -> Response:
        started = time.perf_counter()
        who = station()
        envelope = _body()
        if not isinstance(envelope.get("station"), str) or not isinstance(envelope.get("confirmations"), list):
            raise HubRequestError('expected {"station": "...", "confirmations": [...]}')
        require_station(who, envelope["station"])
        if len(envelope["confirmations"]) > MAX_BATCH:
            raise HubRequestError(f"at most {MAX_BATCH} confirmations per request", 413)
        answer = jsonify({"results": hub.receive(who, envelope["confirmations"])})
        hub.metrics.ingest_seconds.observe(time.perf_counter() - started)
        return answer

    # the label contract, relayed to the WMS as it is: idempotent there by the parcel's (reservation's) key
    def relay_label(path: str) -> Response:
        station()
        body = _body()
        if hub.client is None:
            raise HubRequestError("this hub has no upstream (site.upstream_url): no labels can be issued", 503)
        from packgate.sync.errors import PermanentUpstreamError, TransientUpstreamError

        try:
            answer = hub.client.request_label(body) if path == "labels" else hub.client.reserve_waybills(body)
        except PermanentUpstreamError as exc:
            raise HubRequestError(str(exc), exc.status or 422) from exc
        except TransientUpstreamError as exc:
            passed = exc.status if exc.status in (404, 409) else 503  # unknown order / carton labelled: as is
            raise HubRequestError(f"WMS: {exc}", passed) from exc
        return jsonify(answer)

    @app.post("/v1/labels")
    def post_label() -> Response:
        return relay_label("labels")

    @app.post("/v1/waybills/reserve")
    def reserve_waybills() -> Response:
        return relay_label("reserve")

    @app.get("/v1/confirmations")
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
        with hub.db.read() as conn:
            return jsonify({"station": who, "ids": store.reconcile(conn, who, since, until, by)})

    @app.get("/v1/reference")
    def reference() -> Response:
        station_or_supervisor()
        since = _int_arg("since", 0, 0, 10**17)
        limit = _int_arg("limit", MAX_REF_PAGE, 1, MAX_REF_PAGE)
        return Response(hub.reference_pages.page(since, limit), mimetype="application/json")

    @app.get("/v1/orders/<order_id>")
    def order(order_id: str) -> Response:
        station_or_supervisor()
        found = hub.order(order_id)
        if found is None:
            raise HubRequestError(f"unknown order {order_id}", 404)
        return jsonify(found)

    @app.get("/v1/orders/<order_id>/confirmations")
    def order_confirmations(order_id: str) -> Response:
        station_or_supervisor()
        with hub.db.read() as conn:
            return jsonify({"order_id": order_id, "confirmations": store.order_confirmations(conn, order_id)})

    # ---- site extensions ------------------------------------------------------------------------
    @app.post("/v1/claims")
    def post_claim() -> Response:
        who = station()
        data = _body()
        require_station(who, data.get("station"))
        order_id = _text(data, "order_id")
        assert order_id is not None
        claim = hub.claim(who, order_id, _text(data, "operator", required=False))
        return jsonify({"claim": claim, "table": hub.config.station_name(who)})

    @app.delete("/v1/claims/<order_id>")
    def delete_claim(order_id: str) -> Response:
        who = station()
        require_station(who, request.args.get("station", who))
        return jsonify({"released": hub.release(order_id, station=who)})

    @app.get("/v1/claims")
    def list_claims() -> Response:
        station_or_supervisor()
        with hub.db.read() as conn:
            return jsonify({"claims": store.claims(conn)})

    @app.post("/v1/stations/<station_id>/heartbeat")
    def post_heartbeat(station_id: str) -> Response:
        who = station()
        require_station(who, station_id)
        data = _body()
        beat: dict[str, Any] = {}
        for name in ("operator", "order_id", "state"):
            beat[name] = _text(data, name, required=False)
        devices = data.get("devices", {})
        if not isinstance(devices, dict) or len(devices) > 20:
            raise HubRequestError("devices must be an object of at most 20 device -> state")
        beat["devices"] = {str(k)[:40]: str(v)[:80] for k, v in devices.items()}
        depth = data.get("outbox_depth")
        if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
            raise HubRequestError("outbox_depth must be a whole number >= 0")
        beat["outbox_depth"] = depth
        hub.heartbeat(who, beat)
        return jsonify({"ok": True, "time": isoformat(hub.clock.now())})

    @app.get("/v1/feed")
    def get_feed() -> Response:
        station_or_supervisor()
        since = _int_arg("since", 0, 0, 10**17)
        wait = _int_arg("wait", 0, 0, int(hub.config["feed.max_wait_s"]))
        limit = _int_arg("limit", 500, 1, 5000)
        return Response(hub.feed.answer(since, wait, limit), mimetype="application/json")

    @app.get("/v1/feed/stream")
    def stream_feed() -> Response:
        station_or_supervisor()
        if request.args.get("since") in (None, "") and request.headers.get("Last-Event-ID"):
            since = _cursor(request.headers["Last-Event-ID"], "Last-Event-ID")
        else:
            since = _int_arg("since", 0, 0, 10**17)
        if hub.feed.streams >= hub.feed.max_streams:
            raise HubRequestError(f"this hub serves at most {hub.feed.max_streams} feed streams (site.threads);"
                                  " long-poll /v1/feed or ask another hub", 503)
        return Response(hub.feed.stream(since), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    register_dashboard(app, hub)
    return app


def make_server(app: Any, host: str, port: int, *, threads: int) -> Any:
    """The hub's server for ``app`` (the bench serves its minimal endpoint with it too): every station keeps its
    keep-alive connection, a connection idle for 60 s is closed."""
    return cheroot_server(app, host, port, threads=threads, name="packgate-site", timeout=60, backlog=1024,
                          keepalive_limit=None)


def _server(hub: Hub, host: str, port: int) -> Any:
    return make_server(create_hub_app(hub), host, port, threads=hub.config["site.threads"])


def serve(hub: Hub) -> None:
    """Run the hub (relay, ticker, HTTP) until interrupted."""
    server = _server(hub, hub.config["site.host"], hub.config["site.port"])
    hub.start()
    port = server.bind_addr[1]
    log.info("packgate site hub on http://%s:%s (db %s)", hub.config["site.host"], port, hub.config.db_path)
    print(f"packgate site hub listening on http://{hub.config['site.host']}:{port}", flush=True)
    try:
        server.serve()
    finally:
        hub.stop()
        server.stop()


def start_in_thread(hub: Hub, host: str = "127.0.0.1", port: int = 0, *,
                    background: bool = True) -> tuple[str, Callable[[], None]]:
    """Run the hub's server in a daemon thread; returns ``(base_url, stop)``. ``background=False``
    leaves the relay and ticker to the caller (tests drive ``hub.tick()`` with a fake clock)."""
    server = _server(hub, host, port)
    if background:
        hub.start()
    else:
        hub.feed.start()  # real time, whatever the clock: changes of other hubs on the same database
    stop_server = serve_in_thread(server, "packgate-site")

    def stop() -> None:
        if background:
            hub.stop()
        else:
            hub.feed.stop()  # open streams end, so the server's threads are free to stop
        stop_server()

    return f"http://{host}:{server.bind_addr[1]}", stop
