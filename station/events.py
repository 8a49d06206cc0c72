"""An in-process publish/subscribe bus feeding the pages' server-sent events."""
from __future__ import annotations

import json
import queue
import threading
from typing import Callable, Generator, Iterator

STREAMS_MAX = 128  # open event streams a station serves at once (kiosk, supervisors' phones, every PDA)
PROBE_S = 0.25  # an idle stream writes a comment this often: a closed one fails its write and is freed


class EventBus:
    """Every subscriber gets every event; a slow subscriber loses its oldest events, never blocks others."""

    def __init__(self, backlog: int = 256, max_streams: int = STREAMS_MAX):
        self.max_streams = max_streams  # more open streams than this are refused (the server's threads are sized for it)
        self._subscribers: list[queue.Queue] = []
        self._lock = threading.Lock()
        self._backlog = backlog
        self._closed = threading.Event()

    def publish(self, kind: str, data: dict) -> None:
        message = Message(kind, data)
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            while True:
                try:
                    q.put_nowait(message)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(self._backlog)
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def close(self) -> None:
        """End every open stream: each gets a last ``shutdown`` event, then its generator returns."""
        self._closed.set()
        self.publish("shutdown", {})

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def stream(self, first: Callable[[], list[tuple[str, dict]]] | None = None,
               heartbeat_s: float = PROBE_S) -> EventStream:
        """Server-sent-event text for one client: the events ``first()`` returns, then live ones, with heartbeats (a
        comment line every ``heartbeat_s`` of quiet, which is how the server notices a client that has gone).

        The client is subscribed before ``first`` is called and before the response starts: an event published while
        the first state is read or the response is being set up is queued, never lost between the two."""
        q = self.subscribe()
        try:
            opening = first() if first else []
        except BaseException:
            self.unsubscribe(q)
            raise
        return EventStream(self, q, self._follow(q, opening, heartbeat_s))

    def _follow(self, q: queue.Queue, opening: list[tuple[str, dict]], heartbeat_s: float) -> Generator[str, None, None]:
        try:
            for kind, data in opening:
                yield sse(kind, data)
            while not self._closed.is_set():
                try:
                    message = q.get(timeout=heartbeat_s)
                except queue.Empty:
                    yield ":\n\n"
                    continue
                yield message.text
        finally:
            self.unsubscribe(q)


class EventStream:
    """One client's events; ``close`` (called by the server, even before the first event) ends its subscription."""

    def __init__(self, bus: EventBus, q: queue.Queue, events: Generator[str, None, None]):
        self._bus, self._q, self._events = bus, q, events

    def __iter__(self) -> Iterator[str]:
        return self._events

    def close(self) -> None:
        self._events.close()
        self._bus.unsubscribe(self._q)


class Message(tuple):
    """``(kind, data)`` as subscribers unpack it, with its event-stream text encoded once (not once per page)."""

    text: str

    def __new__(cls, kind: str, data: dict) -> "Message":
        self = super().__new__(cls, (kind, data))
        self.text = sse(kind, data)
        return self


def sse(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"
