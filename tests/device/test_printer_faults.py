"""Printer faults one by one, as each printer's manual documents its status answers (issue 29): Godex ~S,CHECK
codes, TSPL <ESC>!? bit 7 and <ESC>!S, every Zebra ~HS flag and ~HQES, the detailed status asked on a fault."""
from __future__ import annotations

import time

import pytest

from packgate.device.errors import PrinterError, PrinterNotReadyError
from packgate.device.printer import detail
from packgate.device.printer.conditions import CONDITIONS, NOTICES, WARNINGS
from packgate.device.printer.driver import DETAIL_MISSES, Printer
from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.printer.status import decode
from packgate.device.profiles import get_profile

GODEX = get_profile("godex-ezpl").printer.status
TSPL = get_profile("tsc-tspl").printer.status
ZEBRA = get_profile("zebra-zpl").printer.status


# GoDEX EZPL programming manual, ~S,CHECK: "aa" = printer status information
@pytest.mark.parametrize("code, conditions", [
    ("00", ()), ("01", ("paper_out",)), ("02", ("paper_jam",)), ("03", ("ribbon_out",)), ("04", ("head_open",)),
    ("05", ("rewinder_full",)), ("06", ("memory_full",)), ("07", ("job_error",)), ("08", ("job_error",)),
    ("09", ("job_error",)), ("10", ("cutter_jam",)), ("11", ("error",)), ("13", ("label_waiting",)),
    ("20", ("paused",)), ("21", ("in_setup",)), ("22", ("in_setup",)), ("50", ("printing",)), ("60", ("printing",)),
    ("62", ("head_too_hot",)),
])
def test_godex_codes_one_by_one(code, conditions):
    status = decode(GODEX, code.encode() + b"\r\n")
    assert status.conditions == conditions
    assert status.ready == (code in ("00", "50", "60"))
    assert "unknown" not in status.detail


def test_godex_media_empty_and_media_jam_are_distinct_and_say_what_to_do():
    empty, jam = decode(GODEX, b"01\r\n"), decode(GODEX, b"02\r\n")
    assert empty.advice == ["load labels and close the print head"]
    assert jam.advice == ["clear the label path and press feed"]
    assert decode(GODEX, b"62\r\n").advice == ["let the print head cool down"]  # not "check the printer's display"
    assert decode(GODEX, b"09\r\n").detail == "code 09: syntax error"


def test_tspl_bit_7_is_other_error_per_the_manual():
    """TSC TSPL/TSPL2 Programming Manual, <ESC>!?: 80 = other error (it was read as head too hot)."""
    status = decode(TSPL, b"\x80")
    assert status.conditions == ("error",) and "other error" in status.detail
    assert decode(TSPL, b"\x84").conditions == ("paper_out", "error")


# ZPL Programming Guide, ~HS: string 1 aaa,b,c,dddd,eee,f,g,h,iii,j,k,l; string 2 mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www
IDLE = ["030,0,0,1199,000,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000", "1234,0"]


def hs(frame: int, field: int) -> bytes:
    lines = [line.split(",") for line in IDLE]
    lines[frame][field] = "1"
    return b"".join(b"\x02" + ",".join(f).encode() + b"\x03\r\n" for f in lines)


@pytest.mark.parametrize("frame, field, condition", [
    (0, 1, "paper_out"), (0, 2, "paused"), (0, 5, "buffer_full"), (0, 6, "diagnostic_mode"),
    (0, 7, "partial_format"), (0, 9, "corrupt_ram"), (0, 10, "head_too_cold"), (0, 11, "head_too_hot"),
    (1, 2, "head_open"), (1, 3, "ribbon_out"), (1, 7, "label_waiting"),
])
def test_every_zebra_hs_flag(frame, field, condition):
    status = decode(ZEBRA, hs(frame, field))
    assert status.conditions == (condition,)
    assert status.ready == (condition in WARNINGS)


def test_zebra_hs_fields_that_are_settings_are_not_faults():
    """q (thermal transfer mode), r (print mode), s (print width mode), v (format while printing) are settings."""
    assert decode(ZEBRA, hs(1, 4)).ready and decode(ZEBRA, b"".join(
        b"\x02" + line.encode() + b"\x03\r\n" for line in IDLE)).conditions == ()


