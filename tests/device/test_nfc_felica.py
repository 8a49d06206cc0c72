"""FeliCa (Type 3) cards on nfcpy's udp driver, polled like a real reader: 106A, 106B and 212F every cycle.
Vectors from nfcpy's tagtool emulate defaults (IDm 03FEFFE011223344, PMm 01E0000000FFFF00, system 12FC) and
the IDm 0123456789ABCDEF verified with tagtool (docs/devices/protocols.md 3.1)."""
from __future__ import annotations

import queue
import time

import pytest

from packgate.device.badge.emulator import BadgeEmulator
from packgate.device.badge.nfc import ALL_TARGETS, BadgeReader
from packgate.device.emulation.ports import free_udp_port
from packgate.device.errors import ReaderError


def test_udp_reader_polls_the_targets_of_a_real_reader():
    assert BadgeReader("udp:127.0.0.1:9").targets == ALL_TARGETS == ("106A", "106B", "212F")


def test_felica_idm_is_the_badge(rig):
    reader, emu, q, _states = rig
    assert emu.tap_felica("0123456789ABCDEF", hold_s=0.3)
    assert q.get(timeout=2) == "0123456789ABCDEF"
    assert reader.count == 1  # held for several sense cycles: one event


def test_tagtool_default_card_then_a_type_a_card(rig):
    reader, emu, q, _states = rig
    assert emu.tap_felica("03FEFFE011223344", pmm="01E0000000FFFF00", system_code="12FC")
    assert q.get(timeout=2) == "03FEFFE011223344"
    assert emu.tap("04A1B2C3D4E5F6")  # the same reader, the next card is type A
    assert q.get(timeout=2) == "04A1B2C3D4E5F6"


def test_felica_at_424_kbps():
    path = f"udp:127.0.0.1:{free_udp_port()}"
    q: queue.Queue = queue.Queue()
    reader = BadgeReader(path, on_badge=q.put, targets=("106A", "106B", "212F", "424F")).start()
    try:
        with BadgeEmulator(path) as emu:
            assert emu.tap_felica("01010701260CCA02", bitrate="424F", timeout=4)
            assert q.get(timeout=2) == "01010701260CCA02"
    finally:
        reader.stop()


def test_stop_is_fast_while_sensing_three_targets_with_no_card():
    path = f"udp:127.0.0.1:{free_udp_port()}"
    reader = BadgeReader(path).start()
    time.sleep(0.6)  # in the middle of a sense cycle (each target waits for an answer)
    t0 = time.monotonic()
    reader.stop()
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("kwargs, fragment", [
    ({"idm": "0123"}, "IDm must be 8 bytes"),
    ({"idm": "0123456789ABCDEF", "pmm": "zz"}, "PMm"),
    ({"idm": "0123456789ABCDEF", "system_code": "12"}, "system code"),
    ({"idm": "0123456789ABCDEF", "bitrate": "106A"}, "bit rate"),
])
def test_felica_emulator_rejects_bad_cards(kwargs, fragment):
    with BadgeEmulator(f"udp:127.0.0.1:{free_udp_port()}") as emu:
        with pytest.raises(ReaderError, match=fragment):
            emu.tap_felica(**kwargs)
