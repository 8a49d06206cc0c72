"""The upstream client: confirmation batches, reference data, reconciliation.

No retries happen here (retry at one layer: the outbox rows own them). Every answer is
classified: 2xx with a well-formed body → data; 408/409/425/429/5xx, network faults, deadline,
truncated or garbled bodies → TransientUpstreamError (with Retry-After when given);
400/413/422 → PermanentUpstreamError; 401/403/404/405 and redirects mean a misconfigured station,
not a bad confirmation, so they are transient too (backoff, shown in health) rather than
dead-lettering the whole queue.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Sequence
from urllib.parse import quote, urlencode

from packgate.device.clock import Clock, parse_iso
from packgate.sync import crash
from packgate.sync.common.backoff import parse_http_date, parse_retry_after
from packgate.sync.common.http import Response, connect_http
from packgate.sync.common.jsonbytes import loads
from packgate.sync.errors import BadResponseError, PermanentUpstreamError, TransientUpstreamError, UnsupportedByUpstreamError

log = logging.getLogger(__name__)

PERMANENT = frozenset({400, 413, 414, 415, 422})
UNSUPPORTED = frozenset({404, 405, 501})  # an optional call the WMS does not offer
BATCHES = "/v1/confirmations/batches"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


class UpstreamClient:
    """``UpstreamClient(base_url, deadline_s=10, token=None, ca_file=None)``; ``last_skew_s`` = upstream clock − our
    clock. ``base_url`` may be a list (the hubs of a site): requests fail over between them (``http.FailoverHTTP``);
    ``ca_file`` is a site CA trusted besides the system's certificates."""

    def __init__(self, base_url: str | Sequence[str], deadline_s: float = 10.0, clock: Clock | None = None, *,
                 user_agent: str = "packgate-sync/1", token: str | None = None, ca_file: str | None = None):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_url = urls[0].rstrip("/")
        self.clock = clock or Clock()
        self.http = connect_http(urls, deadline_s=deadline_s, ca_file=ca_file)
        self.user_agent = user_agent
        self.token = token  # sent as Authorization: Bearer <token> on every request when set
        self.last_skew_s: float | None = None
        self.last_ok_at: datetime | None = None

    def close(self) -> None:
        self.http.close()

    # ---- confirmations --------------------------------------------------------------------
    def send_confirmations(self, station: str, bodies: Sequence[bytes]) -> dict[str, dict]:
        """POST frozen confirmation bytes (unchanged) as one batch; returns results by id."""
        resp = self._call("POST", "/v1/confirmations", _batch(station, bodies),
                          after_send=lambda: crash.point("after_send"))
        data = self._json(resp)
        return _results_by_id(data.get("results") if isinstance(data, dict) else None, bodies)

    def send_batches(self, batches: Sequence[tuple[str, Sequence[bytes]]]) -> list[dict[str, dict]]:
        """POST several stations' batches (each station once) as one request: results by id, batch by batch.
        ``UnsupportedByUpstreamError`` when the WMS does not offer the call (404, 405, 501)."""
        envelope = b'{"batches":[' + b",".join(_batch(station, bodies) for station, bodies in batches) + b"]}"
        try:
            resp = self._call("POST", BATCHES, envelope, after_send=lambda: crash.point("after_send"))
        except (TransientUpstreamError, PermanentUpstreamError) as exc:
            if exc.status in UNSUPPORTED:
                raise UnsupportedByUpstreamError(str(exc)) from exc
            raise
        data = self._json(resp)
        answers = data.get("batches") if isinstance(data, dict) else None
        if not isinstance(answers, list) or len(answers) != len(batches):
            raise BadResponseError(f"batches answer has no list of {len(batches)} answers")
        out = []
        for answer, (station, bodies) in zip(answers, batches, strict=True):
            if not isinstance(answer, dict) or answer.get("station") != station:
                raise BadResponseError(f"batches answer out of order: expected station {station!r}")
            out.append(_results_by_id(answer.get("results"), bodies))
        return out

    # ---- labels ---------------------------------------------------------------------------
    def request_label(self, body: dict[str, Any], *, raw: bytes | None = None) -> dict:
        """``POST /v1/labels`` (idempotent by ``body["key"]``): the carton's waybill and label fields. ``raw``: the
        body's bytes as a client sent them (the hub relays them unchanged, numbers as written)."""
        data = self._json(self._call("POST", "/v1/labels", raw or json.dumps(body, sort_keys=True).encode()))
        if not isinstance(data, dict) or not isinstance(data.get("waybill"), str) or \
                not isinstance(data.get("fields"), dict):
            raise BadResponseError("label answer has no waybill and fields")
        return data

    def reserve_waybills(self, body: dict[str, Any], *, raw: bytes | None = None) -> dict:
        """``POST /v1/waybills/reserve``: pre-issued waybills of an order (the same key answers the same ones)."""
        data = self._json(self._call("POST", "/v1/waybills/reserve", raw or json.dumps(body, sort_keys=True).encode()))
        if not isinstance(data, dict) or not isinstance(data.get("waybills"), list):
            raise BadResponseError("reservation answer has no waybills list")
        return data

    # ---- reads ----------------------------------------------------------------------------
    def get_reference(self, since: str | None = None, limit: int | None = None) -> dict:
        query = {k: v for k, v in (("since", since), ("limit", limit)) if v is not None}
        data = self._json(self._call("GET", "/v1/reference" + (f"?{urlencode(query)}" if query else "")))
        if not isinstance(data, dict) or "cursor" not in data:
            raise BadResponseError("reference answer has no cursor")
        return data

    def get_order_changes(self, since: str | None = None, limit: int | None = None) -> dict:
        """``GET /v1/orders/changes``: the orders changed after the cursor (the fast pull of interception)."""
        query = {k: v for k, v in (("since", since), ("limit", limit)) if v is not None}
        data = self._json(self._call("GET", "/v1/orders/changes" + (f"?{urlencode(query)}" if query else "")))
        if not isinstance(data, dict) or "cursor" not in data or not isinstance(data.get("orders"), list):
            raise BadResponseError("order changes answer has no cursor and orders list")
        return data

    def reconcile(self, station: str, since: datetime, until: datetime) -> list[str]:
        query = urlencode({"station": station, "since": since.isoformat(), "until": until.isoformat()})
        data = self._json(self._call("GET", f"/v1/confirmations?{query}"))
        if not isinstance(data, dict) or not isinstance(data.get("ids"), list):
            raise BadResponseError("reconciliation answer has no ids list")
        return [str(i) for i in data["ids"]]

    def order_confirmations(self, order_id: str) -> list[dict]:
        data = self._json(self._call("GET", f"/v1/orders/{quote(order_id, safe='')}/confirmations"))
        return list(data.get("confirmations", [])) if isinstance(data, dict) else []

    def healthz(self) -> dict:
        return self._json(self._call("GET", "/healthz"))

    def admin(self, kind: str, items: list[dict]) -> dict:
        return self._json(self._call("POST", f"/v1/admin/{kind}", json.dumps({"items": items}).encode()))

    def decide(self, order_id: str, decision: str, body: dict[str, Any]) -> dict:
        """The reference WMS's admin call: ``hold``, ``release``, ``cancel`` or ``change`` an order; its new record."""
        data = self._json(self._call("POST", f"/v1/admin/orders/{quote(order_id, safe='')}/{decision}",
                                     json.dumps(body).encode()))
        return dict(data["order"])

    # ---- plumbing -------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: bytes | None = None, after_send=None) -> Response:
        headers = {**JSON, "User-Agent": self.user_agent}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        before = self.clock.now()
        resp = self.http.request(method, path, body, headers, after_send=after_send)
        now = self.clock.now()
        self._note_skew(resp, before, now)
        status = resp.status
        if 200 <= status < 300:
            self.last_ok_at = now
            return resp
        reason = _error_text(resp)
        message = f"{method} {path}: HTTP {status} {reason}".strip()
        if status in PERMANENT:
            raise PermanentUpstreamError(message, status=status)
        retry_after = parse_retry_after(resp.header("retry-after"), now, parse_http_date(resp.header("date")))
        raise TransientUpstreamError(message, status=status, retry_after_s=retry_after)

    @staticmethod
    def _json(resp: Response) -> Any:
        try:
            return loads(resp.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadResponseError(f"garbled JSON from upstream ({len(resp.body)} bytes): {exc}") from exc

    def _note_skew(self, resp: Response, before: datetime, after: datetime) -> None:
        server = None
        precise = resp.header("x-upstream-time")
        if precise:
            try:
                server = parse_iso(precise)
            except ValueError:
                server = None
        if server is None:
            server = parse_http_date(resp.header("date"))
            if server is None:
                return
            server = server.timestamp() + 0.5  # Date has 1 s resolution and is truncated
        else:
            server = server.timestamp()
        local = (before.timestamp() + after.timestamp()) / 2
        self.last_skew_s = round(server - local, 3)


def _batch(station: str, bodies: Sequence[bytes]) -> bytes:
    return b'{"station":' + json.dumps(station).encode() + b',"confirmations":[' + b",".join(bodies) + b"]}"


def _results_by_id(results: Any, bodies: Sequence[bytes]) -> dict[str, dict]:
    """A batch's answer checked against what was sent: every result well formed, one for every confirmation."""
    if not isinstance(results, list):
        raise BadResponseError("confirmation answer has no results list")
    by_id = {}
    for item in results:
        if not isinstance(item, dict) or item.get("status") not in ("accepted", "duplicate", "rejected"):
            raise BadResponseError(f"malformed result item {item!r}")
        by_id[str(item.get("id"))] = item
    wanted = [json.loads(b)["id"] for b in bodies]
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise BadResponseError(f"answer lacks results for {len(missing)} confirmation(s), e.g. {missing[0]}")
    return by_id


def _error_text(resp: Response) -> str:
    try:
        data = json.loads(resp.body)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])[:300]
    except ValueError:
        pass
    return resp.body[:200].decode("utf-8", "replace")
