"""An idle emulator stops at once: ``stop()`` wakes its loop, which may block on its link for ``IDLE_WAIT_S``.
The wait is set to 30 s here, past ``stop()``'s own 2 s join: a loop that was not woken either outlives
stop() (TCP) or makes it give up its join after 2 s (a pty, whose loop ends when the link closes after)."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.profiles import get_profile
from packgate.device.scale.emulator import ScaleEmulator


def emulators():
    yield "polled scale on a pty", lambda: ScaleEmulator(get_profile("mettler-mt-sics"), grams=Decimal(100)), "pty"
    yield "printer on tcp", lambda: PrinterEmulator(get_profile("zebra-zpl")), "tcp"


@pytest.mark.parametrize("what,make,link", list(emulators()), ids=[e[0] for e in emulators()])
def test_an_idle_emulator_stops_without_waiting_out_its_idle_wait(what, make, link):
    emu = make()
    emu.IDLE_WAIT_S = 30.0
    if link == "pty":
        emu.start_pty()
    else:
        emu.start_tcp(0)
    thread = emu._thread
    assert thread is not None and thread.is_alive()
    started = time.monotonic()
    emu.stop()
    assert not thread.is_alive(), f"the {what}'s loop was still waiting on its link after stop()"
    assert time.monotonic() - started < 1.5, f"stop() waited for the {what}'s loop until its join gave up"


def test_stopping_twice_is_harmless():
    emu = PrinterEmulator(get_profile("zebra-zpl"))
    emu.start_tcp(0)
    emu.stop()
    emu.stop()
