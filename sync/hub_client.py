"""The station's client of the site hub: claims, heartbeats, the site's escalations and dock, and a feed follower.

``SiteClient(hub_url, station, token)`` (``hub_url`` may list several hubs: it fails over, and the feed
cursor is valid on every hub of the site, one database numbering the changes) — ``claim(order_id, operator)`` returns the claim or raises
``ClaimConflictError`` whose message names the table and the person; ``renew(order_id, operator)`` keeps an order the
table has open (refused, ``claim["released"]``, after a supervisor released it); ``release(order_id)``;
``heartbeat(...)`` returns the supervisors' releases of the order the table says it has open; ``escalations()`` and
``acknowledge(order_id, level, by)``; ``hold_parcel(batch_id, code, operator)`` (the parcel's facts, None: not a parcel
of the site) and ``give_back(order_id, batch_id)``. ``FeedFollower(client, on_change, cursor_file)`` follows the
feed in a thread (a ``Loop``): it reads the hub's stream (``/v1/feed/stream``, server-sent events: one connection,
one write per batch of changes) and, from a hub without one (404) or with ``stream=False``, long-polls
``/v1/feed``. It hands each change to ``on_change(event)`` in order and persists the cursor after each handled
batch (so a restart neither skips nor — beyond the last batch — repeats changes), backing off with full jitter
while the hub is unreachable or refuses one more stream (429: the token's share is taken); a stream that breaks
after it was open is opened again at once. ``stop()`` cancels the stream or long-poll in flight (its socket is
shut down), so it returns at once.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Self, Sequence
from urllib.parse import quote

from packgate.device.backoff import Backoff, Random
from packgate.device.clock import Clock
from packgate.sync.common.http import Cancel, Response, connect_http
from packgate.sync.common.loop import Loop
from packgate.sync.errors import ClaimConflictError, HubError, PermanentUpstreamError, RequestCancelledError, TransientUpstreamError

log = logging.getLogger(__name__)
BRIEF_S = 0.5
STREAM_IDLE_S = 30.0  # a stream silent this long is gone (the hub writes a keep-alive every 5 s)


class SiteClient:
    def __init__(self, hub_url: str | Sequence[str], station: str, token: str, *, deadline_s: float = 5.0,
                 ca_file: str | None = None):
        self.station, self.token = station, token
        self.http = connect_http(hub_url, deadline_s=deadline_s, ca_file=ca_file)  # several hubs: fails over
        self.last_clock: dict[str, Any] | None = None  # the hub's measure of this station's clock, last heartbeat

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              deadline_s: float | None = None, cancel: Cancel | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "Content-Type": "application/json"}
        resp: Response = self.http.request(method, path, None if body is None else json.dumps(body).encode(), headers,
                                           deadline_s=deadline_s, cancel=cancel)
        try:
            data = json.loads(resp.body or b"{}")
        except ValueError as exc:
            raise TransientUpstreamError(f"{method} {path}: garbled JSON from the hub") from exc
        if resp.status >= 500 or resp.status in (408, 429):
            raise TransientUpstreamError(f"{method} {path}: HTTP {resp.status} {data.get('error', '')}",
                                         status=resp.status)
        return resp.status, data if isinstance(data, dict) else {}

    def claim(self, order_id: str, operator: str | None, *, renew: bool = False) -> dict[str, Any]:
        """Claim ``order_id`` for this table (``renew``: keep what it has open)."""
        status, data = self._call("POST", "/v1/claims", {"station": self.station, "order_id": order_id,
                                                         "operator": operator, "renew": renew})
        if status == 409:
            raise ClaimConflictError(str(data.get("error")), dict(data.get("claim") or {}))
        if status != 200:
            raise HubError(f"claim {order_id}: HTTP {status} {data.get('error', '')}")
        return dict(data["claim"])

    def renew(self, order_id: str, operator: str | None) -> dict[str, Any]:
        return self.claim(order_id, operator, renew=True)

    def release(self, order_id: str) -> bool:
        """Let this table's claim go: True when it held it. Not claimed any more (404), or claimed by another table
        meanwhile (403: this table's claim expired while it was offline) is nothing to release, not an error."""
        status, data = self._call("DELETE", f"/v1/claims/{quote(order_id, safe='')}")
        if status not in (200, 403, 404):
            raise HubError(f"release {order_id}: HTTP {status} {data.get('error', '')}")
        return status == 200

    def heartbeat(self, *, operator: str | None = None, order_id: str | None = None, state: str | None = None,
                  devices: dict[str, str] | None = None, outbox_depth: int | None = None,
                  clock: str | None = None, outbox_dead: int | None = None,
                  version: str | None = None) -> list[dict[str, Any]]:
        """The supervisors' releases of the order this table has open (it drops them). With ``clock`` (this
        station's time now, ISO 8601) the hub measures its offset: ``last_clock`` (``offset_s``, ``warning``)."""
        status, data = self._call("POST", f"/v1/stations/{quote(self.station, safe='')}/heartbeat",
                                  {"operator": operator, "order_id": order_id, "state": state,
                                   "devices": devices or {}, "outbox_depth": outbox_depth, "clock": clock,
                                   "outbox_dead": outbox_dead, "version": version})
        if status != 200:
            raise HubError(f"heartbeat: HTTP {status} {data.get('error', '')}")
        offset = data.get("clock_offset_s")
        if clock is not None and isinstance(offset, (int, float)):
            self.last_clock = {"offset_s": float(offset), "warning": bool(data.get("clock_warning"))}
        released = data.get("released")
        return [dict(r) for r in released if isinstance(r, dict)] if isinstance(released, list) else []

    def escalations(self) -> list[dict[str, Any]]:
        """The site's escalations sent and not acknowledged."""
        status, data = self._call("GET", "/v1/escalations")
        if status != 200 or not isinstance(data.get("escalations"), list):
            raise HubError(f"escalations: HTTP {status} {data.get('error', '')}")
        return [dict(e) for e in data["escalations"] if isinstance(e, dict)]

    def acknowledge(self, order_id: str, level: int, by: str) -> dict[str, Any] | None:
        """Acknowledge (order, level) for the supervisor ``by``: ``acknowledged`` (False: done before, by
        ``acked_by_name``); None: the site has no such escalation."""
        status, data = self._call("POST", f"/v1/escalations/{quote(order_id, safe='')}/{level}/ack", {"by": by})
        if status == 404:
            return None
        if status != 200:
            raise HubError(f"acknowledge {order_id}/{level}: HTTP {status} {data.get('error', '')}")
        return data

    def conflicts(self) -> list[dict[str, Any]]:
        """The site's conflicts to resolve (a pack or hand-over the WMS refused: it had cancelled the order)."""
        status, data = self._call("GET", "/v1/conflicts")
        if status != 200 or not isinstance(data.get("conflicts"), list):
            raise HubError(f"conflicts: HTTP {status} {data.get('error', '')}")
        return [dict(c) for c in data["conflicts"] if isinstance(c, dict)]

    def resolve_conflict(self, n: int, by: str, note: str) -> dict[str, Any] | None:
        """Resolve conflict ``n`` for the supervisor ``by``: ``resolved`` (False: done before, by
        ``resolved_by_name``); None: the site has no such conflict."""
        status, data = self._call("POST", f"/v1/conflicts/{int(n)}/resolve", {"by": by, "note": note})
        if status == 404:
            return None
        if status != 200:
            raise HubError(f"resolve conflict {n}: HTTP {status} {data.get('error', '')}")
        return data

    def hold_parcel(self, batch_id: str, code: str, operator: str | None) -> dict[str, Any] | None:
        """Hold the parcel ``code`` names for ``batch_id``: its facts (``taken``: by this call), None: unknown."""
        status, data = self._call("POST", "/v1/dock/holds", {"station": self.station, "batch_id": batch_id,
                                                             "code": code, "operator": operator})
        if status == 404:
            return None
        if status != 200:
            raise HubError(f"dock hold {code}: HTTP {status} {data.get('error', '')}")
        return data

    def give_back(self, order_id: str, batch_id: str) -> bool:
        status, data = self._call("DELETE", f"/v1/dock/holds/{quote(order_id, safe='')}?batch_id="
                                            f"{quote(batch_id, safe='')}")
        if status != 200:
            raise HubError(f"dock give back {order_id}: HTTP {status} {data.get('error', '')}")
        return bool(data.get("given_back"))

    def weights(self, known: int = -1) -> dict[str, Any]:
        """The site's learned weights: version, learned (the tables' figures pooled), decisions (in order); with
        ``known`` the version this table has, ``{"version", "unchanged": True}`` when nothing changed since."""
        status, data = self._call("GET", "/v1/weights" + (f"?known={known}" if known >= 0 else ""))
        if status == 200 and data.get("unchanged") is True and data.get("version") == known:
            return data
        if status != 200 or not isinstance(data.get("learned"), dict) or not isinstance(data.get("decisions"), list):
            raise HubError(f"weights: HTTP {status} {data.get('error', '')}")
        return data

    def put_figures(self, learned: dict[str, Any], review: dict[str, Any]) -> int:
        """Send this table's learned figures and the review it sees; returns the site's weights version."""
        status, data = self._call("PUT", f"/v1/weights/figures/{quote(self.station, safe='')}",
                                  {"learned": learned, "review": review})
        if status != 200:
            raise HubError(f"weights figures: HTTP {status} {data.get('error', '')}")
        return int(data.get("version") or 0)

    def decide_weight(self, decision: dict[str, Any], prev: int, evidence: dict[str, Any] | None) -> dict[str, Any]:
        """A supervisor's weight decision for the site: the decision kept (with its number ``n``). Raises
        ``ClaimConflictError`` (409: decided already, the message names who) or ``HubError`` (refused)."""
        status, data = self._call("POST", "/v1/weights/decisions", {"station": self.station, "decision": decision,
                                                                    "prev": prev, "evidence": evidence})
        if status == 409:
            raise ClaimConflictError(str(data.get("error")), {})
        if status != 200:
            raise HubError(f"weight decision: HTTP {status} {data.get('error', '')}")
        return data

    def order(self, order_id: str) -> dict[str, Any] | None:
        status, data = self._call("GET", f"/v1/orders/{quote(order_id, safe='')}")
        return data if status == 200 else None

    def follow(self, since: int, *, idle_s: float, cancel: Cancel | None = None) -> Iterator[dict[str, Any] | None]:
        """The feed's stream from ``since``: each batch (``{"events", "cursor", "head"}``) as it comes, and None
        for the opening line and every keep-alive (the stream is alive). Raises ``PermanentUpstreamError`` (404)
        from a hub without a stream, ``TransientUpstreamError`` when it breaks or says nothing for ``idle_s``."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        data: list[bytes] = []
        for line in self.http.stream(f"/v1/feed/stream?since={since}", headers, idle_s=idle_s, cancel=cancel):
            if line.startswith(b"data:"):
                data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            elif not line and data:
                try:
                    batch = json.loads(b"\n".join(data))
                except ValueError as exc:
                    raise TransientUpstreamError("feed stream: garbled JSON from the hub") from exc
                data = []
                yield batch if isinstance(batch, dict) else {}
            elif line.startswith(b":"):
                yield None

    def feed(self, since: int, wait_s: int, cancel: Cancel | None = None) -> dict[str, Any]:
        """Changes after ``since``, waiting up to ``wait_s`` for the first; ``cancel`` ends the wait early."""
        status, data = self._call("GET", f"/v1/feed?since={since}&wait={wait_s}", deadline_s=wait_s + 10.0,
                                  cancel=cancel)
        if status != 200:
            raise HubError(f"feed: HTTP {status} {data.get('error', '')}")
        return data


# a table learns what the hub decided (a cancel, a hold) within this long of the hub coming back; one station's
# retry costs the hub a refused connection
FOLLOW_RETRY_CAP_S = 4.0


class FeedFollower(Loop[int]):
    """Follow the hub's feed in a thread; ``on_change(event)`` is called once per event, in order."""

    def __init__(self, client: SiteClient, on_change: Callable[[dict[str, Any]], None], cursor_file: str | Path,
                 *, clock: Clock | None = None, wait_s: int = 25, backoff: Backoff | None = None,
                 rng: Random | None = None, stream: bool = True, idle_s: float = STREAM_IDLE_S):
        super().__init__("site-feed", every_s=0.0, clock=clock, rng=rng, logger=log, what="site feed",
                         failure_backoff=backoff or Backoff(base_s=0.5, cap_s=FOLLOW_RETRY_CAP_S))
        self.client, self.on_change = client, on_change
        self.cursor_file = Path(cursor_file)
        self.wait_s = wait_s
        self.streaming, self.idle_s = stream, idle_s
        self._brief = False
        self._cancel = Cancel()

    @property
    def cursor(self) -> int:
        try:
            return int(self.cursor_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _save(self, cursor: int) -> None:
        tmp = self.cursor_file.with_suffix(".tmp")
        tmp.write_text(str(cursor))
        os.replace(tmp, self.cursor_file)

    def _handle(self, batch: dict[str, Any]) -> int:
        events = batch.get("events") or []
        for event in events:
            self.on_change(event)
        if events:
            self._save(int(events[-1]["seq"]))
        return len(events)

    def poll_once(self) -> int:
        """One long-poll; returns the number of events handled."""
        return self._handle(self.client.feed(self.cursor, self.wait_s, cancel=self._cancel))

    def stream_once(self) -> int:
        """Follow the stream until it ends; returns the number of events handled. A stream that breaks once it
        was open ends the pass quietly (the next pass opens it again at once); one that cannot be opened raises."""
        handled, opened, began = 0, False, self.clock.monotonic()
        try:
            for batch in self.client.follow(self.cursor, idle_s=self.idle_s, cancel=self._cancel):
                opened = True
                if batch is not None:
                    handled += self._handle(batch)
        except TransientUpstreamError as exc:
            if not opened or self.stopping or isinstance(exc, RequestCancelledError):
                raise
            log.info("site feed stream ended (%s); opening it again", exc)
        self._brief = not handled and self.clock.monotonic() - began < BRIEF_S  # a hub ending streams at once
        return handled

    def run_once(self) -> int:
        self._brief = False
        if self.streaming:
            try:
                return self.stream_once()
            except PermanentUpstreamError as exc:
                if exc.status != 404:
                    raise
                log.info("the hub has no feed stream (%s); long-polling /v1/feed instead", exc)
                self.streaming = False
        return self.poll_once()

    def wait_after(self, result: int) -> float:
        return BRIEF_S if self._brief else 0.0  # the next request at once (the hub does the waiting), unless
        # the stream ended as soon as it opened (a hub shutting down): then not in a tight loop

    def start(self) -> Self:
        if not self.alive or self.stopping:
            self._cancel = Cancel()  # a new run; the one a stop() set stays set for the thread it ended
        return super().start()

    def interrupt(self) -> None:
        self._cancel.set()
