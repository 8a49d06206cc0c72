"""The label gate on the kiosk page, in a browser: the Label panel follows the open carton's label (printing,
failed, printed with the picture of it, cleared once the parcel is packed), and the printer's state shows with its
problem."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import BADGES, scanner_types, shot
from playwright.sync_api import Page, expect

from packgate.station.demo.rig import DemoRig, build_rig
from packgate.station.demo.selftest import OffsetClock

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRig]:
    """The demo rig with the label gate on (label.mode = print) and the emulated Zebra."""
    r = build_rig(port=0, upstream_port=0, clock=OffsetClock(), data_dir=str(tmp_path_factory.mktemp("rig")),
                  overrides={"label.mode": "print", "upstream.refresh_s": 5.0})
    yield r
    r.stop()


def test_the_label_panel_follows_the_label_and_the_printer(new_page, rig: DemoRig) -> None:
    page: Page = new_page("/")
    expect(page.locator("#verdict")).to_have_attribute("data-status", "idle")
    rig.devices.tap(BADGES["packer"])
    expect(page.locator("#operator")).to_contain_text("Li Wei")
    scanner_types(page, "SO-10009")
    expect(page.locator("#verdict")).to_have_attribute("data-code", "order_opened")
    for line in rig.world.orders["SO-10009"]["lines"]:
        sku = line["sku"]
        scanner_types(page, rig.world.item_code(sku, rig.world.good_lot_index(sku)))
        expect(page.locator(f'#lines tr[data-sku="{sku}"] .count')).to_contain_text("1")
    expect(page.locator("#printer-state")).to_have_attribute("data-state", "connected")

    rig.printer.set_state("paper_out")
    expect(page.locator("#printer-state")).to_have_attribute("data-state", "not_ready")
    expect(page.locator("#printer-state")).to_contain_text("paper out")
    rig.scale.set_weight(rig.world.expected_g("SO-10009"), settle_s=0.3)
    expect(page.locator("#verdict")).to_have_attribute("data-code", "printer_not_ready")
    expect(page.locator("#label-state")).to_have_attribute("data-state", "failed")
    expect(page.locator("#btn-print-label")).to_be_enabled()
    expect(page.locator("#btn-pack")).to_be_disabled()  # with the label gate only the label scan packs
    shot(page, "label-paper-out")

    rig.printer.set_state()  # labels loaded: the waiting label prints by itself
    expect(page.locator("#label-state")).to_have_attribute("data-state", "verify_expected", timeout=10_000)
    expect(page.locator("#verdict")).to_have_attribute("data-code", "label_printed")
    waybill = page.locator("#label-waybill").inner_text()
    assert waybill and rig.printer.printed[-1].barcodes == [waybill]
    preview = page.locator("#label-preview")
    expect(preview).to_be_visible()
    page.wait_for_function("() => document.getElementById('label-preview').naturalWidth > 0")
    expect(page.locator("#btn-reprint")).to_be_enabled()
    shot(page, "label-printed")

    expect(page.locator("#verdict")).to_have_attribute("data-status", "ok")  # weight OK, label out: green
    expect(page.locator("#verdict-message")).to_contain_text(f"Weight OK — label {waybill} printed")

    scanner_types(page, waybill)
    expect(page.locator("#verdict")).to_have_attribute("data-code", "packed")
    # the label belonged to the order just packed: the panel is clear for the next one, the summary says it
    expect(page.locator("#label-state")).to_have_attribute("data-state", "")
    expect(page.locator("#label-waybill")).to_be_empty()
    expect(page.locator("#finished-summary")).to_contain_text("SO-10009 packed")


def test_a_printer_warning_shows_before_it_stops_the_table_and_a_fault_names_itself(new_page, rig: DemoRig) -> None:
    """Issue 29: the station's poll asks the Zebra's ~HQES; "paper near end" (warning 8) shows on the printer's
    line and the device banner while it still prints; a cutter fault (error 8, shown by ~HS only as a pause)
    shows by name with its fix."""
    page: Page = new_page("/")
    rig.printer.set_state("media_low")
    printer = page.locator("#printer-state")
    expect(printer).to_contain_text("labels running low: have a new roll ready")
    expect(printer).to_have_attribute("data-state", "connected")
    expect(page.locator("#device-alert")).to_contain_text("labels running low")
    page.get_by_role("button", name="中文").click()
    expect(printer).to_contain_text("面单纸即将用完")
    page.get_by_role("button", name="English").click()
    shot(page, "label-printer-warning")

    rig.printer.set_state("cutter_jam")
    expect(printer).to_have_attribute("data-state", "not_ready")
    expect(printer).to_contain_text("cutter jam")
    rig.printer.set_state()
    expect(printer).to_have_attribute("data-state", "connected")
    expect(page.locator("#device-alert")).to_be_hidden()
