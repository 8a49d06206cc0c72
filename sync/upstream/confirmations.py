"""The action confirmation contract: stations post confirmations in batches (idempotent by key: a repeat answers
``duplicate`` and has no second effect), read back which ids arrived in a time window (reconciliation) and an
order's confirmations. A site hub sends its stations' batches together (``POST /v1/confirmations/batches``).

Invariants: with station tokens a station posts and reads only its own confirmations (403 otherwise; the relay and
the admin token any station's); a request holds at most ``MAX_BATCH`` confirmations (413); a request is stored in one transaction.
"""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, Response, g, jsonify, request

from packgate.device.clock import parse_iso
from packgate.sync.common.db import write_tx
from packgate.sync.upstream import returns, store
from packgate.sync.upstream.web import db, error, json_body, may_act_for, scoped_station, settings

bp = Blueprint("confirmations", __name__)
MAX_BATCH = 1000


@bp.post("/v1/confirmations")
def post_confirmations() -> Response:
    envelope = json_body()
    if not isinstance(envelope, dict) or not isinstance(envelope.get("station"), str) \
            or not isinstance(envelope.get("confirmations"), list):
        return error(400, 'expected {"station": "...", "confirmations": [...]}')
    answer = _receive([(envelope["station"], envelope["confirmations"])])
    return answer if isinstance(answer, Response) else jsonify({"results": answer[0]})


@bp.post("/v1/confirmations/batches")
def post_batches() -> Response:
    """Several stations' batches in one request (a site hub relaying its floor): each station once, its rows in seq
    order; all of them in one transaction."""
    envelope = json_body()
    batches = envelope.get("batches") if isinstance(envelope, dict) else None
    if not isinstance(batches, list) or not all(isinstance(batch, dict) and isinstance(batch.get("station"), str)
                                                and isinstance(batch.get("confirmations"), list)
                                                for batch in batches):
        return error(400, 'expected {"batches": [{"station": "...", "confirmations": [...]}, ...]}')
    if len(batches) > MAX_BATCH:
        return error(413, f"at most {MAX_BATCH} batches per request (this one has {len(batches)})")
    twice = [station for station, n in Counter(batch["station"] for batch in batches).items() if n > 1]
    if twice:
        return error(400, f"station {twice[0]!r} has more than one batch: send its confirmations as one, in seq order")
    answer = _receive([(batch["station"], batch["confirmations"]) for batch in batches])
    if isinstance(answer, Response):
        return answer
    return jsonify({"batches": [{"station": batch["station"], "results": results}
                                for batch, results in zip(batches, answer, strict=True)]})


def _receive(batches: list[tuple[str, list]]) -> list[list[dict]] | Response:
    """Store a request's batches in one transaction, or the refusal of the whole request (403, 413)."""
    for station, _items in batches:
        if not may_act_for(station):
            return error(403, f"this token belongs to station {g.station}, not {station!r}")
    total = sum(len(items) for _station, items in batches)
    if total > MAX_BATCH:
        return error(413, f"at most {MAX_BATCH} confirmations per request (this one has {total})")
    config = settings()
    with write_tx(db()):
        return store.receive_many(db(), batches, config.clock.now(), strict_orders=config.strict_orders,
                                  effects=(returns.EFFECTS,))


@bp.get("/v1/confirmations")
def list_confirmations() -> Response:
    station = request.args.get("station", "")
    if not may_act_for(station):
        return error(403, f"this token belongs to station {g.station}: it reads only that station's confirmations")
    try:
        since = parse_iso(request.args["since"])
        until = parse_iso(request.args["until"])
    except KeyError as exc:
        return error(400, f"missing query parameter {exc}")
    except ValueError as exc:
        return error(400, str(exc))
    by = request.args.get("by", "at")
    if by not in ("at", "received"):
        return error(400, "by must be 'at' or 'received'")
    return jsonify({"station": station, "ids": store.reconcile(db(), station, since, until, by)})


@bp.get("/v1/orders/<order_id>/confirmations")
def order_confirmations(order_id: str) -> Response:
    return jsonify({"order_id": order_id, "confirmations": store.order_confirmations(db(), order_id, scoped_station())})
