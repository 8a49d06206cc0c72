"""NFC badge reader (nfcpy) against the udp simulator: reader thread + emulator on 127.0.0.1."""
from __future__ import annotations

import time

import pytest

from packgate.device.badge.emulator import BadgeEmulator
from packgate.device.badge.nfc import BadgeReader, target_uid
from packgate.device.emulation.ports import free_udp_port
from packgate.device.errors import ReaderError


def drain(q):
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_taps_4_and_7_byte_uids_one_event_each(rig):
    reader, emu, q, states = rig
    assert emu.tap("01020304", hold_s=0.4)  # held: sensed many times, reported once
    assert q.get(timeout=1) == "01020304"
    assert emu.tap("04a1b2c3d4e5f6", hold_s=0.2)
    assert q.get(timeout=1) == "04A1B2C3D4E5F6"
    assert emu.reads > 2  # the reader did see the cards repeatedly
    assert drain(q) == []
    assert reader.count == 2 and reader.latest == "04A1B2C3D4E5F6"
    assert states[0] == "connected"


def test_same_card_again_after_it_was_taken_away(rig):
    reader, emu, q, _ = rig
    assert emu.tap("08112233", hold_s=0.1)
    assert q.get(timeout=1) == "08112233"
    time.sleep(1.1)  # the udp reader needs a 1 s sense timeout to notice the card has gone
    assert emu.tap("08112233", hold_s=0.1)
    assert q.get(timeout=1) == "08112233"
    assert drain(q) == []


def test_debounce_logic_with_fake_clock():
    now = [0.0]
    got = []
    r = BadgeReader("udp:127.0.0.1:9", on_badge=got.append, release_s=0.3, poll_interval=0, clock=lambda: now[0])
    for _ in range(5):  # same card, many sense cycles
        r.seen("04A1B2C3")
        assert r.end_of_cycle() is False
        now[0] += 0.05
    r.end_of_cycle()  # a missed cycle shorter than release_s: still present
    r.seen("04A1B2C3")
    r.end_of_cycle()
    now[0] += 0.5
    r.end_of_cycle()  # not seen for 0.5 s: gone
    r.seen("04A1B2C3")
    r.seen("01020304")  # a different card replaces it at once
    assert got == ["04A1B2C3", "04A1B2C3", "01020304"]


def test_target_uid_kinds():
    import nfc.clf

    a = nfc.clf.RemoteTarget("106A", sdd_res=bytearray.fromhex("04A1B2C3D4E5F6"))
    f = nfc.clf.RemoteTarget("212F", sensf_res=bytearray.fromhex("01" + "0123456789ABCDEF" + "FF" * 8))
    b = nfc.clf.RemoteTarget("106B", sensb_res=bytearray.fromhex("50" + "11223344" + "00" * 7))
    assert [target_uid(t).hex().upper() for t in (a, f, b)] == ["04A1B2C3D4E5F6", "0123456789ABCDEF", "11223344"]
    assert target_uid(nfc.clf.RemoteTarget("106A")) is None


def test_missing_reader_reports_disconnected_and_stops_fast():
    states = []
    r = BadgeReader("tty:DOES_NOT_EXIST:pn532", on_state=lambda s, d: states.append((s, d))).start()
    time.sleep(0.2)
    t0 = time.monotonic()
    r.stop()
    assert time.monotonic() - t0 < 2.0
    assert states[0][0] == "disconnected" and "DOES_NOT_EXIST" in states[0][1]
    assert states[-1][0] == "stopped"


def test_emulator_rejects_bad_input():
    with pytest.raises(ReaderError):
        BadgeEmulator("usb")
    with BadgeEmulator(f"udp:127.0.0.1:{free_udp_port()}") as emu:
        with pytest.raises(ReaderError, match="4- or 7-byte"):
            emu.tap("0102030405060708090A")
        assert emu.tap("01020304", timeout=0.2) is False  # nobody reading


def test_stop_ends_the_udp_drivers_wait_for_a_reply_at_once():
    """The reader blocks on its udp socket for up to ``udp_reply_s`` (30 s here): stop() wakes it, so the
    thread has ended before stop()'s 2 s join would give up."""
    states: list[str] = []
    reader = BadgeReader(f"udp:127.0.0.1:{free_udp_port()}", on_state=lambda s, d: states.append(s),
                         udp_reply_s=30.0).start()
    deadline = time.monotonic() + 10
    while "connected" not in states and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "connected" in states
    time.sleep(0.2)  # the reader is in its wait for a reply
    started = time.monotonic()
    reader.stop()
    assert time.monotonic() - started < 1.5 and states[-1] == "stopped"
