"""What the reference upstream's blueprints share: its settings (clock, strict orders, tokens), a pooled database
connection per request, the JSON error answer and the request-body reader.

Invariants: the settings and the pool live in ``current_app.extensions`` (put there by ``create_upstream_app``),
never in a module global. A request takes at most one connection from the pool and gives it back at teardown,
rolled back if the request died mid-transaction. A body that is not JSON is a 400 naming the parse error
(``RequestRefused``); every error answer is ``{"error": "..."}``.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, cast

from flask import Response, current_app, g, jsonify, request

from packgate.device.clock import Clock
from packgate.sync.common.jsonbytes import loads_request
from packgate.sync.common.pool import Pool

SETTINGS = "packgate.upstream"
POOL = "packgate.pool"
ADMIN = "*admin*"  # ``g.station`` of a request with the admin token
RELAY = "*relay*"  # ``g.station`` of a request with the relay token (a site hub sending for all its stations)


@dataclass(frozen=True)
class Settings:
    clock: Clock
    strict_orders: bool  # a confirmation for an unknown order is refused
    station_tokens: dict[str, str] | None  # station id -> token; None: the server is open
    admin_token: str | None
    relay_token: str | None = None


class RequestRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def settings() -> Settings:
    return cast(Settings, current_app.extensions[SETTINGS])


def db() -> sqlite3.Connection:
    """This request's connection, taken from the app's pool on first use."""
    conn = g.get("db")
    if conn is None:
        conn = g.db = cast("Pool[sqlite3.Connection]", current_app.extensions[POOL]).take()
    return cast(sqlite3.Connection, conn)


def give_back(_exc: BaseException | None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        if conn.in_transaction:  # a request died mid-transaction: the next one starts clean
            conn.execute("ROLLBACK")
        cast("Pool[sqlite3.Connection]", current_app.extensions[POOL]).give(conn)


def json_body() -> Any:
    """The request's body as JSON (any JSON value: each route checks its shape)."""
    try:
        return loads_request(request.get_data())
    except ValueError as exc:  # JSONInputError and UnicodeDecodeError too
        raise RequestRefused(400, f"body is not acceptable JSON: {exc}") from exc


def may_act_for(station: str) -> bool:
    """Whether this request's token may send or read ``station``'s confirmations: the station's own token, the relay
    token and the admin token (every station), or any request on an open server (no tokens)."""
    return settings().station_tokens is None or g.station in (station, ADMIN, RELAY)


def scoped_station() -> str | None:
    """The one station whose confirmations this request may read, or None for every station (relay, admin, open)."""
    return None if settings().station_tokens is None or g.station in (ADMIN, RELAY) else str(g.station)


def error(status: int, message: str) -> Response:
    resp = jsonify({"error": message})
    resp.status_code = status
    return resp
