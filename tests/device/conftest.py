"""The badge reader on nfcpy's udp driver with the tag emulator beside it, for the NFC tests."""
from __future__ import annotations

import queue
import time

import pytest

from packgate.device.badge.emulator import BadgeEmulator
from packgate.device.badge.nfc import BadgeReader
from packgate.device.emulation.ports import free_udp_port


@pytest.fixture
def rig():
    """``reader, emulator, badges queue, states``; stop() must return within 2 s."""
    path = f"udp:127.0.0.1:{free_udp_port()}"
    q: queue.Queue = queue.Queue()
    states: list[str] = []
    reader = BadgeReader(path, on_badge=q.put, on_state=lambda s, d: states.append(s)).start()
    emu = BadgeEmulator(path)
    yield reader, emu, q, states
    t0 = time.monotonic()
    reader.stop()
    assert time.monotonic() - t0 < 2.0, "stop() must return within 2 s"
    emu.close()
    assert states[-1] == "stopped"
