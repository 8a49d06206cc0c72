"""The site's subscribers: other systems (customer service, a BI tool) told of every order and confirmation event
over an HTTP webhook, each event with its full context, exactly once per subscriber in effect, in order.

* **Queued in the change's transaction**: the engine hands every feed change and every received confirmation to
  ``Subscribers.enqueue`` just before COMMIT (``engine.Conn.commit``); one row per (subscriber, event id) in
  ``hub_deliveries`` (``UNIQUE``: a confirmation received twice, or on two hubs, is queued once). The body is
  frozen there (personal values sealed at rest, opened to the same bytes for every attempt).
* **Delivered by the one delivery engine** (``sync.delivery``, as the relay): each subscriber is a stream, its rows
  go one per request in order (a row waiting for its retry holds back the ones behind it), retries with full
  jitter and Retry-After owned by the rows (they survive restarts); a 4xx other than 408/429 is a dead letter,
  visible on ``/api/v1/subscribers`` and ``/healthz``, never retried on its own. With several hubs a lease lets one
  deliver at a time.
* **Signed**: ``X-Packgate-Signature: sha256=<hex HMAC-SHA256 of the body with the subscriber's secret>``; the
  event's id (``X-Packgate-Event-Id``, also in the body) lets the receiver drop a repeat (a lost answer).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.common.http import DeadlineHTTP
from packgate.sync.common.loop import Loop
from packgate.sync.delivery import Batch, DeliveryEngine, Failed, Pause, Sent, Settled
from packgate.sync.errors import PermanentUpstreamError, TransientUpstreamError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database
from packgate.sync.hub.lease import Lease

log = logging.getLogger(__name__)
KINDS = ("confirmation", "order_stage", "order_status", "escalation", "escalation_acked", "claim_released",
         "conflict")
DEFAULT_KINDS = ("confirmation", "order_stage", "order_status")
LEASE_S = 15.0
MIN_SECRET = 16
SIGNATURE = "X-Packgate-Signature"


@dataclass(frozen=True)
class Subscriber:
    name: str
    url: str
    secret: str
    kinds: frozenset[str]

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()


def problem(value: Mapping[str, Any]) -> str | None:
    """Why ``[subscribers]`` of site.toml is not usable, or None (each entry: url, secret, events)."""
    for name, entry in value.items():
        if not isinstance(entry, dict):
            return f"{name}: must be a table with url, secret and events"
        unknown = sorted(set(entry) - {"url", "secret", "events"})
        if unknown:
            return f"{name}: unknown key {unknown[0]!r} (url, secret, events)"
        url, secret, kinds = entry.get("url"), entry.get("secret"), entry.get("events", list(DEFAULT_KINDS))
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return f"{name}.url: must be the webhook's http:// or https:// URL"
        if not isinstance(secret, str) or len(secret) < MIN_SECRET or not secret.isprintable():
            return f"{name}.secret: must be a string of {MIN_SECRET} or more printable characters (the HMAC key)"
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            return f"{name}.events: must be a non-empty list of {', '.join(KINDS)}"
    return None


def configured(value: Mapping[str, Any]) -> tuple[Subscriber, ...]:
    return tuple(Subscriber(name, entry["url"], entry["secret"], frozenset(entry.get("events", DEFAULT_KINDS)))
                 for name, entry in sorted(value.items()))


def event_body(site: str, event: dict[str, Any]) -> dict[str, Any]:
    """One event as a subscriber receives it: what happened, to what, and who, where, on which device, when."""
    data = event["data"]
    kind = event["kind"]
    event_id = f"conf-{data['id']}" if kind == "confirmation" else f"feed-{event['seq']}"
    return {"id": event_id, "type": kind, "subject": event["subject"], "site": site, "data": data,
            "context": {"operator": data.get("operator") or data.get("by"), "device": data.get("device"),
                        "station": data.get("station"), "location": data.get("location") or data.get("station"),
                        "at": data.get("at") if kind == "confirmation" else event["at"], "recorded_at": event["at"]}}


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    subscriber: str
    body: bytes
    attempts: int


class WebhookSender:
    """POSTs each event to its subscriber's URL, signed; the delivery engine's client."""

    def __init__(self, subscribers: Sequence[Subscriber], deadline_s: float):
        self.by_name = {s.name: s for s in subscribers}
        self.http = {s.name: DeadlineHTTP(_origin(s.url), deadline_s=deadline_s) for s in subscribers}
        self.paths = {s.name: _path(s.url) for s in subscribers}

    def send_confirmations(self, stream: str, bodies: Sequence[bytes]) -> dict[str, dict[str, Any]]:
        subscriber, http = self.by_name[stream], self.http[stream]
        results: dict[str, dict[str, Any]] = {}
        for body in bodies:
            event = json.loads(body)
            try:
                resp = http.request("POST", self.paths[stream], body, {
                    "Content-Type": "application/json", SIGNATURE: subscriber.sign(body),
                    "X-Packgate-Event-Id": event["id"], "X-Packgate-Event": event["type"],
                    "User-Agent": "packgate-site/1"})
            except OSError as exc:
                raise TransientUpstreamError(f"{stream}: {type(exc).__name__}: {exc}") from exc
            if resp.status in (408, 425, 429) or resp.status >= 500:
                after = resp.header("retry-after")
                raise TransientUpstreamError(f"{stream} answered {resp.status} {resp.reason}", status=resp.status,
                                             retry_after_s=float(after) if after and after.isdigit() else None)
            if resp.status >= 300:
                raise PermanentUpstreamError(f"{stream} refused the event: {resp.status} {resp.reason}",
                                             status=resp.status)
            results[event["id"]] = {"id": event["id"], "status": "accepted"}
        return results

    def close(self) -> None:
        for http in self.http.values():
            http.close()


class Subscribers(Loop[dict[str, Any]]):
    """``Subscribers(db, subscribers, clock, site=…)``: ``enqueue`` is the database's outlet; ``run_once`` one pass."""

    def __init__(self, db: Database, subscribers: Sequence[Subscriber], clock: Clock, *, site: str,
                 deadline_s: float = 10.0, backoff: Backoff | None = None, idle_s: float = 1.0,
                 holder: str = "hub", lease_s: float = LEASE_S):
        super().__init__("hub-subscribers", every_s=idle_s, clock=clock, logger=log, what="subscriber delivery")
        self.db, self.subscribers, self.site = db, tuple(subscribers), site
        self.idle_s = idle_s
        self.lease = Lease(db, "subscribers", holder, self.clock, lease_s)
        self.sender = WebhookSender(self.subscribers, deadline_s)
        self.engine: DeliveryEngine[DeliveryRow] = DeliveryEngine(
            self, self.sender, self.clock, batch_size=1, max_rows=max(1, len(self.subscribers)),
            backoff=backoff, idle_s=idle_s, recheck_s=idle_s, logger=log)

    # ---- queueing (in the writer's transaction) ------------------------------------------------------------------
    def enqueue(self, conn: Conn, events: list[dict[str, Any]]) -> None:
        stamp = store.utc(self.clock.now())
        for event in events:
            wanted = [s for s in self.subscribers if event["kind"] in s.kinds]
            if not wanted:
                continue
            body = event_body(self.site, event)
            frozen = json.dumps(conn.sealer.seal_record(body), sort_keys=True, ensure_ascii=False)
            for sub in wanted:
                conn.execute("INSERT INTO hub_deliveries (subscriber, event_id, kind, subject, body, next_attempt_at,"
                             " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subscriber, event_id) DO NOTHING",
                             (sub.name, body["id"], event["kind"], event["subject"], frozen, stamp, stamp))

    # ---- the loop ---------------------------------------------------------------------------------------------------
    def run_once(self) -> dict[str, Any]:
        return self.engine.run_once()

    def wait_after(self, result: dict[str, Any]) -> float:
        """The engine's wait; on standby (another hub holds the lease) the events its hub commits do not wake it:
        each wake would be a lease attempt, a write transaction."""
        wait = float(result["wait_s"])
        self.hold_wakes(wait if result["outcome"] == "standby" else 0.0)
        return wait

    def take(self, now: datetime, limit: Callable[[str], int], max_rows: int) -> Sequence[Batch[DeliveryRow]] | Pause:
        if not self.lease.held(now):
            return Pause("standby", self.lease.recheck_s)
        with self.db.read() as conn:
            return self._take(conn, now, limit)

    def _take(self, conn: Conn, now: datetime, limit: Callable[[str], int]) -> Sequence[Batch[DeliveryRow]] | Pause:
        due = store.utc(now)
        batches: list[Batch[DeliveryRow]] = []
        for sub in self.subscribers:
            rows = conn.execute("SELECT n, event_id, body, attempts, next_attempt_at FROM hub_deliveries"
                                " WHERE subscriber = ? AND state = 'pending' ORDER BY n LIMIT ?",
                                (sub.name, limit(sub.name)))
            if rows and rows[0]["next_attempt_at"] <= due:  # in order: a row waiting holds back the ones behind it
                batches.append(Batch(sub.name, tuple(
                    DeliveryRow(r["event_id"], sub.name, _frozen(conn, r["body"]), int(r["attempts"])) for r in rows)))
        return batches or Pause("idle", self.idle_s)

    def record(self, settled: Sequence[Settled[DeliveryRow]]) -> None:
        def mark(conn: Conn) -> None:
            now = store.utc(self.clock.now())
            for item in settled:
                for row in item.batch.rows:
                    if isinstance(item, Sent):
                        conn.execute("UPDATE hub_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = ?,"
                                     " last_error = NULL WHERE subscriber = ? AND event_id = ?",
                                     (now, row.subscriber, row.id))
                    elif isinstance(item, Failed):
                        conn.execute("UPDATE hub_deliveries SET attempts = attempts + 1, last_error = ?,"
                                     " next_attempt_at = ? WHERE subscriber = ? AND event_id = ?",
                                     (item.error[:500], store.utc(item.retry_at), row.subscriber, row.id))
                    else:
                        conn.execute("UPDATE hub_deliveries SET state = 'dead', attempts = attempts + 1,"
                                     " last_error = ?, sent_at = ? WHERE subscriber = ? AND event_id = ?",
                                     (item.reason[:500], now, row.subscriber, row.id))

        self.db.run(mark)

    def release(self) -> None:
        self.lease.give_back()

    def close(self) -> None:
        self.sender.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _frozen(conn: Conn, stored: str) -> bytes:
    """The body as sent, the same bytes at every attempt (personal values opened from their sealed form)."""
    return json.dumps(conn.sealer.open_record(json.loads(stored)), sort_keys=True, ensure_ascii=False).encode()


