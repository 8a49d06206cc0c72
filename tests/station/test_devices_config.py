"""Which reader serves each device is configuration; the site's own barcodes are configuration too."""
from __future__ import annotations

import pytest

from packgate.device.badge.nfc import BadgeReader
from packgate.device.badge.wedge import WedgeBadgeReader
from packgate.device.camera.reader import CameraScanner
from packgate.device.keyboard.emulator import keystrokes
from packgate.device.keyboard.hid import HidScanner
from packgate.device.scanner.serial import SerialScanner
from packgate.station.errors import ConfigError
from packgate.station.runtime.config import validate
from packgate.station.runtime.devices import Devices


def _devices(cfg, **callbacks):
    noop = lambda *a: None  # noqa: E731
    return Devices(cfg, on_badge=callbacks.get("on_badge", noop), on_scan=callbacks.get("on_scan", noop),
                   on_reading=noop, on_state=noop, on_bad_input=callbacks.get("on_bad_input"))


def test_default_devices_are_a_serial_scanner_and_an_nfcpy_reader():
    readers = _devices(validate({"scale.enabled": False})).build()
    assert set(readers) == {"scanner", "badge"}
    assert isinstance(readers["scanner"], SerialScanner) and isinstance(readers["badge"], BadgeReader)


def test_hid_scanner_wedge_badge_reader_and_camera_come_from_the_configuration(tmp_path):
    cfg = validate({"scale.enabled": False, "scanner.kind": "hid", "scanner.port": "/dev/input/by-id/scanner",
                    "scanner.layout": "de", "scanner.gs_substitute": "|", "badge.reader": "/dev/input/by-id/rfid",
                    "badge.wedge_format": "dec10-reversed", "camera.enabled": True, "camera.decoder": "pyzbar",
                    "station.data_dir": str(tmp_path)})
    readers = _devices(cfg).build()
    scanner, badge, camera = readers["scanner"], readers["badge"], readers["camera"]
    assert isinstance(scanner, HidScanner) and scanner.gs_substitute == "|" and scanner.grab
    assert isinstance(badge, WedgeBadgeReader) and isinstance(camera, CameraScanner)
    assert camera.snapshot_dir == tmp_path / "photos"


def test_a_wedge_badge_reader_signs_the_packer_in_and_bad_output_is_kept_for_review(make_station, h):
    station = make_station(overrides={"badge.wedge_format": "hex"})
    devices = _devices(station.cfg, on_badge=station.on_badge, on_bad_input=station.on_bad_input)
    badge = devices._build_badge()
    badge.handle_events(keystrokes(h.BADGES["packer"].lower()))  # the reader types the UID as hex + Enter
    assert station.verdict["code"] == "signed_in"
    badge.handle_events(keystrokes("NOT-A-BADGE"))
    assert station.verdict["code"] == "bad_barcode" and "NOT-A-BADGE" in station.verdict["message"]
    assert h.count(station, "rejected_input") == 1


def test_site_codes_follow_the_configuration(make_station, h):
    station = make_station(overrides={"codes.order": r"^ORD(?P<value>SO-\d+)$"})
    h.sign_in(station)
    answer = station.handle({"action": "scan", "object_id": "ORDSO-10009"})
    assert answer["code"] == "order_opened" and station.pack.order.order_id == "SO-10009"


@pytest.mark.parametrize("key, value", [("codes.order", "^SO-(\\d+$"), ("badge.wedge_format", "decimal"),
                                        ("scanner.kind", "usb"), ("camera.decoder", "zbar")])
def test_bad_device_settings_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate({key: value})


def test_an_unknown_scale_profile_is_named_at_config_check():
    with pytest.raises(ConfigError, match=r"scale\.profile: no scale profile named 'toledo-9999'"):
        validate({"scale.profile": "toledo-9999"})
