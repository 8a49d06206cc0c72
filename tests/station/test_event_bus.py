"""The pages' event bus: a page's first state and the events after it come without a gap, and a stream the server
closes (even before its first event) leaves no subscriber behind."""
from __future__ import annotations

import pytest

from packgate.station.events import EventBus


def test_an_event_published_while_the_first_state_is_read_reaches_the_stream() -> None:
    bus = EventBus()

    def first() -> list[tuple[str, dict]]:
        bus.publish("state", {"operator": "E1001"})  # a badge tap lands while the page's state is being read
        return [("state", {"operator": None})]

    events = iter(bus.stream(first))
    assert next(events) == 'event: state\ndata: {"operator": null}\n\n'
    assert next(events) == 'event: state\ndata: {"operator": "E1001"}\n\n'


def test_an_event_published_before_the_response_starts_is_kept() -> None:
    bus = EventBus()
    stream = bus.stream(lambda: [])
    bus.publish("verdict", {"seq": 7})
    assert next(iter(stream)).startswith("event: verdict\n")


def test_a_stream_closed_before_its_first_event_unsubscribes() -> None:
    bus = EventBus()
    stream = bus.stream(lambda: [("state", {})])
    assert bus.streams == 1
    stream.close()
    assert bus.streams == 0


def test_a_failing_first_state_leaves_no_subscriber() -> None:
    bus = EventBus()

    def first() -> list[tuple[str, dict]]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        bus.stream(first)
    assert bus.streams == 0