# ZPL Programming Guide, ~WQ/~HQ ES examples: "error nibble 1 is 5 (head open 4 + media out 1)", "B = cutter
# fault 8 + ribbon out 2 + media out 1"; the warning "clean printhead" is 2.
@pytest.mark.parametrize("errors, warnings, conditions", [
    ("1 00000000 00000005", "1 00000000 00000002", ("paper_out", "head_open", "clean_head")),
    ("1 00000000 0000000B", "0 00000000 00000000", ("paper_out", "ribbon_out", "cutter_jam")),
    ("1 00000000 00000010", "0 00000000 00000000", ("head_too_hot",)),
    ("1 00000000 00000020", "0 00000000 00000000", ("motor_too_hot",)),
    ("1 00000000 00000040", "0 00000000 00000000", ("head_element_bad",)),
    ("1 00000000 00000080", "0 00000000 00000000", ("head_fault",)),
    ("1 00000000 00000200", "0 00000000 00000000", ("head_fault",)),
    ("1 00000000 00000100", "0 00000000 00000000", ("firmware_error",)),
    ("0 00000000 00000000", "1 00000000 00000008", ("media_low",)),
    ("0 00000000 00000000", "1 00000000 00000005", ("replace_head", "calibrate_media")),
])
def test_zebra_hqes(errors, warnings, conditions):
    raw = (b"\x02\r\n PRINTER STATUS\r\n   ERRORS:         " + errors.encode() + b"\r\n   WARNINGS:       "
           + warnings.encode() + b"\r\n\x03")
    status = detail.decode(ZEBRA.detail, raw)
    assert status.conditions == conditions
    assert status.ready == all(c in WARNINGS for c in conditions)


def test_hqes_unknown_error_bits_are_reported_not_dropped():
    raw = b"\x02PRINTER STATUS\r\nERRORS: 1 00000000 00100000\r\nWARNINGS: 0 00000000 00000000\r\n\x03"
    status = detail.decode(ZEBRA.detail, raw)
    assert status.conditions == ("error",) and "0x00100000" in status.detail
    with pytest.raises(PrinterError, match="ERRORS and WARNINGS"):
        detail.decode(ZEBRA.detail, b"\x02PRINTER STATUS\r\n\x03")


# TSC TSPL/TSPL2 Programming Manual, <ESC>!S: <STX> 4 bytes <ETX><CR><LF>; byte 2 warnings as in Brother's FBPL 7.8
@pytest.mark.parametrize("body, conditions", [
    (b"@@@@", ()), (b"@@A@", ("head_too_hot",)), (b"@@B@", ("motor_too_hot",)), (b"@@D@", ("head_fault",)),
    (b"@@H@", ("cutter_jam",)), (b"@@P@", ("memory_full",)), (b"@@@A", ("paper_out",)), (b"@@@B", ("paper_jam",)),
    (b"@@@D", ("ribbon_out",)), (b"@@@H", ("ribbon_jam",)), (b"@@@`", ("head_open",)), (b"L@@@", ("label_waiting",)),
    (b"`@@@", ("paused",)), (b"@A@@", ("media_low",)), (b"@B@@", ("ribbon_low",)), (b"E@A@", ("head_too_hot", "error")),
    (b"P@@@", ("printing",)),
])
def test_tspl_esc_s(body, conditions):
    status = detail.decode(TSPL.detail, b"\x02" + body + b"\x03\r\n")
    assert status.conditions == conditions


def test_tspl_esc_s_malformed_is_a_clear_error():
    with pytest.raises(PrinterError, match="4 bytes"):
        detail.decode(TSPL.detail, b"\x02@@\x03\r\n")


@pytest.fixture
def tspl_printer():
    profile = get_profile("tsc-tspl")
    with PrinterEmulator(profile) as emu:
        url = f"tcp://127.0.0.1:{emu.start_tcp(0)}"
        with Printer(url, profile, timeout=1.5) as printer:
            yield emu, printer


