"""Device state lines: one per change, a summary while a problem lasts, retry steps are not changes."""
from packgate.device.clock import FakeClock
from packgate.device.state_changes import Note, StateChanges


def test_one_line_per_change_then_a_summary_every_period():
    clock = FakeClock()
    changes = StateChanges(30, monotonic=clock.monotonic)
    said = []
    for _ in range(30):  # a missing port: disconnected, retrying, disconnected, ... every 2.5 s
        said.append(changes.note("disconnected"))
        said.append(changes.note("retrying"))
        clock.advance(2.5)
    notes = [n for n in said if n is not None]
    assert notes[0] == Note("change", "disconnected", 0.0, 1)
    assert [(n.kind, n.seconds, n.reports) for n in notes[1:]] == [("summary", 30.0, 24), ("summary", 60.0, 24)]
    assert changes.note("connected") == Note("change", "connected", 0.0, 1)
    clock.advance(600)
    assert changes.note("connected") is None  # no summaries for a device that is fine


def test_a_retry_step_first_counts_as_disconnected():
    changes = StateChanges(30, monotonic=FakeClock().monotonic)
    assert changes.note("starting") == Note("change", "disconnected", 0.0, 1)
    assert changes.note("disconnected") is None and changes.note("not_understood").kind == "change"
