"""``packgate demo``: the station on emulated devices and a seeded reference upstream, all on 127.0.0.1.

The emulators speak the real bytes: an MT-SICS scale and a serial barcode scanner on ptys, an NFC
reader through nfcpy's udp driver. The kiosk's "demo devices" panel drives the emulators, so every
press goes through the same reader code a real device would.
"""
from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from biip.gs1_messages import GS1Message

from packgate.device.badge.emulator import BadgeEmulator
from packgate.device.clock import Clock
from packgate.device.codes import canonical_badge
from packgate.device.emulation.ports import free_udp_port
from packgate.device.emulation.pty import PtyPair
from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.profiles import get_profile
from packgate.device.scale.emulator import ScaleEmulator
from packgate.device.scanner.emulator import ScannerEmulator
from packgate.device.waker import Waker
from packgate.station.core import texts, words
from packgate.station.demo.web import register_demo
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import Config, validate
from packgate.sync.upstream import demo_data
from packgate.sync.upstream.server import start_in_thread

log = logging.getLogger("packgate.demo")

SCALE_PROFILE = "mettler-mt-sics"
PRINTER_PROFILE = "zebra-zpl"




def gs1_item(gtin14: str, lot: str | None = None, expires: date | None = None, serial: str | None = None) -> str:
    """The raw GS1 element string a scanner sends for an item (GS after variable fields)."""
    hri = f"(01){gtin14}"
    if expires:
        hri += f"(17){expires:%y%m%d}"
    if lot:
        hri += f"(10){lot}"
    if serial:
        hri += f"(21){serial}"
    return GS1Message.parse_hri(hri).value


@dataclass
class DemoWorld:
    """The reference data the demo was seeded with, for building codes and checking results."""

    today: date
    reference: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reference = demo_data.demo_reference(self.today)
        self.skus = {s["sku"]: s for s in self.reference["skus"]}
        self.orders = {o["order_id"]: o for o in self.reference["orders"]}

    def lots(self, sku: str) -> list[dict]:
        return sorted((l for l in self.reference["lots"] if l["sku"] == sku), key=lambda l: l["produced"])

    def item_code(self, sku: str, lot_index: int = 0, serial: str | None = None) -> str:
        """GS1 code for ``sku`` (lot number ``lot_index`` by production date; -1 = newest) or a plain GTIN."""
        info = self.skus[sku]
        lots = self.lots(sku)
        if info["lot_policy"] == "NONE" or not lots:
            if serial:
                return gs1_item(info["gtin"], serial=serial)
            return info["gtin"][1:] if info["gtin"].startswith("0") else info["gtin"]
        lot = lots[lot_index]
        expires = date.fromisoformat(lot["expires"]) if lot.get("expires") else None
        return gs1_item(info["gtin"], lot["lot"], expires, serial)

    def good_lot_index(self, sku: str) -> int:
        """The lot a careful packer takes: the first usable one in FIFO/FEFO order."""
        info, lots = self.skus[sku], self.lots(sku)
        usable = [i for i, l in enumerate(lots) if not l.get("expires") or date.fromisoformat(l["expires"]) >= self.today]
        if info["lot_policy"] == "FEFO":
            usable.sort(key=lambda i: lots[i].get("expires") or "9999")
        return usable[0] if usable else 0

    def expected_g(self, order_id: str, packaging: str | None = None) -> Decimal:
        order = self.orders[order_id]
        tare = {p["code"]: Decimal(p["tare_g"]) for p in self.reference["packaging"]}[packaging or order["packaging"]]
        return tare + sum(Decimal(self.skus[l["sku"]]["unit_weight_g"]) * l["qty"] for l in order["lines"])