def test_on_a_fault_the_detailed_status_names_it(tspl_printer):
    """<ESC>!? says only 0x80 "other error"; <ESC>!S says the head is too hot: one fault, with its fix."""
    emu, printer = tspl_printer
    emu.set_state("head_too_hot")
    status = printer.status()
    assert status.conditions == ("head_too_hot",) and status.advice == ["let the print head cool down"]
    assert status.raw.startswith(b"\x80") and emu.detail_queries == 1
    with pytest.raises(PrinterNotReadyError, match="print head cool down"):
        printer.print(get_profile("tsc-tspl").printer.test_job)


def test_a_ready_printer_is_asked_the_detail_only_when_wanted(tspl_printer):
    emu, printer = tspl_printer
    emu.set_state("ribbon_low")
    assert printer.status().ready and emu.detail_queries == 0
    status = printer.status(detail=True)
    assert status.ready and status.notices == ("ribbon_low",) and emu.detail_queries == 1


def test_old_firmware_without_the_detailed_query_keeps_the_short_status(tspl_printer):
    emu, printer = tspl_printer
    emu.old_firmware = True
    emu.set_state("paper_out")
    started = time.monotonic()
    first = printer.status()
    assert first.conditions == ("paper_out",) and "no answer to the detailed status query" in first.detail
    assert time.monotonic() - started < 1.5
    for _ in range(DETAIL_MISSES - 1):  # a late answer is no reason to stop: asked until it missed DETAIL_MISSES times
        assert printer.status().conditions == ("paper_out",)
    assert emu.detail_queries == DETAIL_MISSES
    last = printer.status()
    assert last.conditions == ("paper_out",) and emu.detail_queries == DETAIL_MISSES  # not asked again on this connection


@pytest.mark.parametrize("name", ["zebra-zpl", "tsc-tspl", "godex-ezpl"])
def test_every_condition_through_the_emulator_is_named_or_still_a_fault(name):
    profile = get_profile(name)
    spec = profile.printer.status
    nameable = set(spec.flags) | set(spec.bits) | {c for cs in spec.codes.values() for c in cs}
    if spec.detail is not None:
        nameable |= set(spec.detail.errors) | set(spec.detail.warnings) | set(spec.detail.bits) | \
            {c for cs in spec.detail.byte_codes.values() for c in cs}
    with PrinterEmulator(profile) as emu:
        with Printer(f"tcp://127.0.0.1:{emu.start_tcp(0)}", profile) as printer:
            for condition in CONDITIONS:
                emu.set_state(condition)
                status = printer.status(detail=True)
                if condition in nameable:
                    assert condition in status.conditions, (condition, status)
                if condition not in WARNINGS:
                    assert not status.ready, (condition, status)  # never a fault read as ready
                elif condition in NOTICES and condition in nameable:
                    assert status.ready and condition in status.notices, (condition, status)


def test_cli_printer_status_decodes_answers_and_asks_printers():
    import json

    from click.testing import CliRunner

    from packgate.device.cli import device

    run = CliRunner().invoke
    r = run(device, ["printer-status", "--profile", "godex-ezpl", "--hex", "36 32 0d 0a"])  # "62": head overheat
    assert r.exit_code == 1 and json.loads(r.output)["conditions"] == ["head_too_hot"]
    r = run(device, ["printer-status", "--profile", "tsc-tspl", "--hex", "80", "--detail-hex", "02 40 40 41 40 03 0d 0a"])
    assert json.loads(r.output)["advice"] == ["let the print head cool down"]
    r = run(device, ["printer-status", "--profile", "tsc-tspl", "--hex", "00", "--detail-hex", "02 40 42 40 40 03 0d 0a"])
    assert r.exit_code == 0 and json.loads(r.output)["notices"] == ["ribbon_low"]
    assert run(device, ["printer-status", "--profile", "godex-ezpl", "--hex", "zz"]).exit_code == 2
    assert run(device, ["printer-status", "--profile", "godex-ezpl"]).exit_code == 2
    profile = get_profile("zebra-zpl")
    with PrinterEmulator(profile) as emu:
        emu.set_state("corrupt_ram")
        r = run(device, ["printer-status", "--profile", "zebra-zpl", "--port", f"tcp://127.0.0.1:{emu.start_tcp(0)}"])
    assert r.exit_code == 1 and json.loads(r.output)["conditions"] == ["corrupt_ram"], r.output
