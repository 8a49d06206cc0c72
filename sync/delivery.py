"""Delivering confirmations exactly once in effect: the one algorithm behind the station's outbox worker
and the hub's relay, parameterised by where the rows live (a ``Source``).

A pass takes the due rows from the source as batches, one per *stream* (the station they are sent as,
each batch in seq order, so per-order order holds). When the sender takes several streams' batches at once (a
``BatchSender``: the WMS's ``POST /v1/confirmations/batches``) every stream's batch but those being isolated goes in
one request; a receiver without that call (404/405/501) gets one request per stream from then on, and a request
refused as a whole is sent again one request per stream (which finds the row at fault). Otherwise each batch is one
request (up to ``senders`` requests at once, each of a different stream, so the round trips overlap instead of adding
up). Every answer goes to ``source.record`` in one call (the relay marks them in one transaction). Per batch:

* upstream answered → ``Sent``: accepted and duplicate rows are sent, rejected ones dead letters;
* a permanent refusal of several rows → nothing is recorded and the stream is *isolated*: its next
  ``len(rows)`` rows go one at a time, so the bad row is found and the others still go;
* a permanent refusal of one row → ``Refused``: a visible dead letter, never retried on its own;
* a transient failure → ``Failed``: the batch is rescheduled ``backoff.delay(attempts + 1)`` later (full
  jitter, at least Retry-After), and the pass ends there (no further batch is started; those already on their
  way are answered and recorded): the next stream would most likely meet the same outage, each request waiting
  out its own deadline.

Retries are owned by the rows (attempts, next_attempt_at), so they survive restarts; sending a row again is
harmless because upstream deduplicates by (station, key) and the bytes are frozen. The isolation count
is kept in memory (a restart sends the refused batch once more and narrows it down again). Nothing here
waits: ``run_once`` returns how long to wait (``wait_s``) and the loop running it does the waiting.
"""
from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Generic, Protocol, Sequence, TypeVar, runtime_checkable

from packgate.device.backoff import Backoff, Random
from packgate.device.clock import Clock
from packgate.sync.errors import PermanentUpstreamError, TransientUpstreamError, UnsupportedByUpstreamError

log = logging.getLogger(__name__)
#: a pass's outcome when its batches ended differently: the first of these that happened
PRECEDENCE = ("sent", "dead", "isolating", "failed")
COUNTS = ("accepted", "duplicate", "rejected", "sent", "dead")
#: a request that settled nothing (refused as a whole: its batches go one request each, whose outcomes count)
ASKED: dict[str, Any] = {"outcome": "asked", "n": 0, "requests": 1}


class Row(Protocol):
    """What the engine reads of a queued confirmation."""

    @property
    def id(self) -> str: ...

    @property
    def body(self) -> bytes: ...  # the frozen bytes, sent unchanged every time

    @property
    def attempts(self) -> int: ...


R = TypeVar("R", bound=Row)


@dataclass(frozen=True)
class Batch(Generic[R]):
    stream: str  # the station the rows are sent as: one request
    rows: tuple[R, ...]


@dataclass(frozen=True)
class Pause:
    """Nothing to send now: why (``idle``, ``waiting``, ``standby`` …) and when to look again."""

    outcome: str
    wait_s: float


@dataclass(frozen=True)
class Sent(Generic[R]):
    batch: Batch[R]
    results: dict[str, dict[str, Any]]  # upstream's answer per row id: status accepted/duplicate/rejected


@dataclass(frozen=True)
class Refused(Generic[R]):
    batch: Batch[R]  # one row, refused on its own: a dead letter
    reason: str

    @property
    def row(self) -> R:
        return self.batch.rows[0]


@dataclass(frozen=True)
class Failed(Generic[R]):
    batch: Batch[R]
    error: str
    at: datetime  # when the attempt failed
    retry_at: datetime


Settled = Sent[R] | Refused[R] | Failed[R]


class Source(Protocol[R]):
    """Where the rows live: the station's outbox, the hub's received confirmations."""

    def take(self, now: datetime, limit: Callable[[str], int], max_rows: int) -> Sequence[Batch[R]] | Pause:
        """The due rows as batches (at most ``limit(stream)`` rows each, ``max_rows`` in all), or a pause."""
        ...

    def record(self, settled: Sequence[Settled[R]]) -> None:
        """Write what became of the batches (sent, dead, retry later)."""
        ...


class Sender(Protocol):
    """Who takes the rows: the WMS (``UpstreamClient``), a subscriber's webhook (``sync.hub.subscribers``)."""

    def send_confirmations(self, station: str, bodies: Sequence[bytes]) -> dict[str, dict]:
        """Send one stream's frozen bodies; the answer per row id (status accepted/duplicate/rejected)."""
        ...


