"""Keyboard-wedge (evdev) decoding: real evdev.InputEvent objects through the reader's own path.

/dev/uinput is not available in CI containers, so the evdev device itself is not emulated here;
``HidReader.handle_event`` is what the reader thread calls for every event it reads.
"""
from __future__ import annotations

import time

import pytest
from evdev import InputEvent, ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.device.errors import ProfileError
from packgate.device.keyboard.emulator import keystrokes
from packgate.device.keyboard.hid import HidReader, HidScanner, KeyDecoder
from packgate.device.keyboard.keymaps import LAYOUTS
from packgate.device.scanner.barcode import GS

GS1 = "]C1010703206980498810ABC123" + GS + "17260228"


def key(name, value):
    return InputEvent(0, 0, ecodes.EV_KEY, ecodes.ecodes[name], value)


def tap(name, *mods):
    return [key(m, 1) for m in mods] + [key(name, 1), key(name, 0)] + [key(m, 0) for m in reversed(mods)]


def decode(layout, events):
    d = KeyDecoder(layout)
    return [line for line in (d.feed(e) for e in events) if line is not None]


@pytest.mark.parametrize("layout, events, text", [
    ("us", tap("KEY_1", "KEY_LEFTSHIFT") + tap("KEY_Y") + tap("KEY_MINUS"), "!y-"),
    ("de", tap("KEY_Y") + tap("KEY_Z") + tap("KEY_7", "KEY_RIGHTSHIFT") + tap("KEY_SLASH"), "zy/-"),
    ("de", tap("KEY_Q", "KEY_RIGHTALT") + tap("KEY_MINUS", "KEY_LEFTSHIFT"), "@?"),
    ("fr", tap("KEY_1", "KEY_LEFTSHIFT") + tap("KEY_1") + tap("KEY_Q") + tap("KEY_SEMICOLON"), "1&am"),
    ("us", tap("KEY_RIGHTBRACE", "KEY_LEFTCTRL"), GS),                             # Ctrl+]
    ("us", [key("KEY_LEFTALT", 1)] + tap("KEY_KP0") + tap("KEY_KP2") + tap("KEY_KP9")
     + [key("KEY_LEFTALT", 0)], GS),                                                # Alt+029
    ("us", tap("KEY_CAPSLOCK") + tap("KEY_A") + tap("KEY_A", "KEY_LEFTSHIFT") + tap("KEY_1"), "Aa1"),
])
def test_layout_vectors(layout, events, text):
    assert decode(layout, events + tap("KEY_ENTER")) == [text]


def test_repeat_and_key_up_and_syn_are_ignored():
    events = [key("KEY_A", 1), key("KEY_A", 2), key("KEY_A", 2), key("KEY_A", 0),
              InputEvent(0, 0, ecodes.EV_SYN, 0, 0), InputEvent(0, 0, ecodes.EV_MSC, 4, 458756)]
    assert decode("us", events + tap("KEY_KPENTER")) == ["a"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("gs", ["ctrl", "alt"])
def test_gs1_scan_through_the_reader_path(layout, gs):
    scans = []
    r = HidScanner("/dev/input/by-id/emulated", on_scan=scans.append, layout=layout)
    r.handle_events(keystrokes(GS1, layout, gs=gs) + keystrokes("SO-10001", layout))
    assert [s.kind for s in scans] == ["gs1", "order"]
    assert scans[0].raw == GS1 and scans[0].lot == "ABC123" and scans[0].symbology == "]C1"
    assert scans[0].source == "hid:/dev/input/by-id/emulated"


def test_gs_substitute():
    scans = []
    r = HidScanner("x", on_scan=scans.append, gs_substitute="|")
    r.handle_events(keystrokes(GS1.replace(GS, "|")))
    assert scans[0].kind == "gs1" and scans[0].expiry.isoformat() == "2026-02-28"


def test_layout_mismatch_is_visible():
    scans = []
    r = HidScanner("x", on_scan=scans.append, layout="us")
    r.handle_events(keystrokes("T-0001", "de"))  # '-' is KEY_SLASH on DE: '/' on US
    assert scans[0].kind == "unknown" and scans[0].value == "T/0001"
    r.handle_events(tap("KEY_102ND") + tap("KEY_ENTER"))  # key that does not exist on US
    assert scans[1].kind == "unknown" and "layout" in scans[1].error


def test_tab_terminator_and_bad_settings():
    d = KeyDecoder("us", terminator="tab")
    assert [x for x in (d.feed(e) for e in tap("KEY_B") + tap("KEY_TAB")) if x] == ["b"]
    with pytest.raises(ProfileError):
        KeyDecoder("xx")
    with pytest.raises(ProfileError):
        KeyDecoder("us", terminator="esc")


def test_reader_thread_on_missing_device_reports_and_stops_fast():
    states = []
    r = HidReader("/dev/input/event-does-not-exist", on_state=lambda s, d: states.append(s))
    r.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    r.stop()
    assert time.monotonic() - t0 < 2.0
    assert states[0] == "disconnected" and states[-1] == "stopped"


_TYPEABLE = "".join(sorted({e[m] for e in LAYOUTS["de"].values() for m in (0, 1) if e[m]} - {"\n"}))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=_TYPEABLE + GS, max_size=40), st.sampled_from(["ctrl", "alt"]))
def test_round_trip_de(text, gs):
    assert decode("de", keystrokes(text, "de", gs=gs)) == [text]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.sampled_from([0, 1, 2])), max_size=60))
def test_fuzz_decoder_never_raises(presses):
    d = KeyDecoder("fr")
    for code, value in presses:
        d.feed(InputEvent(0, 0, ecodes.EV_KEY, code, value))
