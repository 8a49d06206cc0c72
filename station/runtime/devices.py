"""The station's devices: one reader object per configured device, each owning its port.

Readers call back from their own threads; ``Devices`` only routes what they report to the
station (badge UIDs, interpreted scans, scale readings, unusable input, connection states).
Which reader class serves a device is decided here, once, from the configuration.

The log gets one line (naming the station) when a device's state changes, with what IT can do about a problem,
and while it stays a problem one summary every ``SUMMARY_S``, never one per retry. Stopping the station is no
problem: the readers' last report is logged at INFO as "stopped".
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from packgate.device.state_changes import StateChanges
from packgate.station.core import device_states, texts
from packgate.station.parts import device_id, site_patterns
from packgate.station.runtime.config import Config

log = logging.getLogger("packgate.devices")



class Devices:
    SUMMARY_S = 300.0  # a device that stays a problem: one log line this often, not one per retry

    def __init__(self, cfg: Config, *, on_badge: Callable[[str, str], None], on_scan: Callable[[Any, str], None],
                 on_reading: Callable[[Any], None], on_state: Callable[[str, str, str | None, str | None], None],
                 on_bad_input: Callable[[str, str, str], Any] | None = None,
                 scale_port: str | None = None, scanner_port: str | None = None, badge_reader: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.cfg = cfg
        self._monotonic = monotonic
        self._changes: dict[str, StateChanges] = {}  # device name -> its log lines' rule
        self._on_badge = on_badge
        self._on_scan = on_scan
        self._on_reading = on_reading
        self._on_state = on_state
        self._on_bad_input = on_bad_input or (lambda raw, reason, device: None)
        self.patterns = site_patterns(cfg)
        self.readers: dict[str, Any] = {}
        self.states: dict[str, dict] = {}
        self._ports = {"scale": scale_port or cfg["scale.port"], "scanner": scanner_port or cfg["scanner.port"],
                       "badge": badge_reader or cfg["badge.reader"], "camera": cfg["camera.source"]}
        self.device_ids = {name: device_id(cfg["station.id"], name) for name in ("scale", "scanner", "badge", "kiosk", "camera")}
        self._stopping = False

    def _state(self, name: str) -> Callable[[str, str | None], None]:
        def report(state: str, detail: str | None = None) -> None:
            port = self._ports.get(name)
            self.states[name] = device_states.entry(state, detail, port)
            self._log_state(name, self.states[name])
            self._on_state(name, state, detail, port)
        return report

    def _log_state(self, name: str, entry: dict) -> None:
        """One line when what a person sees changes; while it stays a problem, one summary every ``SUMMARY_S``
        (``StateChanges``, the rule ``packgate device read`` follows too)."""
        if entry["reported"] == "starting":
            return  # not a change anybody needs to read; the reader's first report is
        changes = self._changes.get(name)
        if changes is None:
            changes = self._changes[name] = StateChanges(self.SUMMARY_S, self._monotonic)
        note = changes.note("stopped" if self._stopping else entry["state"])
        if note is None:
            return
        fields = {"port": entry["port"], "detail": entry["detail"] or ""}
        extra = {"station": self.cfg["station.id"], "fields": fields}
        if self._stopping:
            if note.kind == "change":
                log.info("%s stopped", name, extra=extra)
            return
        said = texts.text("en", f"device:{note.state}", note.state)
        if note.kind == "summary":
            log.warning("%s still %s for %d s (%d reports since the last line)", name, said, note.seconds,
                        note.reports, extra=extra)
        elif device_states.problem(note.state):
            log.warning("%s %s: %s", name, said, device_states.IT_FIX.get(note.state, "see /healthz"), extra=extra)
        else:
            log.info("%s %s", name, said, extra=extra)

    def _scanned(self, name: str) -> Callable[[Any], None]:
        return lambda scan: self._on_scan(scan, self.device_ids[name])

    def _build_scale(self) -> Any:
        from packgate.device.profiles import get_profile
        from packgate.device.scale.reader import ScaleReader

        return ScaleReader(port=self._ports["scale"], profile=get_profile(self.cfg["scale.profile"]),
                           on_reading=self._on_reading, on_state=self._state("scale"))

    def _build_scanner(self) -> Any:
        cfg, gs = self.cfg, self.cfg["scanner.gs_substitute"] or None
        if cfg["scanner.kind"] == "hid":
            from packgate.device.keyboard.hid import HidScanner

            return HidScanner(self._ports["scanner"], self._scanned("scanner"), layout=cfg["scanner.layout"],
                              gs_substitute=gs, patterns=self.patterns, on_state=self._state("scanner"))
        from packgate.device.scanner.serial import SerialScanner

        return SerialScanner(self._ports["scanner"], suffix=cfg["scanner.suffix"], on_scan=self._scanned("scanner"),
                             patterns=self.patterns, gs_substitute=gs, on_state=self._state("scanner"))

    def _build_badge(self) -> Any:
        cfg = self.cfg
        device_id = self.device_ids["badge"]
        if cfg["badge.wedge_format"]:
            from packgate.device.badge.wedge import WedgeBadgeReader

            return WedgeBadgeReader(self._ports["badge"], lambda uid: self._on_badge(uid, device_id),
                                    cfg["badge.wedge_format"], layout=cfg["badge.layout"],
                                    on_error=lambda raw, reason: self._on_bad_input(raw, reason, device_id),
                                    on_state=self._state("badge"))
        from packgate.device.badge.nfc import BadgeReader

        return BadgeReader(self._ports["badge"], on_badge=lambda uid: self._on_badge(uid, device_id),
                           on_state=self._state("badge"))

    def _build_camera(self) -> Any:
        from packgate.device.camera.reader import CameraScanner

        return CameraScanner(self._ports["camera"], self._scanned("camera"), decoder=self.cfg["camera.decoder"],
                             patterns=self.patterns, on_state=self._state("camera"),
                             snapshot_dir=self.cfg.data_dir / "photos", playback=self.cfg["camera.playback"])

    # device name -> (enabled key, builder)
    BUILDERS = {"scale": ("scale.enabled", _build_scale), "scanner": ("scanner.enabled", _build_scanner),
                "badge": ("badge.enabled", _build_badge), "camera": ("camera.enabled", _build_camera)}

    def build(self) -> dict[str, Any]:
        for name, (enabled, builder) in self.BUILDERS.items():
            if self.cfg[enabled] and name not in self.readers:
                self.readers[name] = builder(self)
        return self.readers

    def start(self) -> None:
        for name, reader in self.build().items():
            if name not in self.states:  # every configured device has a state from the start
                self._state(name)("starting", None)
            reader.start()

    def stop(self) -> None:
        self._stopping = True  # what the readers report now is the stop, not a device going away
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