@runtime_checkable
class BatchSender(Sender, Protocol):
    """A sender that also takes several streams' batches in one request (the WMS's ``/v1/confirmations/batches``)."""

    def send_batches(self, batches: Sequence[tuple[str, Sequence[bytes]]]) -> list[dict[str, dict]]:
        """Each stream's bodies (each stream once); the answer per row id, batch by batch. Raises
        ``UnsupportedByUpstreamError`` when the receiver does not offer it."""
        ...


class DeliveryEngine(Generic[R]):
    """``DeliveryEngine(source, client, clock).run_once()`` → ``{"outcome", "wait_s", "n", …}``."""

    def __init__(self, source: Source[R], client: Sender | None, clock: Clock, *, batch_size: int = 100,
                 max_rows: int | None = None, backoff: Backoff | None = None, rng: Random | None = None,
                 idle_s: float = 1.0, recheck_s: float = 5.0, logger: logging.Logger | None = None,
                 senders: int = 1):
        self.source, self.client, self.clock = source, client, clock
        self.senders = max(1, senders)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.batch_size = max(1, batch_size)
        self.max_rows = max(1, max_rows if max_rows is not None else self.batch_size)
        self.backoff = backoff or Backoff()
        self.rng: Random = rng or random.SystemRandom()
        self.idle_s = idle_s
        self.recheck_s = recheck_s  # the longest wait after a failed request before looking again
        self.log = logger or log
        self.isolating: dict[str, int] = {}  # stream -> rows left to send one at a time
        self.together = True  # several streams' batches go in one request while the receiver takes them
        self.last: dict[str, Any] = {}

    def limit(self, stream: str) -> int:
        return 1 if self.isolating.get(stream) else self.batch_size

    def run_once(self) -> dict[str, Any]:
        """One pass: send what is due, record the answers; returns what happened and how long to wait."""
        if self.client is None:
            return self._report({"outcome": "no_upstream", "wait_s": self.idle_s})
        taken = self.source.take(self.clock.now(), self.limit, self.max_rows)
        if isinstance(taken, Pause):
            return self._report({"outcome": taken.outcome, "wait_s": taken.wait_s})
        if not taken:
            return self._report({"outcome": "idle", "wait_s": self.idle_s})
        settled: list[Settled[R]] = []
        reports: list[dict[str, Any]] = []
        try:
            alone = self._send_together(self.client, taken, settled, reports)
            if self.senders == 1 or len(alone) <= 1:
                for batch in alone:
                    reports.append(self._send(self.client, batch, settled))
                    if reports[-1]["outcome"] == "failed":
                        break
            else:
                self._send_side_by_side(self.client, alone, settled, reports)
        finally:  # what was answered is recorded even if a later request raised something unexpected
            if settled:
                self.source.record(settled)
        for item in settled:
            if not isinstance(item, Failed):
                self._isolated(item.batch)
        return self._report(self._combine(reports))

    def _send_together(self, client: Sender, taken: Sequence[Batch[R]], settled: list[Settled[R]],
                       reports: list[dict[str, Any]]) -> Sequence[Batch[R]]:
        """Every stream's batch but those being isolated in one request, when the sender takes several; returns the
        batches still to send one request each (all of them when it does not, or refused the request as a whole: the
        streams' own requests then find the row at fault)."""
        together = [batch for batch in taken if batch.stream not in self.isolating]
        if not (self.together and isinstance(client, BatchSender) and len(together) > 1):
            return taken
        try:
            answers = client.send_batches([(batch.stream, [row.body for row in batch.rows]) for batch in together])
        except UnsupportedByUpstreamError as exc:
            self.together = False
            self.log.warning("upstream takes one station's batch per request (%s): sending one request per station",
                             exc)
            reports.append(ASKED)
            return taken
        except PermanentUpstreamError as exc:
            self.log.warning("%d stations' batches refused together (%s); sending them one request each",
                             len(together), exc)
            reports.append(ASKED)
            return taken
        except TransientUpstreamError as exc:
            reports.append(self._failed(together, exc, settled))
            return []
        report: dict[str, Any] = {"outcome": "sent", "n": 0, "requests": 1, **{key: 0 for key in COUNTS}}
        for batch, results in zip(together, answers, strict=True):
            settled.append(Sent(batch, results))
            for key, n in self._counts(batch, results).items():
                report[key] += n
        reports.append(report)
        return [batch for batch in taken if batch.stream in self.isolating]

    def _send_side_by_side(self, client: Sender, taken: Sequence[Batch[R]], settled: list[Settled[R]],
                           reports: list[dict[str, Any]]) -> None:
        """``senders`` requests at once (one per stream, so each stream's rows stay in order); the first failure
        starts no further batch, and every request already on its way is awaited and recorded."""
        pool = self._executor()
        pending = list(taken)[::-1]
        running: set[Future[dict[str, Any]]] = set()
        failed = False
        try:
            while pending or running:
                while pending and not failed and len(running) < self.senders:
                    running.add(pool.submit(self._send, client, pending.pop(), settled))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    reports.append(future.result())  # list.append is atomic: the senders share ``settled``
                    failed = failed or reports[-1]["outcome"] == "failed"
        finally:
            for future in running:  # something unexpected raised: what is on its way is still answered and recorded
                try:
                    reports.append(future.result())
                except Exception:  # noqa: BLE001 - the first error is the one raised
                    pass

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="delivery-send")
            return self._pool

    def close(self) -> None:
        """End the sender threads (a relay that stops)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def drain(self, max_passes: int = 1_000_000) -> int:
        """Run passes while they make progress (tests and tools); returns the rows handled."""
        handled = 0
        for _ in range(max_passes):
            outcome = self.run_once()
            if outcome["outcome"] not in ("sent", "dead", "isolating"):
                break
            handled += outcome.get("n", 0)
        return handled

    def _send(self, client: Sender, batch: Batch[R], settled: list[Settled[R]]) -> dict[str, Any]:
        rows, stream = batch.rows, batch.stream
        try:
            results = client.send_confirmations(stream, [row.body for row in rows])
        except PermanentUpstreamError as exc:
            if len(rows) > 1:
                self.isolating[stream] = len(rows)
                self.log.warning("batch of %d confirmation(s) of %s refused (%s); sending them one at a time",
                                 len(rows), stream, exc)
                return {"outcome": "isolating", "n": len(rows), "requests": 1, "error": str(exc)}
            settled.append(Refused(batch, str(exc)))
            self.log.error("confirmation %s is a dead letter: %s", rows[0].id, exc)
            return {"outcome": "dead", "n": 1, "requests": 1, "error": str(exc)}
        except TransientUpstreamError as exc:
            return self._failed([batch], exc, settled)
        settled.append(Sent(batch, results))
        return {"outcome": "sent", "requests": 1, **self._counts(batch, results)}

    def _failed(self, batches: Sequence[Batch[R]], exc: TransientUpstreamError,
                settled: list[Settled[R]]) -> dict[str, Any]:
        """A request of these batches failed for now: each is rescheduled after its own backoff (its rows' attempts)."""
        at = self.clock.now()
        delays = []
        for batch in batches:
            delays.append(self.backoff.delay(batch.rows[0].attempts + 1, self.rng, exc.retry_after_s))
            settled.append(Failed(batch, str(exc), at, at + timedelta(seconds=delays[-1])))
        n = sum(len(batch.rows) for batch in batches)
        what = batches[0].stream if len(batches) == 1 else f"{len(batches)} streams"
        self.log.warning("sending %d confirmation(s) of %s failed (%s); retry in %.1f s", n, what, exc, min(delays))
        return {"outcome": "failed", "n": n, "requests": 1, "error": str(exc), "delay_s": min(delays)}

    @staticmethod
    def _counts(batch: Batch[R], results: dict[str, dict[str, Any]]) -> dict[str, int]:
        counts = Counter(str(results[row.id]["status"]) for row in batch.rows)
        return {"n": len(batch.rows), "accepted": counts["accepted"], "duplicate": counts["duplicate"],
                "rejected": counts["rejected"], "sent": counts["accepted"] + counts["duplicate"],
                "dead": counts["rejected"]}

    def _isolated(self, batch: Batch[R]) -> None:
        """Rows of an isolated stream went (sent or dead): fewer left to send one at a time."""
        left = self.isolating.get(batch.stream, 0) - len(batch.rows)
        if left > 0:
            self.isolating[batch.stream] = left
        else:
            self.isolating.pop(batch.stream, None)

    def _combine(self, reports: list[dict[str, Any]]) -> dict[str, Any]:
        if len(reports) == 1:
            out = dict(reports[0])
        else:
            outcome = next(o for o in PRECEDENCE if any(r["outcome"] == o for r in reports))
            out = {"outcome": outcome, "n": sum(r["n"] for r in reports if r["outcome"] == outcome),
                   "requests": sum(r["requests"] for r in reports),
                   **{key: sum(r.get(key, 0) for r in reports) for key in COUNTS}}
            errors = [r["error"] for r in reports if "error" in r]
            delays = [r["delay_s"] for r in reports if "delay_s" in r]
            out.update({"error": errors[0]} if errors else {})
            out.update({"delay_s": min(delays)} if delays else {})
        out["wait_s"] = min(out["delay_s"], self.recheck_s) if out["outcome"] == "failed" else 0.0
        return out

    def _report(self, outcome: dict[str, Any]) -> dict[str, Any]:
        self.last = outcome
        return outcome


__all__ = ["Batch", "DeliveryEngine", "Sender", "Failed", "Pause", "Refused", "Row", "Sent", "Settled", "Source"]
