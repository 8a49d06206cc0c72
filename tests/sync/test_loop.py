"""The loop base every background job runs on: a pass at start then one per interval on the loop's clock,
wake, a failure logged once per change of state and retried with backoff, a prompt and idempotent stop.

Schedules are checked on a ``ParkedClock`` (each wait recorded, parked until the test lets it pass): hours of
loop time, no real sleeping. Stops are timed on the real clock with waits of minutes."""
from __future__ import annotations

import logging
import threading
import time

import pytest
from parkedclock import ParkedClock

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.checkpoint import Checkpointer
from packgate.sync.common.loop import Loop, Ticker, stop_all
from packgate.sync.errors import StorageError, TransientUpstreamError
from packgate.sync.worker import OutboxWorker

PROMPT_S = 0.5
LOG = logging.getLogger("test.loop")


class Job(Loop[int]):
    """Counts its passes; raises the exceptions queued in ``failures`` first, one per pass."""

    def __init__(self, clock: Clock, *, every_s: float = 60.0, **kwargs):
        super().__init__("test-job", every_s=every_s, clock=clock, logger=LOG, what="test job",
                         failure_backoff=Backoff(base_s=1.0, cap_s=8.0, jitter=False), **kwargs)
        self.passes = 0
        self.failures_to_raise: list[Exception] = []
        self.released = 0

    def run_once(self) -> int:
        self.passes += 1
        if self.failures_to_raise:
            raise self.failures_to_raise.pop(0)
        return self.passes

    def release(self) -> None:
        self.released += 1


def lines(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOG.name and r.levelno >= logging.INFO]


def test_a_pass_at_start_then_one_per_interval_and_wake_runs_one_now():
    clock = ParkedClock()
    job = Job(clock, every_s=60.0).start()
    try:
        clock.wait_asleep()
        assert job.passes == 1 and clock.asked == [60.0]
        started = clock.now()
        clock.let_pass()
        clock.let_pass()
        assert job.passes == 3 and clock.asked == [60.0] * 3
        assert (clock.now() - started).total_seconds() == 120.0
        job.wake()  # no time passes: the wait ends, one more pass runs, and the loop waits a full interval again
        clock.wait_asleep()
        assert job.passes == 4 and (clock.now() - started).total_seconds() == 120.0
    finally:
        assert job.stop()


def test_a_loop_that_waits_first_runs_its_first_pass_after_the_interval():
    clock = ParkedClock()
    job = Job(clock, every_s=5.0, run_at_start=False).start()
    try:
        clock.wait_asleep()
        assert job.passes == 0
        clock.let_pass()
        assert job.passes == 1 and clock.asked == [5.0, 5.0]
    finally:
        assert job.stop()


def test_failures_are_logged_once_per_change_of_state_and_retried_with_backoff(caplog):
    clock = ParkedClock()
    job = Job(clock, every_s=60.0)
    job.failures_to_raise = [StorageError("disk I/O error")] * 3 + [TransientUpstreamError("refused")]
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        job.start()
        clock.wait_asleep()
        for _ in range(4):
            clock.let_pass()
        assert job.stop()
    assert clock.asked == [1.0, 2.0, 4.0, 8.0, 60.0]  # the backoff while failing, the interval once it works
    assert job.passes == 5 and job.failures == 0 and job.last_error is None
    assert lines(caplog) == [
        (logging.WARNING, "test job failed: StorageError: disk I/O error"),
        (logging.WARNING, "test job failed: TransientUpstreamError: refused"),  # another kind of failure: a line
        (logging.WARNING, "test job recovered after 4 failed pass(es) (was: TransientUpstreamError: refused)")]


def test_an_unexpected_exception_is_an_error_with_its_traceback_and_the_loop_goes_on(caplog):
    clock = ParkedClock()
    job = Job(clock)
    job.failures_to_raise = [KeyError("station")]
    with caplog.at_level(logging.INFO, logger=LOG.name):
        job.start()
        clock.wait_asleep()
        assert job.alive and job.failures == 1 and job.last_error == "KeyError: 'station'"
        clock.let_pass()
        assert job.passes == 2 and job.failures == 0
        assert job.stop()
    failed = [r for r in caplog.records if r.name == LOG.name and r.levelno == logging.ERROR]
    assert len(failed) == 1 and failed[0].exc_info is not None and "KeyError" in failed[0].getMessage()


