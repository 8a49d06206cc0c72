"""Printer profiles, status decoding, the emulator round trip over TCP and a pty, templates and the preview."""
import json
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.device.cli import device
from packgate.device.errors import LabelError, PrinterNotReadyError, PrinterTimeoutError, ProfileError
from packgate.device.printer.driver import Printer
from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.printer.label import LabelFields
from packgate.device.printer.languages import LANGUAGES, tspl, zpl
from packgate.device.printer.preview import preview
from packgate.device.printer.spec import fill
from packgate.device.printer.status import decode, encode
from packgate.device.profiles import get_profile, load_profiles

PRINTERS = sorted(n for n, p in load_profiles().items() if p.kind == "printer")
TEMPLATES = sorted(n for n, p in load_profiles().items() if p.kind == "label")
FIELDS = LabelFields(waybill="EE123456785CN", order="SO-10001", carton=1, cartons=2, weight_g=1234,
                     ship_to_name="张伟", ship_to_phone="138-1234-5678", sender="packgate 仓库", day=date(2026, 1, 5))


def test_the_three_printer_families_and_four_templates_ship():
    assert PRINTERS == ["godex-ezpl", "tsc-tspl", "zebra-zpl"]
    sizes = {(get_profile(n).template.language, get_profile(n).template.size) for n in TEMPLATES}
    assert sizes == {("zpl", "100x150"), ("zpl", "76x130"), ("tspl", "100x150"), ("tspl", "76x130")}


def test_published_status_bytes_decode():
    zebra = get_profile("zebra-zpl").printer.status
    answer = (b"\x02030,1,0,1199,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,1,0,1,2,6,0,00000000,1,000\x03\r\n"
              b"\x021234,0\x03\r\n")
    assert decode(zebra, answer).conditions == ("paper_out", "head_open")
    tsc = get_profile("tsc-tspl").printer.status
    assert decode(tsc, b"\x00").ready
    assert decode(tsc, b"\x05").conditions == ("paper_out", "head_open")  # manual: 05 = out of paper and head opened
    assert decode(tsc, b"\x10").conditions == ("paused",)
    assert decode(tsc, b"\x20").ready and decode(tsc, b"\x20").conditions == ("printing",)
    godex = get_profile("godex-ezpl").printer.status
    assert decode(godex, b"04\r\n").conditions == ("head_open",)
    unknown = decode(godex, b"77\r\n")
    assert not unknown.ready and "77" in unknown.detail


@pytest.mark.parametrize("name", PRINTERS)
@pytest.mark.parametrize("state", [(), ("paper_out",), ("head_open",), ("paused",), ("ribbon_out",)])
def test_every_state_encodes_and_decodes_back(name, state):
    spec = get_profile(name).printer.status
    status = decode(spec, encode(spec, frozenset(state)))
    assert set(state) <= set(status.conditions)
    assert status.ready == (not state)


def test_malformed_status_answer_is_a_clear_error():
    from packgate.device.errors import PrinterError

    with pytest.raises(PrinterError, match="1 of 3"):
        decode(get_profile("zebra-zpl").printer.status, b"\x02030,0,0\x03\r\n")


@pytest.fixture(params=PRINTERS)
def emulated(request):
    profile = get_profile(request.param)
    emu = PrinterEmulator(profile)
    port = emu.start_tcp(0)
    yield profile, emu, f"tcp://127.0.0.1:{port}"
    emu.stop()


def test_round_trip_over_tcp_records_bytes_and_fields(emulated):
    profile, emu, url = emulated
    with Printer(url, profile) as printer:
        assert printer.status().ready
        after = printer.print(profile.printer.test_job)
    assert after.ready
    assert emu.wait_printed(1)
    assert bytes(emu.received) == profile.printer.test_job  # status queries are not part of the job
    assert emu.printed[0].barcodes == ["PGTEST000001"]
    assert "packgate test label" in emu.printed[0].texts