def status(conn: Conn, names: Sequence[str]) -> list[dict[str, Any]]:
    """Per subscriber: events waiting, delivered, dead letters, the oldest waiting one and its last error."""
    out = []
    for name in names:
        counts = {"pending": 0, "sent": 0, "dead": 0}
        for row in conn.execute("SELECT state, COUNT(*) AS c FROM hub_deliveries WHERE subscriber = ? GROUP BY state",
                                (name,)):
            counts[row["state"]] = int(row["c"])
        head = conn.one("SELECT created_at, attempts, last_error, next_attempt_at FROM hub_deliveries"
                        " WHERE subscriber = ? AND state = 'pending' ORDER BY n LIMIT 1", (name,))
        out.append({"name": name, **counts, "oldest_waiting_since": head["created_at"] if head else None,
                    "attempts": head["attempts"] if head else 0, "last_error": head["last_error"] if head else None,
                    "next_attempt_at": head["next_attempt_at"] if head else None})
    return out


def dead_letters(conn: Conn, limit: int = 200) -> list[dict[str, Any]]:
    """The events a subscriber refused, newest first, with why (nothing personal: the body stays in the database)."""
    return conn.execute("SELECT subscriber, event_id, kind, subject, attempts, last_error, created_at, sent_at AS"
                        " dead_at FROM hub_deliveries WHERE state = 'dead' ORDER BY n DESC LIMIT ?", (limit,))


def retry_dead(conn: Conn, subscriber: str, now: datetime) -> int:
    """Queue a subscriber's dead letters again (after its owner fixed what refused them); returns how many."""
    rows = conn.execute("UPDATE hub_deliveries SET state = 'pending', next_attempt_at = ?, last_error = NULL"
                        " WHERE subscriber = ? AND state = 'dead' RETURNING event_id", (store.utc(now), subscriber))
    return len(rows)


__all__ = ["DEFAULT_KINDS", "KINDS", "Subscriber", "Subscribers", "WebhookSender", "configured", "dead_letters",
           "event_body", "problem", "retry_dead", "status"]