def test_run_once_is_synchronous_and_raises_for_the_caller():
    job = Job(Clock())
    assert job.run_once() == 1
    job.failures_to_raise = [TransientUpstreamError("down")]
    with pytest.raises(TransientUpstreamError):
        job.run_once()
    assert not job.alive


def test_stop_ends_a_long_wait_at_once_is_idempotent_and_the_loop_starts_again():
    job = Job(Clock(), every_s=600.0).start()
    deadline = time.monotonic() + 5
    while job.passes < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert job.stop() is True
    assert time.monotonic() - started < PROMPT_S and not job.alive and job.released >= 1
    assert job.stop() is True  # again: nothing to stop
    job.start()
    while job.passes < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.passes == 2 and job.alive
    assert job.stop() and not job.alive


def test_stop_during_a_failure_backoff_returns_at_once():
    job = Job(Clock())
    job.failure_backoff = Backoff(base_s=300.0, cap_s=300.0, jitter=False)
    job.failures_to_raise = [OSError("network down")]
    job.start()
    deadline = time.monotonic() + 5
    while job.failures < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert job.stop() and time.monotonic() - started < PROMPT_S


def test_a_loop_never_started_stops_at_once_and_releases():
    job = Job(Clock())
    assert job.stop() is True and job.released == 1


class Blocked(Loop[None]):
    """A pass that blocks until interrupted (a long-poll) or, with ``deaf``, until the test lets it go."""

    def __init__(self, deaf: bool = False):
        super().__init__("blocked", every_s=600.0, logger=LOG, what="blocked job")
        self.deaf = deaf
        self.entered = threading.Event()
        self.unblock = threading.Event()
        self.interrupted = 0

    def run_once(self) -> None:
        self.entered.set()
        self.unblock.wait(30)
        if not self.deaf:
            raise TransientUpstreamError("request cancelled")

    def interrupt(self) -> None:
        self.interrupted += 1
        if not self.deaf:
            self.unblock.set()


def test_stop_interrupts_a_blocking_pass_and_does_not_log_it_as_a_failure(caplog):
    job = Blocked().start()
    assert job.entered.wait(5)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        started = time.monotonic()
        assert job.stop()
        assert time.monotonic() - started < PROMPT_S
    assert job.interrupted == 1 and job.failures == 0 and lines(caplog) == []


def test_stop_says_when_the_thread_did_not_end_in_time():
    job = Blocked(deaf=True).start()
    assert job.entered.wait(5)
    started = time.monotonic()
    assert job.stop(timeout=0.2) is False
    assert 0.15 < time.monotonic() - started < PROMPT_S and job.alive
    job.unblock.set()
    assert job.stop() is True and not job.alive


def test_a_ticker_waits_what_its_tick_returns_or_its_interval():
    clock = ParkedClock()
    answers = [2.5, None, -1.0]
    ticker = Ticker("ticker", lambda: answers.pop(0) if answers else None, every_s=30.0, clock=clock).start()
    try:
        clock.wait_asleep()
        clock.let_pass()
        assert clock.asked == [2.5, 30.0]
        clock._go.release()  # the third tick asks for a moment already past: no wait at all
        clock.wait_asleep()
        assert clock.asked == [2.5, 30.0, 30.0]
    finally:
        assert ticker.stop()


def test_an_external_signal_wakes_the_loop():
    clock = ParkedClock()
    signal = threading.Event()
    job = Job(clock, signal=signal).start()
    try:
        clock.wait_asleep()
        signal.set()  # as the site link does when a claim is to be released
        clock.wait_asleep()
        assert job.passes == 2 and not signal.is_set()
    finally:
        assert job.stop()


def test_stop_all_stops_every_loop_against_one_deadline(tmp_path):
    loops = [Job(Clock(), every_s=600.0).start() for _ in range(5)]
    worker = OutboxWorker(tmp_path / "station.db", UpstreamClient("http://127.0.0.1:9"), idle_s=600.0).start()
    checkpointer = Checkpointer(tmp_path / "station.db", every_s=600.0).start()
    time.sleep(0.1)
    started = time.monotonic()
    assert stop_all([*loops, worker, checkpointer, None])
    assert time.monotonic() - started < PROMPT_S
    assert not any(loop.alive for loop in (*loops, worker, checkpointer))
