"""The station's devices: one reader object per configured device, each owning its port.

Readers call back from their own threads; ``Devices`` only routes what they report to the
station (badge UIDs, interpreted scans, scale readings, connection states).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from station.config import Config

log = logging.getLogger("packgate.devices")


class Devices:
    def __init__(self, cfg: Config, *, on_badge: Callable[[str, str], None], on_scan: Callable[[Any, str], None],
                 on_reading: Callable[[Any], None], on_state: Callable[[str, str, str | None], None],
                 scale_port: str | None = None, scanner_port: str | None = None, badge_reader: str | None = None):
        self.cfg = cfg
        self._on_badge = on_badge
        self._on_scan = on_scan
        self._on_reading = on_reading
        self._on_state = on_state
        self.readers: dict[str, Any] = {}
        self.states: dict[str, dict] = {}
        self._ports = {"scale": scale_port or cfg["scale.port"], "scanner": scanner_port or cfg["scanner.port"],
                       "badge": badge_reader or cfg["badge.reader"]}
        self.device_ids = {name: f"{cfg['station.id']}-{name}" for name in ("scale", "scanner", "badge", "kiosk", "camera")}

    def _state(self, name: str) -> Callable[[str, str | None], None]:
        def report(state: str, detail: str | None = None) -> None:
            self.states[name] = {"state": state, "detail": detail, "port": self._ports.get(name)}
            level = logging.WARNING if state in ("disconnected", "retrying") else logging.INFO
            log.log(level, "%s %s", name, state, extra={"fields": {"port": self._ports.get(name), "detail": detail or ""}})
            self._on_state(name, state, detail)
        return report

    def start(self) -> None:
        cfg = self.cfg
        if cfg["scale.enabled"]:
            from device.profiles import get_profile
            from device.scale import ScaleReader

            reader = ScaleReader(port=self._ports["scale"], profile=get_profile(cfg["scale.profile"]),
                                 on_reading=self._on_reading, on_state=self._state("scale"))
            self.readers["scale"] = reader
        if cfg["scanner.enabled"]:
            from device.scanner import SerialScanner

            self.readers["scanner"] = SerialScanner(self._ports["scanner"], suffix=cfg["scanner.suffix"],
                                                    on_scan=lambda scan: self._on_scan(scan, self.device_ids["scanner"]),
                                                    on_state=self._state("scanner"))
        if cfg["badge.enabled"]:
            from device.nfc import BadgeReader

            self.readers["badge"] = BadgeReader(self._ports["badge"],
                                                on_badge=lambda uid: self._on_badge(uid, self.device_ids["badge"]),
                                                on_state=self._state("badge"))
        if cfg["camera.enabled"]:
            from device.camera import CameraScanner

            self._ports["camera"] = cfg["camera.source"]
            self.readers["camera"] = CameraScanner(cfg["camera.source"],
                                                   on_scan=lambda scan: self._on_scan(scan, self.device_ids["camera"]),
                                                   on_state=self._state("camera"),
                                                   snapshot_dir=cfg.data_dir / "photos")
        for name, reader in self.readers.items():
            self.states.setdefault(name, {"state": "starting", "detail": None, "port": self._ports[name]})
            reader.start()

    def stop(self) -> None:
        for reader in self.readers.values():
            try:
                reader.stop()
            except Exception:  # noqa: BLE001 - stopping must go on for the other readers
                log.exception("stopping a reader failed")

    @property
    def scale(self) -> Any:
        return self.readers.get("scale")

    @property
    def camera(self) -> Any:
        """The camera, which also takes the parcel photo at pack (its SHA-256 goes into the confirmation)."""
        return self.readers.get("camera")