def test_paper_out_refuses_then_resume_prints(emulated):
    profile, emu, url = emulated
    emu.set_state("paper_out")
    with Printer(url, profile) as printer:
        with pytest.raises(PrinterNotReadyError, match="paper out") as err:
            printer.print(profile.printer.test_job)
        assert "paper_out" in err.value.status.conditions
        assert emu.received == b""  # nothing was sent
        printer.print(profile.printer.test_job, check=False)  # sent anyway: the printer holds it
        time.sleep(0.2)
        assert emu.printed == [] and len(emu.pending) == 1
        emu.set_state()
        assert emu.wait_printed(1)
        assert printer.status().ready


@pytest.mark.parametrize("state", ["head_open", "paused"])
def test_head_open_and_paused_are_reported(emulated, state):
    profile, emu, url = emulated
    emu.set_state(state)
    with Printer(url, profile) as printer:
        status = printer.status()
    assert state in status.conditions and not status.ready and status.advice


def test_silent_printer_times_out():
    profile = get_profile("zebra-zpl")
    with PrinterEmulator(profile) as emu:
        port = emu.start_tcp(0)
        emu.mute = True
        started = time.monotonic()
        with Printer(f"tcp://127.0.0.1:{port}", profile, timeout=0.3) as printer:
            with pytest.raises(PrinterTimeoutError, match="no status answer"):
                printer.status()
        assert time.monotonic() - started < 2


def test_a_host_that_connects_again_is_answered_while_its_old_connection_is_open():
    """The emulator listens beside its client: a new connection is taken at once, not when the old one next
    sends or the emulator's idle wait runs out (here 30 s, past the host's 2 s timeout)."""
    profile = get_profile("zebra-zpl")
    with PrinterEmulator(profile) as emu:
        emu.IDLE_WAIT_S = 30.0
        url = f"tcp://127.0.0.1:{emu.start_tcp(0)}"
        with Printer(url, profile, timeout=2) as first:
            assert first.status().ready
            with Printer(url, profile, timeout=2) as second:
                assert second.status().ready


def test_round_trip_over_a_pty_as_serial_and_as_usb_printer_class():
    profile = get_profile("tsc-tspl")
    for scheme in ("serial:", "usb:"):
        with PrinterEmulator(profile) as emu:
            path = emu.start_pty()
            with Printer(scheme + path, profile) as printer:
                printer.print(profile.printer.test_job)
            assert emu.wait_printed(1) and emu.printed[0].barcodes == ["PGTEST000001"]


