"""The hub's OpenAPI description: the upstream contract (``sync/upstream/openapi.json``, less its admin calls, the
fast pull of order changes and the relay's several stations' batches) plus the site extensions, served at ``/openapi.json``.

Invariant: every route of the hub's app but the dashboard's pages and forms is here, and everything here is served
(tests/site/test_hub_openapi.py)."""
from __future__ import annotations

import copy
from typing import Any

from packgate.sync.hub.auth import COOKIE
from packgate.sync.upstream.openapi import openapi_document as upstream_document

_BEARER: list[dict[str, list[str]]] = [{"station": []}]
_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, responses: dict[str, str], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": _BEARER,
                          "responses": {code: {"description": text, **(_ERR if code >= "400" else {})}
                                        for code, text in responses.items()}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": 0}}


def _text_query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


_LANG = {"name": "lang", "in": "query", "required": False, "description": "en or zh (default: the lang cookie, else"
         " site.language)", "schema": {"type": "string", "enum": ["en", "zh"]}}
_STAGE = {"name": "stage", "in": "query", "required": False, "description": "only this stage",
          "schema": {"type": "string", "enum": ["backlog", "picking", "picked", "packing", "weighed", "blocked",
                                                "packed"]}}


def _page_op(summary: str, *, params: list[dict[str, Any]], not_found: str | None = None) -> dict[str, Any]:
    """An operation of the dashboard's JSON: a signed-in supervisor's session cookie."""
    responses: dict[str, Any] = {"200": {"description": "The figures", "content": {"application/json": {
        "schema": {"type": "object"}}}}, "400": {"description": "Bad filter", **_ERR},
        "401": {"description": "Not signed in", **_ERR}}
    if not_found:
        responses["404"] = {"description": not_found, **_ERR}
    return {"summary": summary, "security": [{"supervisor": []}], "parameters": params, "responses": responses}


_EITHER: list[dict[str, list[str]]] = [{"station": []}, {"supervisor": []}]
_WINDOW = [{"name": "day", "in": "query", "required": False, "description": "a hub-local day YYYY-MM-DD (default"
            " today)", "schema": {"type": "string", "format": "date"}},
           {"name": "since", "in": "query", "required": False, "description": "a shift's start (ISO 8601 with offset;"
            " with until)", "schema": {"type": "string", "format": "date-time"}},
           {"name": "until", "in": "query", "required": False, "description": "a shift's end",
            "schema": {"type": "string", "format": "date-time"}}]