class DemoDevices:
    """What the kiosk's demo panel drives: badge taps, scans and weights, through the emulators."""

    def __init__(self, world: DemoWorld, scale: ScaleEmulator, scanner: ScannerEmulator, badge: BadgeEmulator):
        self.world, self.scale_emu, self.scanner_emu, self.badge_emu = world, scale, scanner, badge

    def panel(self) -> dict:
        names = {e["badge_uid"]: e for e in self.world.reference["employees"]}
        badges = [{"uid": uid, "name": names[uid]["name"], "role": names[uid]["role"]} for uid in names]
        codes: list[dict] = []
        for order in list(self.world.orders.values())[:12]:
            codes.append({"code": order["order_id"], "label": f"order {order['order_id']}"})
            for line in order["lines"]:
                sku = line["sku"]
                code = self.world.item_code(sku, self.world.good_lot_index(sku))
                codes.append({"code": _printable(code), "label": f"{order['order_id']}: {sku} {self.world.skus[sku]['name']}"})
        for sku, index, what in (("SKU-001", -1, "newest tea lot: FIFO prompt"), ("SKU-005", 0, "expired honey lot")):
            codes.append({"code": _printable(self.world.item_code(sku, index)), "label": f"{sku} {what}"})
        for p in self.world.reference["packaging"]:
            codes.append({"code": p["code"], "label": f"packaging {p['name']}"})
        return {"badges": badges, "codes": codes}

    def tap(self, uid: str) -> dict:
        uid = canonical_badge(uid)
        try:
            read = self.badge_emu.tap(uid, hold_s=0.15, timeout=4.0)
        except Exception as exc:  # noqa: BLE001 - shown to the demo user
            return {"ok": False, **_said("badge_error", error=str(exc))}
        return {"ok": read, **_said("tapped" if read else "not_seen", uid=uid)}

    def scan(self, code: str) -> dict:
        raw = _unprintable(code.strip())
        symbology = None
        if raw.startswith("("):
            try:
                raw, symbology = GS1Message.parse_hri(raw).value, "]C1"
            except Exception as exc:  # noqa: BLE001
                return {"ok": False, **_said("not_gs1", error=str(exc))}
        elif "\x1d" in raw or (raw[:2] == "01" and len(raw) > 16):
            symbology = "]C1"
        self.scanner_emu.scan(raw, symbology=symbology)
        return {"ok": True, **_said("scanned", code=code)}

    def weigh(self, grams: str) -> dict:
        try:
            value = Decimal(grams or "0")
        except InvalidOperation:
            return {"ok": False, **_said("bad_grams", grams=repr(grams))}
        self.scale_emu.set_weight(value, settle_s=0.6)
        return {"ok": True, **_said("settling", grams=value)}


def _said(key: str, **data: object) -> dict:
    """A demo panel answer in both languages, from the catalog (``demo:<key>``)."""
    source = words.DEMO[key][0]
    return {"message": texts.fill(texts.text("en", f"demo:{key}", source), data, "en"),
            "message_zh": texts.fill(texts.text("zh", f"demo:{key}", source), data, "zh")}


def _printable(raw: str) -> str:
    return raw.replace("\x1d", "<GS>")


def _unprintable(text: str) -> str:
    return text.replace("<GS>", "\x1d")


