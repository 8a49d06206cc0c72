"""Structured log lines: every line carries station= and order= (the order when one is known)."""
from __future__ import annotations

import logging
import re

import pytest

from packgate.station.runtime.logs import order_context, setup_logging

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) (\w+)\s+(\S+) station=(\S+) order=(\S+) (.*)$")


@pytest.fixture
def log_lines(capsys):
    """Call it in the test body (capsys gives each test phase its own stream): installs the packgate log
    handler on the captured stderr and returns a function parsing what was logged since."""
    root = logging.getLogger()
    level = root.level

    def start():
        setup_logging("INFO", station="ST01")

        def lines() -> list[re.Match]:
            text = capsys.readouterr().err
            parsed = [LINE.match(line) for line in text.splitlines() if line and not line.startswith((" ", "Traceback"))]
            assert parsed and all(parsed), text
            return parsed
        return lines

    yield start
    for handler in list(root.handlers):
        if getattr(handler, "_packgate", False):
            root.removeHandler(handler)
    root.setLevel(level)


def test_verdict_lines_carry_station_and_order(station, world, h, log_lines):
    log_lines = log_lines()
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10009"})
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-012")})
    lines = log_lines()
    by_code = {m.group(6).split()[1]: m for m in lines if m.group(3) == "packgate.station"}
    assert by_code["signed_in"].group(4, 5) == ("ST01", "-")
    refused = by_code["item_not_in_order"]
    assert refused.group(2) == "INFO" and refused.group(4, 5) == ("ST01", "SO-10009")
    assert 'message="SKU-012 (Ceramic mug) is not in order SO-10009' in refused.group(6)


def test_escalation_lines_carry_the_order(station, clock, world, h, log_lines):
    log_lines = log_lines()
    h.pick_order(station, world, "SO-10012")
    clock.advance(12 * 60)
    station.tick()
    fired = [m for m in log_lines() if "escalation level 1 fired" in m.group(6)]
    assert len(fired) == 1 and fired[0].group(2) == "WARNING" and fired[0].group(4, 5) == ("ST01", "SO-10012")


def test_order_context_and_fields(log_lines):
    log_lines = log_lines()
    log = logging.getLogger("packgate.test")
    with order_context("SO-10003"):
        log.info("weighing", extra={"fields": {"grams": "1234.5", "note": "two words", "empty": ""}})
    log.info("outside")
    first, second = log_lines()[-2:]
    assert first.group(5) == "SO-10003" and first.group(6) == 'weighing grams=1234.5 note="two words" empty=""'
    assert second.group(5) == "-"


def test_every_line_names_the_station_whose_thread_wrote_it(log_lines):
    """Two stations in one process (the demo's two tables): a thread started for one logs as that one."""
    import threading

    from packgate.station.runtime.logs import forget_station, station_threads

    log_lines = log_lines()
    log = logging.getLogger("packgate.test")
    done = threading.Event()
    with station_threads("ST02"):
        worker = threading.Thread(target=lambda: (done.wait(5), log.info("from a thread of ST02")))
        worker.start()
        log.info("while ST02 starts")
    log.info("the process")
    log.info("named", extra={"station": "ST07"})
    done.set()
    worker.join(5)
    forget_station("ST02")
    said = {m.group(6): m.group(4) for m in log_lines()}
    assert said == {"while ST02 starts": "ST02", "the process": "ST01", "named": "ST07", "from a thread of ST02": "ST02"}


def test_nfcpy_searching_for_a_missing_reader_is_left_to_the_badge_readers_own_line(log_lines):
    log_lines = log_lines()
    clf = logging.getLogger("nfc.clf")
    clf.setLevel(logging.INFO)  # what nfcpy sets for itself at import
    for _ in range(3):
        clf.info("searching for reader on path usb")
        clf.error("no reader available on path usb")
    clf.error("a real nfcpy problem")
    logging.getLogger("packgate.devices").warning("badge disconnected")
    said = [m.group(6) for m in log_lines()]
    assert said == ["a real nfcpy problem", "badge disconnected"]


@pytest.mark.timeout(60)
def test_a_normal_stop_is_no_warning_and_device_lines_name_their_station(tmp_path, caplog):
    from packgate.station.demo.rig import build_rig

    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path), overrides={"station.id": "ST09"})
    with caplog.at_level(logging.INFO, logger="packgate.devices"):
        caplog.clear()
        rig.stop()
    lines = [(r.levelname, r.getMessage(), getattr(r, "station", None)) for r in caplog.records if r.name == "packgate.devices"]
    assert lines and all(level == "INFO" for level, _, _ in lines), lines
    assert {message for _, message, _ in lines} <= {"scale stopped", "scanner stopped", "badge stopped"}, lines
    assert {station for _, _, station in lines} == {"ST09"}