AUTH = {"401": "No or unknown station token", "403": "The token belongs to another station"}
SITE_PATHS: dict[str, Any] = {
    "/v1/orders/{order_id}": {"get": _op(
        "The site's view of an order: stage (open, picking, picked, packing, weighed, blocked, packed, shipped,"
        " cancelled), the WMS's word beside it (wms: status, reason, at, revision, once the WMS held, cancelled,"
        " released or changed it), station, operator, priority, milestones with timestamps, escalations, claim",
        {"200": "The order", "404": "Unknown order", **AUTH}, params=[_path("order_id")])},
    "/v1/claims": {
        "post": _op("Claim an order for this table while it is open there (repeat to renew)",
                    {"200": "Claimed (or renewed)", "409": "Held by another table: the error names table and person",
                     "400": "Bad body", **AUTH},
                    body={"type": "object", "required": ["station", "order_id"],
                          "properties": {"station": {"type": "string"}, "order_id": {"type": "string"},
                                         "operator": {"type": ["string", "null"]},
                                         "renew": {"type": "boolean", "description": "keep an order the table has"
                                                   " open (refused after a supervisor released it from the table)"}}}),
        "get": _op("Claims held now", {"200": "Claims", **AUTH})},
    "/v1/escalations": {"get": _op(
        "The site's escalations sent and not acknowledged (every station's supervisor page shows them): id"
        " (<order>/<level>), order_id, level, sent_at, picked_at, station and table", {"200": "Escalations", **AUTH})},
    "/v1/escalations/{order_id}/{level}/ack": {"post": _op(
        "Acknowledge an escalation for the supervisor signed in at this station (audited once; one escalation_ack"
        " confirmation reaches the WMS)",
        {"200": "acknowledged (false when it was acknowledged already) and acked_by", "400": "Bad level or body",
         "404": "No such escalation on this site",
         "403": "by is not a supervisor (or the token is another station's)", "401": AUTH["401"]},
        params=[_path("order_id"), _path("level")],
        body={"type": "object", "required": ["by"], "properties": {"by": {"type": "string"}}})},
    "/v1/conflicts": {"get": _op(
        "The site's conflicts to resolve (every station's supervisor page shows them): each pack, ship_load or"
        " manifest the WMS refused (order_cancelled) because it had cancelled the order before the hub knew: n,"
        " at, order_id, action, station and table, reason, wms_reason", {"200": "Conflicts", **AUTH})},
    "/v1/conflicts/{n}/resolve": {"post": _op(
        "Resolve a conflict for the supervisor signed in at this station, with a note of what was done with the"
        " parcel (audited once)",
        {"200": "resolved (false when it was resolved already) and resolved_by", "400": "Bad body (note missing)",
         "404": "No such conflict on this site",
         "403": "by is not a supervisor (or the token is another station's)", "401": AUTH["401"]},
        params=[{"name": "n", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}],
        body={"type": "object", "required": ["by", "note"],
              "properties": {"by": {"type": "string"}, "note": {"type": "string", "minLength": 1}}})},
    "/v1/parcels/{code}": {"get": _op(
        "The facts of the parcel a label names (its order id or any of its waybills): stage, packed where and by"
        " whom, the dock batch that holds it, its WMS status and carrier", {"200": "The parcel", "404": "Unknown",
                                                                            **AUTH}, params=[_path("code")])},
    "/v1/dock/holds": {"post": _op(
        "Hold the parcel a label names for one of this station's dock batches (atomic: one batch per parcel of the"
        " site); answers the parcel's facts, taken (held by this call) and batch_id (the batch that holds it)",
        {"200": "The parcel's facts", "404": "Not a parcel or order of this site", "400": "Bad body",
         "403": "The batch is not this station's (or the token is another station's)", "401": AUTH["401"]},
        body={"type": "object", "required": ["station", "batch_id", "code"],
              "properties": {"station": {"type": "string"}, "batch_id": {"type": "string"},
                             "code": {"type": "string"}, "operator": {"type": ["string", "null"]}}})},
    "/v1/dock/holds/{order_id}": {"delete": _op(
        "Give back a parcel this station's batch (query batch_id) held and then refused", {
            "200": "given_back: whether the batch held it", "403": "Not this station's batch", "401": AUTH["401"]},
        params=[_path("order_id"), {"name": "batch_id", "in": "query", "required": True, "schema": {"type": "string"}}])},
    "/v1/claims/{order_id}": {"delete": _op("Release this table's claim", {"200": "Released", "404": "Not claimed",
                                                                            **AUTH}, params=[_path("order_id")])},
    "/v1/stations/{station_id}/heartbeat": {"post": _op(
        "Station heartbeat (renews its claims): operator, order_id, state, devices, outbox_depth, and clock (the"
        " station's time when it sent it: the answer gives the hub's time and the station's clock offset, with a"
        " warning past the site's threshold)",
        {"200": "Recorded; released lists a supervisor's release of the order the table has open (by, reason)",
         "400": "Bad body", **AUTH}, params=[_path("station_id")],
        body={"type": "object", "properties": {"operator": {"type": ["string", "null"]},
                                               "order_id": {"type": ["string", "null"]},
                                               "state": {"type": ["string", "null"]},
                                               "devices": {"type": "object", "additionalProperties": {"type": "string"}},
                                               "outbox_depth": {"type": ["integer", "null"], "minimum": 0},
                                               "outbox_dead": {"type": ["integer", "null"], "minimum": 0,
                                                               "description": "confirmations the station's outbox"
                                                               " gave up on (sync failures)"},
                                               "clock": {"type": ["string", "null"], "format": "date-time"},
                                               "version": {"type": ["string", "null"],
                                                           "description": "the station's software version"}}})},
    "/v1/weights": {"get": _op(
        "The site's learned weights every table judges on: version (grows with every change), learned (the tables'"
        " figures pooled: per SKU, box and parcel signature mean_g, sigma_g, n, se_g, samples; overridden evidence"
        " apart), decisions (the supervisors' accept / reset decisions in order) and the tables behind them; with"
        " known equal to the current version only {version, unchanged: true}",
        {"200": "The site's figures", "400": "Bad known", **AUTH},
        params=[_query("known", "the version the table already has (its figures are not sent again when current)")])},
    "/v1/weights/figures/{station_id}": {"put": _op(
        "This table's learned figures (replacing its previous ones) and the suspect-weight review it computed on the"
        " site's figures (decisions_n: the last site decision it knew)",
        {"200": "Kept; version of the site's weights", "400": "A figure is not a number of grams, or a bad body",
         "413": "Too many figures", **AUTH}, params=[_path("station_id")],
        body={"type": "object", "required": ["learned"],
              "properties": {"learned": {"type": "object"},
                             "review": {"type": "object", "properties": {
                                 "suspects": {"type": "array", "items": {"type": "object"}},
                                 "decisions_n": {"type": "integer", "minimum": 0}}}}})},
    "/v1/weights/decisions": {"post": _op(
        "A supervisor's decision on a suspect weight, for every table of the site: accept the learned unit weight"
        " (audited; the one weight_learned confirmation reaches the WMS) or reset the SKU's learning; prev is the"
        " SKU's last decision number the deciding table knew",
        {"200": "Decided: the decision with its number n and the site's weights version",
         "400": "Bad body", "409": "Decided already by someone else: the error names who and where",
         "403": "by is not a supervisor (or the token is another station's)", "401": AUTH["401"]},
        body={"type": "object", "required": ["station", "decision"],
              "properties": {"station": {"type": "string"}, "prev": {"type": "integer", "minimum": 0},
                             "evidence": {"type": ["object", "null"]},
                             "decision": {"type": "object", "required": ["sku", "action", "by"],
                                          "properties": {"sku": {"type": "string"},
                                                         "action": {"enum": ["accept", "reset"]},
                                                         "value_g": {"type": ["string", "null"]},
                                                         "before_g": {"type": ["string", "null"]},
                                                         "by": {"type": "string"}, "reason": {"type": "string"}}}}})},
    "/v1/weights/review": {"get": _op(
        "The site's suspect-weight review (also on the dashboard's /weights section): per SKU the reference, what"
        " passing and overridden parcels say (apart), n, sample parcels, the proposal; the decisions so far",
        {"200": "The review", **AUTH})},
    "/api/dashboard": {"get": _page_op(
        "The dashboard's panels for a signed-in supervisor (the session cookie of the sign-in form): stations,"
        " orders in flow by stage, blocked parcels, escalations, conflicts, claims, audit log, lots near expiry,"
        " parcels packed and not handed over, interceptions; each row with its table and person names",
        params=[_LANG])},
    "/api/dashboard/summary": {"get": _page_op(
        "The floor's figures: the backlog waiting to be picked (count, oldest), packed, shipped and intercepted"
        " today, per-stage average and p90 durations over the last hour and the shift, parcels per hour per table"
        " and per packer, pass rate per station, stations (state, operator, devices, software version, clock"
        " offset) and the feed's head", params=[_LANG])},
    "/api/dashboard/orders": {"get": _page_op(
        "Every open order of the site from the WMS's release to the hand-over at the dock, grouped by stage in"
        " floor order, the longest waiting first: stage, since, age (seconds and words), table, person, carrier"
        " and SLA colour (green, amber, red by dashboard.sla), filtered and paged", params=[
            _LANG, _STAGE, _text_query("table", "a station id"), _text_query("carrier", "a carrier code"),
            _query("min_age", "only orders in their stage at least this many minutes"),
            _query("page", "page number from 1"), _query("per_page", "orders per page (1..500)")])},
    "/api/dashboard/counts": {"get": _page_op(
        "Open orders per stage and SLA colour (the filters but the stage apply) with the oldest's age; the tables"
        " and carriers to filter by", params=[_LANG, _STAGE, _text_query("table", "a station id"),
                                                _text_query("carrier", "a carrier code"),
                                                _query("min_age", "minutes in the stage at least")])},
    "/api/dashboard/orders/{order_id}": {"get": _page_op(
        "An order's timeline: a bar per stage from the WMS's release to shipped (start, end, duration, table,"
        " person, SLA colour) and the evidence (each confirmation: time, action, table, person, facts)",
        params=[_path("order_id"), _LANG], not_found="No such order on this site")},
    "/api/dashboard/stream": {"get": {
        "summary": "Server-sent events for the open dashboard: a change event (data: the feed's head) at once and"
                   " within 0.1 s of every change of the hub's feed, a comment every 5 s; the stream ends after"
                   " 120 s and the browser reconnects. Counts among the supervisor's long-polls (429 past"
                   " feed.max_waits_per_station)",
        "security": [{"supervisor": []}],
        "responses": {"200": {"description": "text/event-stream",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      "401": {"description": "Not signed in", **_ERR}, "429": {"description": "Too many open", **_ERR}}}},
    "/api/v1/subscribers": {"get": {
        "summary": "The site's subscribers (webhooks) for a signed-in supervisor or a station token: per subscriber"
                   " the events waiting, delivered and refused (dead letters), the oldest waiting and its last error;"
                   " and the dead letters themselves (event id, type, subject, attempts, why), newest first",
        "security": [{"supervisor": []}, {"station": []}],
        "responses": {"200": {"description": "Subscribers and dead letters"},
                      "401": {"description": "Not signed in and no station token", **_ERR}}}},
    "/api/alerts": {"get": {**_op(
        "The site's alerts, the latest first (rules of alerts.rules; each once per rule and subject): id"
        " (<rule>/<subject>), rule, kind, subject, title, body, detail, raised_at, state (pending, sending, sent,"
        " not_sent: no channel configured), sent_at, channels reached, last_error, acked_by, acked_at; with the"
        " notification channels' state and the configuration's warnings",
        {"200": "Alerts", "400": "Bad query", "401": "No station token and no supervisor session"},
        params=[{"name": "open", "in": "query", "required": False, "description": "1: only those not acknowledged",
                 "schema": {"type": "string", "enum": ["0", "1"]}}, _query("limit", "at most this many (1-1000)")]),
        "security": _EITHER}},
    "/v1/alerts/ack": {"post": _op(
        "Acknowledge an alert for the supervisor signed in at this station (audited once)",
        {"200": "acknowledged (false when it was already) and acked_by", "400": "Bad body",
         "404": "No such alert on this site", "403": "by is not a supervisor", "401": AUTH["401"]},
        body={"type": "object", "required": ["id", "by"],
              "properties": {"id": {"type": "string", "description": "<rule>/<subject>"}, "by": {"type": "string"}}})},
    "/api/reports/day": {"get": {**_op(
        "The day (or shift) report: parcels per table and packer, pass rate, weight failures, overrides,"
        " interceptions, average minutes per stage, backlog now, 24-hour ship rate, the day's reconciliation",
        {"200": "The report", "400": "Bad day or window", "401": "No station token and no supervisor session"},
        params=_WINDOW), "security": _EITHER}},
    "/api/reports/day.csv": {"get": {**_op(
        "The same report as CSV (section, key, value)",
        {"200": "text/csv", "400": "Bad day or window", "401": "No station token and no supervisor session"},
        params=_WINDOW), "security": _EITHER}},
    "/api/reconciliation": {
        "get": {**_op("The reconciliation with the WMS kept for a day: per station the ids on each side, and the"
                      " differences (hub_only with the relay state, wms_only)",
                      {"200": "The result", "400": "Bad day", "404": "None kept for the day",
                       "401": "No station token and no supervisor session"}, params=_WINDOW[:1]),
                "security": _EITHER},
        "post": {**_op("Reconcile a day with the WMS now (a supervisor: the session and its CSRF token)",
                       {"200": "The result", "400": "Bad body", "401": "Not signed in", "403": "Bad CSRF token",
                        "409": "No WMS configured"},
                       body={"type": "object", "required": ["csrf"],
                             "properties": {"day": {"type": "string", "format": "date"}, "csrf": {"type": "string"}}}),
                 "security": [{"supervisor": []}]}},
    "/v1/feed": {"get": _op(
        "Change feed after a cursor, long-polled: order stage changes, the WMS's decisions on orders (order_status:"
        " held, cancelled, released or changed, with status, reason, at, revision, lines, carrier, address), claims,"
        " released priority, lot stock taken, reference changes, escalations, conflicts, the site's learned weights or a"
        " weight decision changed (weights: version; GET /v1/weights has them); seq is gapless and ordered",
        {"200": "Events (possibly none after the wait) and the cursor to ask from next", "400": "Bad cursor",
         "429": "The token's share of long-polls and streams (feed.max_waits_per_station) or the hub's is taken:"
                " ask again shortly", **AUTH},
        params=[_query("since", "the cursor from the previous answer (0: from the start)"),
                _query("wait", "seconds to wait for a change (at most feed.max_wait_s)"),
                _query("limit", "events per answer (max 5000)")])},
    "/v1/feed/stream": {"get": _op(
        "The change feed as server-sent events (text/event-stream) from a cursor on: one event per batch of changes"
        " (id: the cursor after it; data: the same JSON as a /v1/feed answer), sent as the hub seals them (every"
        " feed.seal_s), and a comment every 5 s while nothing changes. Resume with the Last-Event-ID header. A stream"
        " counts as a long-poll of its token",
        {"200": "The stream (it stays open)", "400": "Bad cursor",
         "429": "The token's share of long-polls and streams (feed.max_waits_per_station) or the hub's (all of"
                " site.threads but a quarter) is taken: ask again shortly",
         **AUTH}, params=[_query("since", "the cursor to stream from (or the Last-Event-ID header)")])},
    "/metrics": {"get": {**_op(
        "Prometheus text: confirmations received and ingest latency, group commits, relay depth, lag and dead"
        " letters, the feed's head, streams and batches, the process's CPU and memory (no token needed)",
        {"200": "text/plain; version=0.0.4"}), "security": []}},
}


def openapi_document() -> dict[str, Any]:
    doc = copy.deepcopy(upstream_document())
    doc["info"] = {**doc["info"], "title": "packgate site hub", "description": doc["info"]["description"]
                   + " The site hub speaks this contract to its stations (each request with Authorization: Bearer"
                   " <station token>) and adds claims, heartbeats, the site's order view and a change feed."}
    for path in [p for p in doc["paths"] if p.startswith("/v1/admin/")]:  # the WMS's own calls: not the hub's
        del doc["paths"][path]
    del doc["paths"]["/v1/orders/changes"]  # the hub pulls it from the WMS; its stations follow the feed
    del doc["paths"]["/v1/confirmations/batches"]  # the hub's relay sends it; a station sends its own batch
    for path in ("/v1/confirmations", "/v1/reference", "/v1/orders/{order_id}/confirmations"):
        for op in doc["paths"][path].values():
            op["security"] = _BEARER
    doc["paths"].update(SITE_PATHS)
    doc.setdefault("components", {})["securitySchemes"] = {
        "station": {"type": "http", "scheme": "bearer"},
        "supervisor": {"type": "apiKey", "in": "cookie", "name": COOKIE}}
    return doc
