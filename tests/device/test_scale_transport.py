"""Transport: open_port errors, Backoff, the pty pair."""
import os

import pytest

from packgate.device.backoff import Backoff
from packgate.device.emulation.pty import PtyPair
from packgate.device.errors import PortError
from packgate.device.transport import open_port


def test_open_port_missing_device_raises_port_error(tmp_path):
    with pytest.raises(PortError, match="cannot open"):
        open_port(str(tmp_path / "nope"))


def test_open_port_loop_url_7e1():
    port = open_port("loop://", baudrate=9600, bytesize=7, parity="E")
    port.write(b"\x02?D\r")
    assert port.read(4) == b"\x02?D\r"
    port.close()


def test_open_port_refuses_unknown_settings():
    with pytest.raises(PortError, match="unknown serial setting"):
        open_port("loop://", speed=9600)


def test_pty_7e1_falls_back_or_is_ignored_but_opens():
    with PtyPair() as pair:
        port = open_port(pair.path, baudrate=9600, bytesize=7, parity="E")
        pair.write(b"abc")
        assert port.read(3) == b"abc"
        port.write(b"W")
        assert pair.read(timeout=1) == b"W"
        port.close()


def test_pty_link_survives_replug(tmp_path):
    link = tmp_path / "scale"
    first = PtyPair(link=link)
    dev1 = os.readlink(link)
    first.close()
    assert not link.exists()
    second = PtyPair(link=link)
    assert link.exists() and os.readlink(link) == second.slave_path
    second.close()
    assert dev1


def test_backoff_grows_and_caps_and_resets():
    b = Backoff(base_s=0.1, cap_s=1.0, jitter=False)
    delays = [b.next_delay() for _ in range(6)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    b.reset()
    assert b.next_delay() == 0.1


def test_backoff_full_jitter_and_injected_sleep():
    slept = []
    b = Backoff(base_s=1, cap_s=8, jitter=True, rand=lambda: 0.5, sleep=lambda s, stop: slept.append(s) or False)
    assert not b.wait()
    assert not b.wait()
    assert slept == [0.5, 1.0]