def test_unlisted_transport_and_wrong_kind_are_refused():
    from packgate.device.errors import PrinterError

    with pytest.raises(PrinterError, match="not a printer"):
        Printer("tcp://127.0.0.1:1", get_profile("mettler-mt-sics"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_fills_prints_and_previews_back_to_the_waybill(name):
    template = get_profile(name).template
    job = fill(template, FIELDS)
    printer = get_profile("zebra-zpl" if template.language == "zpl" else "tsc-tspl")
    with PrinterEmulator(printer) as emu:
        port = emu.start_tcp(0)
        with Printer(f"tcp://127.0.0.1:{port}", printer) as p:
            p.print(job)
        assert emu.wait_printed(1)
    printed = emu.printed[0]
    assert printed.barcodes == ["EE123456785CN"]
    assert {"张伟", "SO-10001", "1/2", "1.234 kg", "2026-01-05", "*******5678"} <= set(printed.texts)
    assert "138-1234-5678" not in " ".join(printed.texts)  # only the last 4 digits of the phone
    png = preview(job, template.language)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (printed.label.height, printed.label.width)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == ["EE123456785CN"]


@pytest.mark.parametrize("language", ["zpl", "tspl"])
@pytest.mark.parametrize("evil", ['A^XZ^XA^FO0,0^FDX^FS', 'A~HS~JR', 'x"\n PRINT 9', 'a_5E', 'q"BOX 0,0,9,9,9"'])
def test_a_field_can_never_inject_a_command(language, evil):
    name = next(n for n in TEMPLATES if get_profile(n).template.language == language)
    template = get_profile(name).template
    fields = LabelFields(**{**FIELDS.__dict__, "ship_to_name": evil.replace("\n", "")})
    job = fill(template, fields)
    label = LANGUAGES[language].parse(LANGUAGES[language].split(job)[0][0], 203)
    assert evil.replace("\n", "") in label.texts  # printed as text, not obeyed
    clean = LANGUAGES[language].parse(LANGUAGES[language].split(fill(template, FIELDS))[0][0], 203)
    assert len(label.elements) == len(clean.elements) and label.copies == clean.copies


@pytest.mark.parametrize("bad", ["line\r\nPRINT 1", "esc\x1b!?", "stx\x02", "del\x7f"])
def test_control_characters_are_refused_naming_the_field(bad):
    template = get_profile("label-tspl-100x150").template
    with pytest.raises(LabelError, match="ship_to_name.*control character"):
        fill(template, LabelFields(**{**FIELDS.__dict__, "ship_to_name": bad}))


def test_templates_with_placeholders_outside_a_field_are_refused(tmp_path):
    base = ('name = "{n}"\nkind = "label"\nvendor = "v"\nnotes = "n"\nmodels = ["m"]\nlanguage = "{lang}"\n'
            'width_mm = 100\nheight_mm = 150\ndpi = 203\nbody = """{body}"""\n')
    (tmp_path / "bad-zpl.toml").write_text(base.format(n="bad-zpl", lang="zpl", body="^XA^CI28^FO1,1^FD{order}^FS^XZ"))
    with pytest.raises(ProfileError, match="outside a"):
        load_profiles(tmp_path)
    (tmp_path / "bad-zpl.toml").unlink()
    (tmp_path / "bad-tspl.toml").write_text(base.format(n="bad-tspl", lang="tspl", body="TEXT 1,1,\"3\",0,1,1,{order}\nPRINT 1\n"))
    with pytest.raises(ProfileError, match="inside a quoted"):
        load_profiles(tmp_path)


def test_printer_profile_validation_names_the_key(tmp_path):
    text = Path(get_profile("tsc-tspl").source).read_text().replace("paused = 4", "paused = 9")
    (tmp_path / "tsc-tspl.toml").write_text(text)
    with pytest.raises(ProfileError, match="status.bits.paused"):
        load_profiles(tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["zpl", "tspl", "ezpl"]))
def test_parsers_never_crash_on_garbage(data, language):
    lang = LANGUAGES[language]
    for job in lang.split(data)[0] or [data]:
        try:
            lang.parse(job, 203)
        except LabelError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_any_field_text_is_escaped_or_refused(text):
    for language, module in (("zpl", zpl), ("tspl", tspl)):
        try:
            safe = module.escape("sender", text)
        except LabelError:
            continue
        if language == "zpl":
            assert "^" not in safe and "~" not in safe
        else:
            assert '"' not in safe.replace('\\["]', "")


def test_cli_printers_print_test_and_preview(tmp_path):
    runner = CliRunner()
    result = runner.invoke(device, ["printers"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["name"] for r in rows] == PRINTERS
    assert next(r for r in rows if r["name"] == "zebra-zpl")["templates"] == ["label-zpl-100x150", "label-zpl-76x130"]
    with PrinterEmulator(get_profile("zebra-zpl")) as emu:
        port = emu.start_tcp(0)
        ok = runner.invoke(device, ["print-test", "--profile", "zebra-zpl", "--port", f"tcp://127.0.0.1:{port}"])
        assert ok.exit_code == 0 and json.loads(ok.output)["printed"] is True
        emu.set_state("head_open")
        bad = runner.invoke(device, ["print-test", "--profile", "zebra-zpl", "--port", f"tcp://127.0.0.1:{port}"])
        assert bad.exit_code == 1 and "head open" in json.loads(bad.output)["error"]
    out = tmp_path / "label.png"
    job = fill(get_profile("label-zpl-100x150").template, FIELDS)
    shown = runner.invoke(device, ["preview", "--language", "zpl", "-o", str(out)], input=job)
    assert shown.exit_code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