class ScanInput:
    """The writer's end of the demo scanner: a pty whose path takes typed or echoed codes
    (``echo SO-10009 > PATH``); each line goes through the scanner emulator's bytes, LF becoming its CR."""

    def __init__(self, link: Path, scanner: ScannerEmulator):
        self.pair = PtyPair(link=link)
        self.scanner = scanner
        self._stop = threading.Event()
        self._waker = Waker()  # close() wakes the thread blocked on the pty
        self._thread = threading.Thread(target=self._run, name="scan-input", daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return self.pair.path

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._waker.wait([self.pair.master_fd], None):
                continue
            data = self.pair.read(timeout=0)
            if data:
                self.scanner.write(data.replace(b"\r\n", b"\r").replace(b"\n", b"\r"))

    def close(self) -> None:
        self._stop.set()
        self._waker.wake()
        self._thread.join(2.0)
        self.pair.close()
        if not self._thread.is_alive():
            self._waker.close()


@dataclass
class DemoRig:
    world: DemoWorld
    agent: Agent
    devices: DemoDevices
    upstream_url: str
    stop_upstream: Callable[[], None]
    scale: ScaleEmulator
    scanner: ScannerEmulator
    badge: BadgeEmulator
    data_dir: Path
    cleanup_dir: bool
    scan_input: ScanInput
    printer: PrinterEmulator
    admin_token: str = ""  # the reference upstream's admin token (reads every station's confirmations)
    station_tokens: dict[str, str] = field(default_factory=dict)  # its token per station (ST01 is this rig's)

    def stop(self) -> None:
        self.agent.stop()
        for part in (self.scale.stop, self.scan_input.close, self.scanner.close, self.badge.close, self.printer.stop,
                     self.stop_upstream):
            try:
                part()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stopping a demo part failed")
        if self.cleanup_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def build_rig(*, port: int = 8080, upstream_port: int = 8765, data_dir: str | None = None, clock: Clock | None = None,
              overrides: dict[str, Any] | None = None, upstream_url: str | None = None,
              camera: bool = False) -> DemoRig:
    """Start upstream, emulators and the agent; the caller must ``stop()`` the rig. With ``upstream_url``
    (e.g. the site hub of a site demo) no upstream is started: the station uses that one. With ``camera``
    the table has a camera filming (a generated video played in a loop) and records the packing video."""
    cleanup = data_dir is None
    root = Path(data_dir or tempfile.mkdtemp(prefix="packgate-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    clock = clock or Clock()
    world = DemoWorld(clock.now().date())
    admin_token, station_tokens = "", {}

    def stop_upstream() -> None:  # the caller's upstream is the caller's to stop
        pass

    if upstream_url is None:  # our own reference upstream: a token for this station, another for admin
        station_tokens = {station: secrets.token_urlsafe(24) for station in ("ST01", "ST02")}
        station_token, admin_token = station_tokens["ST01"], secrets.token_urlsafe(24)
        upstream_url, stop_upstream = start_in_thread("127.0.0.1", upstream_port, root / "upstream.db",
                                                      seed_demo=True, today=world.today, clock=clock,
                                                      station_tokens=station_tokens, admin_token=admin_token)
        overrides = {"upstream.token": station_token, **(overrides or {})}
    scale = ScaleEmulator(get_profile(SCALE_PROFILE), Decimal(0))
    scale_path = scale.start_pty(root / "scale0")
    scanner = ScannerEmulator(root / "scanner0")
    nfc_path = f"udp:127.0.0.1:{free_udp_port()}"
    badge = BadgeEmulator(nfc_path)
    printer = PrinterEmulator(get_profile(PRINTER_PROFILE))
    printer_port = printer.start_tcp(0)
    filming: dict[str, Any] = {}
    if camera:
        from packgate.device.camera.emulator import table_scene, write_video

        source = write_video(root / "camera-table.avi", table_scene(), fps=10)
        filming = {"camera.enabled": True, "camera.source": str(source), "camera.playback": "loop"}
    cfg: Config = validate({
        "station.id": "ST01", "station.name": "Demo packing table", "station.data_dir": str(root / "station"),
        "web.port": port, "upstream.url": upstream_url, "upstream.refresh_s": 30.0,
        "scale.profile": SCALE_PROFILE, "scale.port": scale_path,
        "scanner.port": str(scanner.path), "scanner.suffix": "CR", "badge.reader": nfc_path,
        "printer.profile": PRINTER_PROFILE, "printer.port": f"tcp://127.0.0.1:{printer_port}", "printer.poll_s": 1.0,
        "label.template": "label-zpl-100x150",
        **filming,
        **(overrides or {}),
    })
    devices = DemoDevices(world, scale, scanner, badge)
    agent = Agent(cfg, clock=clock)
    register_demo(agent.app, devices)  # the demo's routes and the kiosk's panel, before the agent serves
    agent.start()
    return DemoRig(world, agent, devices, upstream_url, stop_upstream, scale, scanner, badge, root, cleanup,
                   ScanInput(root / "scan-here", scanner), printer, admin_token, station_tokens)
