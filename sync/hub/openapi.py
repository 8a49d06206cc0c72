"""The hub's OpenAPI description: the upstream contract (``sync/upstream/openapi.json``) plus the
site extensions, served at ``/openapi.json``."""
from __future__ import annotations

import copy
from typing import Any

from packgate.sync.upstream.server import openapi_document as upstream_document

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


AUTH = {"401": "No or unknown station token", "403": "The token belongs to another station"}
SITE_PATHS: dict[str, Any] = {
    "/v1/orders/{order_id}": {"get": _op(
        "The site's view of an order: stage (open, picking, picked, packing, weighed, blocked, packed, shipped,"
        " cancelled), station, operator, priority, milestones with timestamps, escalations, claim",
        {"200": "The order", "404": "Unknown order", **AUTH}, params=[_path("order_id")])},
    "/v1/claims": {
        "post": _op("Claim an order for this table while it is open there (repeat to renew)",
                    {"200": "Claimed (or renewed)", "409": "Held by another table: the error names table and person",
                     "400": "Bad body", **AUTH},
                    body={"type": "object", "required": ["station", "order_id"],
                          "properties": {"station": {"type": "string"}, "order_id": {"type": "string"},
                                         "operator": {"type": ["string", "null"]}}}),
        "get": _op("Claims held now", {"200": "Claims", **AUTH})},
    "/v1/claims/{order_id}": {"delete": _op("Release this table's claim", {"200": "Released", "404": "Not claimed",
                                                                            **AUTH}, params=[_path("order_id")])},
    "/v1/stations/{station_id}/heartbeat": {"post": _op(
        "Station heartbeat (renews its claims): operator, order_id, state, devices, outbox_depth",
        {"200": "Recorded", "400": "Bad body", **AUTH}, params=[_path("station_id")],
        body={"type": "object", "properties": {"operator": {"type": ["string", "null"]},
                                               "order_id": {"type": ["string", "null"]},
                                               "state": {"type": ["string", "null"]},
                                               "devices": {"type": "object", "additionalProperties": {"type": "string"}},
                                               "outbox_depth": {"type": ["integer", "null"], "minimum": 0}}})},
    "/v1/feed": {"get": _op(
        "Change feed after a cursor, long-polled: order stage changes, claims, released priority, lot stock taken,"
        " reference changes, escalations, conflicts; seq is gapless and ordered",
        {"200": "Events (possibly none after the wait) and the cursor to ask from next", "400": "Bad cursor", **AUTH},
        params=[_query("since", "the cursor from the previous answer (0: from the start)"),
                _query("wait", "seconds to wait for a change (at most feed.max_wait_s)"),
                _query("limit", "events per answer (max 5000)")])},
    "/v1/feed/stream": {"get": _op(
        "The change feed as server-sent events (text/event-stream) from a cursor on: one event per batch of changes"
        " (id: the cursor after it; data: the same JSON as a /v1/feed answer), sent as the hub seals them (every"
        " feed.seal_s), and a comment every 5 s while nothing changes. Resume with the Last-Event-ID header",
        {"200": "The stream (it stays open)", "400": "Bad cursor",
         "503": "This hub serves as many streams as its threads allow: long-poll /v1/feed or ask another hub",
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
    doc["paths"].pop("/v1/admin/{kind}", None)
    doc["paths"].pop("/v1/admin/stats", None)
    for path in ("/v1/confirmations", "/v1/reference", "/v1/orders/{order_id}/confirmations"):
        for op in doc["paths"][path].values():
            op["security"] = _BEARER
    doc["paths"].update(SITE_PATHS)
    doc.setdefault("components", {})["securitySchemes"] = {"station": {"type": "http", "scheme": "bearer"}}
    return doc
